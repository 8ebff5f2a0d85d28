"""Run a benchmark step in a child process: its JSON result and the peak memory of its tree.

Each step runs in a fresh process so that its peak memory is its own. Peak
memory is the resident set size of the child and all its workers together,
sampled every 50 ms with psutil.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time


def measure(cmd: list[str], *, cwd: str | None = None) -> tuple[dict, float]:
    """Run ``cmd``; returns the JSON object on its last line of stdout and the peak RSS of its
    process tree in MB. Raises SystemExit naming the step if it fails."""
    import psutil

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=cwd)
    peak, ps = 0, psutil.Process(proc.pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [ps, *ps.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    output = proc.communicate()[0]
    done.set()
    thread.join()
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(cmd)}")
    return json.loads(output.strip().splitlines()[-1]), peak / 2**20
