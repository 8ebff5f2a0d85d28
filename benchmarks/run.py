"""Every benchmark of the project at one size, into one Markdown file.

Runs, each in its own processes: feature extraction against the thesis's loop
(``extract.py``), training throughput and memory against the thesis's way
(``train.py``), the IEMOCAP-size pipeline (``scale.py``), and ``serlib demo``
from an empty data folder. The README's figures come from its output.

    python benchmarks/run.py --size small|iemocap [--out benchmarks/RESULTS.md] [--only a,b]

``small`` takes about 10 minutes on 2 cores; ``iemocap`` about 25.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import _measure  # noqa: E402

#: What each size runs. Training throughput does not depend on the corpus size, and the
#: thesis's way materialises float32 images of the whole training set, so it stays small.
SIZES = {
    "small": {"extract": ["--utterances", "1000"],
              "train": ["--utterances", "1500", "--epochs", "2"],
              "scale": ["--turns", "2000", "--epochs", "1"]},
    "iemocap": {"extract": ["--utterances", "10039"],
                "train": ["--utterances", "1500", "--epochs", "4"],
                "scale": ["--turns", "10039", "--epochs", "1"]},
}
BENCHMARKS = ("extract", "train", "scale", "demo")


def demo_child(data: str) -> None:
    """Child process: ``serlib demo`` into an empty folder, then its wall time as JSON."""
    from serlib.demo import DemoConfig, run_demo

    start = time.perf_counter()
    run_demo(DemoConfig(data_dir=Path(data)), progress=False)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def run_script(name: str, args: list[str]) -> str:
    """A benchmark script's Markdown output."""
    r = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *args], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise SystemExit(f"benchmarks/{name}.py failed:\n{r.stderr[-2000:]}")
    return r.stdout.strip()


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--_demo":
        return demo_child(sys.argv[2])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=list(SIZES), default="small")
    p.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    p.add_argument("--only", default=",".join(BENCHMARKS),
                   help=f"a comma-separated subset of {', '.join(BENCHMARKS)}")
    args = p.parse_args()
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        p.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    import torch

    sections = [f"# Benchmarks ({args.size})", "",
                f"`python benchmarks/run.py --size {args.size}` on {platform.platform()}, "
                f"{os.cpu_count()} cores, Python {platform.python_version()}, torch "
                f"{torch.__version__}, "
                f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}."]
    summary = ["", "| benchmark | wall time |", "|---|---|"]
    titles = {"extract": "Feature extraction", "train": "Training throughput and memory",
              "scale": "The pipeline at IEMOCAP size", "demo": "`serlib demo` from scratch"}
    for name in chosen:
        start = time.perf_counter()
        print(f"running {name} ...", flush=True)
        if name == "demo":
            with tempfile.TemporaryDirectory() as tmp:
                result, peak = _measure.measure([sys.executable, __file__, "--_demo", tmp])
            text = (f"synthesize 1,500 utterances, extract, 5-fold FCN+GAP (10 epochs, "
                    f"128 px), report: {result['seconds']:.0f} s, peak memory {peak:.0f} MB.")
        else:
            text = run_script(name, SIZES[args.size][name])
        seconds = time.perf_counter() - start
        sections += ["", f"## {titles[name]}", "", text]
        summary.append(f"| {titles[name]} | {seconds / 60:.1f} min |")
        print(text, flush=True)
    args.out.write_text("\n".join(sections[:3] + summary + sections[3:]) + "\n")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
