"""The GPU figures: the thesis's FCN+GAP and AlexNet at IEMOCAP size on one GPU.

One script, one process, for a short lease of a GPU machine:

1. the IEMOCAP-size synthetic store (``scale.py``'s corpus: 10,039 turns, ``full-4``,
   ``logspec``), synthesized and extracted with every core;
2. for FCN+GAP and for AlexNet finetuning at the thesis's 256-pixel images, batch 64,
   bf16 autocast, channels-last, the uint8 training set resident on the GPU: one fold
   (test 1M, validation 1F) for ``--epochs`` epochs, with and without ``torch.compile``.
   Reported: the median epoch (training and validation) after the first, segments per
   second, the first epoch (compilation included), GPU utilisation sampled by nvidia-smi,
   peak GPU memory;
3. one fold of FCN+GAP (compiled) for ``--fold_epochs`` epochs: the training loss per
   epoch and the test WA and UA, beside chance and the majority class;
4. the time of the thesis's 5 folds x 100 epochs (and x 5 repeats), extrapolated from the
   measured epoch times (stated as such).

    python benchmarks/gpu.py [--turns 10039] [--epochs 4] [--fold_epochs 10] [--out DIR]

It writes ``gpu.json`` and ``gpu.md`` into ``--out`` and prints the Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from scale import GpuUtilisation  # noqa: E402

VAL_ID, TEST_ID = "1F", "1M"


def make_store(work: Path, turns: int) -> tuple[object, dict]:
    from serlib.config import FeatureConfig
    from serlib.corpora import index_corpus, synthesize
    from serlib.extract import extract_features
    from serlib.features import load_features

    start = time.perf_counter()
    root = synthesize(work / "corpus", "iemocap", turns, seed=0, progress=False)
    synth_s = time.perf_counter() - start
    start = time.perf_counter()
    index = index_corpus("iemocap", root, "full-4", progress=False)
    store = load_features(extract_features(index, FeatureConfig(), work / "store",
                                           progress=False))
    return store, {"turns": turns, "utterances": len(index.table), "synth_s": synth_s,
                   "extract_s": time.perf_counter() - start,
                   "segments": int(store.meta["shape"][0]), "cores": os.cpu_count()}


def time_fold(store, model: str, epochs: int, compile: bool, device: str = "cuda",
              image_size: int = 256, batch_size: int = 64) -> dict:
    """One fold, timed epoch by epoch; the model's peak GPU memory and utilisation."""
    import torch

    from serlib.config import TrainConfig
    from serlib.train import train_fold

    config = TrainConfig(ser_model=model, num_epochs=epochs, batch_size=batch_size,
                         image_size=image_size, compile=compile, device=device)
    gpu = device == "cuda"
    stamps = [time.perf_counter()]
    if gpu:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()

    def log(line: str) -> None:
        if line.lstrip().startswith("epoch"):
            if gpu:
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

    with GpuUtilisation() as util:
        result = train_fold(store, config, VAL_ID, TEST_ID, progress=False, log=log)
    epochs_s = np.diff(stamps)
    train = sum(len(store[s].segments) for s in store if s not in (VAL_ID, TEST_ID))
    steady = float(np.median(epochs_s[1:])) if len(epochs_s) > 1 else float(epochs_s[0])
    return {"model": model, "compile": compile, "epochs": epochs, "batch_size": batch_size,
            "train_segments": train,
            "first_epoch_s": float(epochs_s[0]), "epoch_s": steady,
            "seg_s": train / steady, "gpu_util": util.mean,
            "peak_gpu_gb": torch.cuda.max_memory_allocated() / 2**30 if gpu else 0.0,
            "train_loss": result.history["train_loss"],
            "test_wa": result.test.wa, "test_ua": result.test.ua,
            "resident": result.training_set_bytes / 2**30}


