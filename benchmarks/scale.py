"""The whole pipeline at the size of IEMOCAP: synthesize -> extract -> one fold -> report.

Each stage runs in its own process so that its wall time and peak memory (the
resident set of the process and its workers) are its own. The default is an
IEMOCAP-size corpus: 10,039 turns in IEMOCAP's layout and emotion frequencies,
indexed with ``full-4`` (about 5,500 utterances, 10 speakers), ``logspec``
features, one fold of FCN+GAP (test 1M, validation 1F) at the thesis's 256-pixel
images, and the report of that fold.

    python benchmarks/scale.py [--turns 10039] [--epochs 1] [--image_size 256] [--folds 1M|all]

On a GPU the fold stage compiles the model and reports the GPU's utilisation;
the thesis's full run is ``--folds all --epochs 100``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _measure  # noqa: E402

VAL_ID, TEST_ID = "1F", "1M"


def stage_synth(work: Path, turns: int) -> dict:
    from serlib.corpora import synthesize

    start = time.perf_counter()
    synthesize(work / "corpus", "iemocap", turns, seed=0, progress=False)
    return {"seconds": time.perf_counter() - start, "turns": turns}


def stage_extract(work: Path) -> dict:
    from serlib.corpora import index_corpus
    from serlib.extract import extract_features
    from serlib.features import FeatureConfig, load_features

    start = time.perf_counter()
    index = index_corpus("iemocap", work / "corpus", "full-4", progress=False)
    extract_features(index, FeatureConfig(), work / "store", progress=False)
    seconds = time.perf_counter() - start
    store = load_features(work / "store")
    disk = sum(p.stat().st_size for p in (work / "store").iterdir())
    return {"seconds": seconds, "utterances": len(index.table),
            "hours": float(index.table["duration_s"].sum() / 3600),
            "segments": int(store.meta["shape"][0]), "store_mb": disk / 2**20}


class GpuUtilisation:
    """Samples the GPU's utilisation (%) with nvidia-smi every half second, while active."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.wait(0.5):
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu",
                                      "--format=csv,noheader,nounits", "-i", "0"],
                                     capture_output=True, text=True, timeout=5).stdout
                self.samples.append(float(out.split()[0]))
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                return

    def __enter__(self) -> GpuUtilisation:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.samples)) if self.samples else None


def stage_fold(work: Path, epochs: int, image_size: int, folds: str) -> dict:
    import torch

    from serlib.config import TrainConfig
    from serlib.cv import run_cv
    from serlib.features import load_features

    store = load_features(work / "store")
    gpu = torch.cuda.is_available()
    config = TrainConfig(ser_model="alexnet_gap", num_epochs=epochs, batch_size=64,
                         image_size=image_size, compile=gpu)
    stamps: list[tuple[str, float]] = []  # ("fold" or "epoch", time): epochs follow their fold
    start = time.perf_counter()

    def log(line: str) -> None:
        kind = "epoch" if line.lstrip().startswith("epoch") else \
            "fold" if line.startswith("[fold") else None
        if kind:
            stamps.append((kind, time.perf_counter()))

    chosen = None if folds == "all" else folds.split(",")
    with GpuUtilisation() as util:
        run_cv(store, "5fold", config, work / "cv", folds=chosen, progress=False, log=log)
    seconds = time.perf_counter() - start
    epoch_s = float(np.median([t - stamps[i - 1][1] for i, (kind, t) in enumerate(stamps)
                               if kind == "epoch" and i > 0]))
    train = [s for s in store if s not in (VAL_ID, TEST_ID)]
    segments = sum(len(store[s].segments) for s in train)
    c, f, t = store.meta["shape"][1:]
    result = json.loads((work / "cv" / f"fold-r0-{TEST_ID}.json").read_text())
    height, width = image_size, round(image_size * t / f)
    device = torch.cuda.get_device_name(0) if gpu else f"cpu ({os.cpu_count()} cores)"
    return {"seconds": seconds, "epochs": epochs, "folds": folds, "device": device,
            "gpu_util": util.mean, "train_segments": segments,
            "epoch_s": epoch_s, "seg_s": segments / epoch_s,
            "train_set_mb": segments * c * f * t / 2**20,
            "float32_images_mb": segments * 3 * height * width * 4 / 2**20,
            "test_wa": result["test"]["wa"], "test_ua": result["test"]["ua"]}