def markdown(r: dict) -> str:
    s = r["store"]
    lines = [f"`python benchmarks/gpu.py` on {r['device']} (torch {r['torch']}, CUDA "
             f"{r['cuda']}), {s['cores']} CPU cores.", "",
             f"Store: {s['turns']} synthetic turns, `full-4`: {s['utterances']} utterances, "
             f"{s['segments']} segments of 3 s; synthesized in {s['synth_s']:.0f} s, indexed "
             f"and extracted in {s['extract_s']:.0f} s.", "",
             f"One fold (test {TEST_ID}, validation {VAL_ID}), {r['image_size']}-pixel images, "
             "bf16 autocast, channels-last, training set resident on the GPU; an epoch is "
             "its training and the validation speaker's evaluation:", "",
             "| model | torch.compile | batch | first epoch | epoch (median of the rest) | "
             "training segments/s | GPU utilisation | peak GPU memory |",
             "|---|---|---|---|---|---|---|---|"]
    for t in r["timings"]:
        util = "n/a" if t["gpu_util"] is None else f"{t['gpu_util']:.0f} %"
        lines.append(f"| {t['model']} | {'yes' if t['compile'] else 'no'} | "
                     f"{t['batch_size']} | {t['first_epoch_s']:.1f} s | {t['epoch_s']:.2f} s | "
                     f"{t['seg_s']:.0f} | "
                     f"{util} | {t['peak_gpu_gb']:.1f} GB |")
    f = r["fold"]
    if f:
        lines += ["", f"Sanity fold, FCN+GAP compiled, {f['epochs']} epochs: training loss "
                  + " → ".join(f"{x:.3f}" for x in f["train_loss"])
                  + f"; test WA {100 * f['test_wa']:.1f} %, UA {100 * f['test_ua']:.1f} % "
                  f"(chance UA 25 %; the majority class: WA {100 * r['majority_wa']:.1f} %, "
                  "UA 25 %)."]
    lines += ["", "Extrapolated from the median epoch (folds differ a little in size; not "
              "measured end to end):", "",
              "| run | 5 folds x 100 epochs | x 5 repeats |", "|---|---|---|"]
    for t in r["timings"]:
        one = 5 * 100 * t["epoch_s"] + 5 * (t["first_epoch_s"] - t["epoch_s"])
        lines.append(f"| {t['model']}{', compiled' if t['compile'] else ''}, batch "
                     f"{t['batch_size']} | "
                     f"{one / 60:.0f} min | {5 * one / 3600:.1f} h |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--turns", type=int, default=10_039)
    p.add_argument("--epochs", type=int, default=4, help="epochs of each timed fold")
    p.add_argument("--fold_epochs", type=int, default=10, help="epochs of the sanity fold")
    p.add_argument("--out", type=Path, default=Path("."))
    p.add_argument("--work", type=Path, default=None)
    p.add_argument("--device", default="cuda", help="cpu: a smoke test of this script only")
    p.add_argument("--image_size", type=int, default=256)
    p.add_argument("--models", default="alexnet_gap,alexnet")
    p.add_argument("--compile", default="no,yes", help="no, yes or both (no,yes)")
    p.add_argument("--batch_sizes", default="64", help="e.g. 64,256: the host's share shows")
    args = p.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py needs a CUDA GPU (or --device cpu for a smoke test)")
    from serlib.baselines import fit_baseline
    from serlib.config import TrainConfig
    from serlib.train import check_speakers

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        store, info = make_store(work, args.turns)
        print(json.dumps(info), flush=True)
        timings = []
        for model in args.models.split(","):
            for compile in (c == "yes" for c in args.compile.split(",")):
                for batch_size in map(int, args.batch_sizes.split(",")):
                    t = time_fold(store, model, args.epochs, compile, args.device,
                                  args.image_size, batch_size)
                    timings.append(t)
                    print(json.dumps(t), flush=True)
        fold = time_fold(store, "alexnet_gap", args.fold_epochs, True, args.device,
                         args.image_size) if args.fold_epochs else None
        train = check_speakers(store, [VAL_ID], [TEST_ID])
        _, majority, _ = fit_baseline(store, TrainConfig(ser_model="majority"), train,
                                      [VAL_ID], [TEST_ID])
    name = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu"
    result = {"device": name, "torch": torch.__version__,
              "cuda": torch.version.cuda, "store": info, "timings": timings, "fold": fold,
              "majority_wa": majority.wa, "image_size": args.image_size}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu.json").write_text(json.dumps(result, indent=1))
    text = markdown(result)
    (args.out / "gpu.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