def stage_report(work: Path) -> dict:
    from serlib.report import write_report

    start = time.perf_counter()
    written = write_report([work / "cv"], work / "report", echo=False)
    return {"seconds": time.perf_counter() - start, "files": len(written["figures"]) + 3}


def run(work: Path, turns: int, epochs: int, image_size: int, folds: str) -> dict:
    """Every stage in a child process; returns ``{stage: (result, peak_mb)}``."""
    me = [sys.executable, __file__, "--_stage"]
    return {
        "synth": _measure.measure([*me, "synth", str(work), str(turns)]),
        "extract": _measure.measure([*me, "extract", str(work)]),
        "fold": _measure.measure([*me, "fold", str(work), str(epochs), str(image_size),
                                  folds]),
        "report": _measure.measure([*me, "report", str(work)]),
    }


def markdown(r: dict) -> str:
    (s, s_mb), (e, e_mb), (f, f_mb), (rep, r_mb) = (r[k] for k in ("synth", "extract", "fold",
                                                                  "report"))
    lines = [f"IEMOCAP-size pipeline: {s['turns']} synthetic turns, `full-4`: {e['utterances']} "
             f"utterances, {e['hours']:.1f} h, {e['segments']} segments; {os.cpu_count()} cores.",
             "", "| stage | wall time | peak memory | figures |", "|---|---|---|---|",
             f"| synthesize | {s['seconds']:.0f} s | {s_mb:.0f} MB | "
             f"{s['turns'] / s['seconds']:.0f} turns/s |",
             f"| index + extract `logspec` | {e['seconds']:.0f} s | {e_mb:.0f} MB | "
             f"{e['utterances'] / e['seconds']:.0f} utterances/s; store {e['store_mb']:.0f} MB "
             "on disk (float16) |",
             f"| folds {f['folds']}, FCN+GAP, {f['epochs']} epoch(s), {f['device']} | "
             f"{f['seconds']:.0f} s | {f_mb:.0f} MB | GPU utilisation "
             f"{'n/a' if f['gpu_util'] is None else format(f['gpu_util'], '.0f') + ' %'}; "
             f"{f['train_segments']} training segments, {f['seg_s']:.1f} segments/s "
             f"({f['epoch_s']:.0f} s per epoch incl. validation); training set "
             f"{f['train_set_mb']:.0f} MB as uint8, against {f['float32_images_mb']:.0f} MB as "
             f"the thesis's float32 images; test WA {100 * f['test_wa']:.1f} %, UA "
             f"{100 * f['test_ua']:.1f} % |",
             f"| report | {rep['seconds']:.1f} s | {r_mb:.0f} MB | {rep['files']} files |"]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--_stage":
        name, work, *rest = sys.argv[2:]
        stage = {"synth": lambda: stage_synth(Path(work), int(rest[0])),
                 "extract": lambda: stage_extract(Path(work)),
                 "fold": lambda: stage_fold(Path(work), int(rest[0]), int(rest[1]), rest[2]),
                 "report": lambda: stage_report(Path(work))}[name]
        print(json.dumps(stage()))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--turns", type=int, default=10_039, help="synthetic IEMOCAP turns")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--image_size", type=int, default=256)
    p.add_argument("--folds", default=TEST_ID,
                   help="folds to train: 1M (default), 1M,2F, or all (the GPU target: "
                        "--folds all --epochs 100)")
    p.add_argument("--workdir", type=Path, default=None, help="keep the data here")
    p.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        result = run(work, args.turns, args.epochs, args.image_size, args.folds)
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
