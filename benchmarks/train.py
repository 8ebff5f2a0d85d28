"""Training: serlib's train_fold against the thesis's plain float32 NCHW loop.

Both train the same model from the same initial weights on the same fold of
a synthetic corpus, with the same batches in the same order, in one run. The
thesis's way materialises the training set as float32 3x256x384 tensors (about
1.2 MB a segment) and trains in float32, NCHW. serlib keeps uint8 segments at
native size, makes each batch's images on the fly, and uses bf16 autocast
(where the CPU has it natively), channels-last and AdamW's fused kernel. Reported:
training segments per second over whole epochs (validation included), the
training set's memory, and test WA/UA after the same number of epochs. A third
row per model runs serlib with bf16, channels-last and the fused kernel off: its
arithmetic is then the thesis loop's, so its test scores should equal that row's.

    python benchmarks/train.py [--utterances 1500] [--epochs 4] [--batch_size 32]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from serlib.config import FeatureConfig, TrainConfig
from serlib.corpora import index_corpus, synthesize
from serlib.extract import extract_features
from serlib.features import load_features
from serlib.images import to_images
from serlib.metrics import evaluate_utterances
from serlib.models import build_model
from serlib.train import amp_dtype, check_speakers, make_splits, train_fold

VAL_ID, TEST_ID = "2M", "2F"


def make_store(workdir: Path, utterances: int):
    root = synthesize(workdir / "corpus", "iemocap", utterances, seed=0, progress=False)
    index = index_corpus("iemocap", root, progress=False)
    return load_features(extract_features(index, FeatureConfig(), workdir / "store",
                                          progress=False))


def thesis_images(x_uint8: np.ndarray) -> torch.Tensor:
    """The thesis's training set: every segment made into a float32 3x256x384 image up front."""
    return torch.cat([to_images(torch.from_numpy(x_uint8[i:i + 64]))
                      for i in range(0, len(x_uint8), 64)]).contiguous()


def plain_fold(store, model_name: str, epochs: int, batch_size: int, seed: int) -> dict:
    """The thesis's loop: pre-made float32 images, fp32 NCHW, AdamW, best epoch by val WA."""
    train_ids = check_speakers(store, VAL_ID, TEST_ID)
    train, val, test, _ = make_splits(store, train_ids, [VAL_ID], [TEST_ID], with_noisy=False)
    x_train, x_val, x_test = thesis_images(train.x), thesis_images(val.x), thesis_images(test.x)
    y_train = torch.from_numpy(train.seg_labels)
    torch.manual_seed(seed)
    model = build_model(model_name, len(store.classes))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    # The same batches in the same order as train_fold: the two ways then differ only in
    # how the data is held and in the arithmetic (bf16, channels-last).
    rng = np.random.default_rng(seed)

    @torch.no_grad()
    def evaluate(x, split):
        model.eval()
        out = torch.cat([F.log_softmax(model(x[i:i + batch_size]), 1)
                         for i in range(0, len(x), batch_size)])
        return evaluate_utterances(out.numpy(), split.num_segs, split.utt_labels,
                                   len(store.classes))

    times, best = [], (-1.0, None)
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        perm = rng.permutation(len(x_train))
        for start_b in range(0, len(perm), batch_size):
            idx = torch.from_numpy(np.sort(perm[start_b:start_b + batch_size]))
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        ev = evaluate(x_val, val)
        times.append(time.perf_counter() - start)
        if ev.wa > best[0]:
            best = (ev.wa, {k: v.clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[1])
    test_ev = evaluate(x_test, test)
    return {"seg_s": len(x_train) / np.median(times), "train_bytes": x_train.nbytes,
            "segments": len(x_train), "wa": test_ev.wa, "ua": test_ev.ua}


def serlib_fold(store, model_name: str, epochs: int, batch_size: int, seed: int,
                **changes) -> dict:
    stamps = [time.perf_counter()]
    config = TrainConfig(ser_model=model_name, num_epochs=epochs, batch_size=batch_size,
                         seed=seed, **changes)
    result = train_fold(store, config, VAL_ID, TEST_ID, progress=False,
                        log=lambda line: stamps.append(time.perf_counter()))
    times = np.diff(stamps[: epochs + 1])
    segments = sum(len(store[s].segments) for s in store if s not in (VAL_ID, TEST_ID))
    return {"seg_s": segments / np.median(times), "train_bytes": result.training_set_bytes,
            "segments": segments, "wa": result.test.wa, "ua": result.test.ua}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--utterances", type=int, default=1500, help="synthetic corpus size")
    p.add_argument("--epochs", type=int, default=4, help="epochs of FCN+GAP, both ways")
    p.add_argument("--alexnet_epochs", type=int, default=1, help="epochs of AlexNet (speed)")
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--seed", type=int, default=111)
    args = p.parse_args()
    amp = amp_dtype(torch.device("cpu"), None)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = make_store(Path(tmp), args.utterances)
        for name, epochs in (("alexnet_gap", args.epochs), ("alexnet", args.alexnet_epochs)):
            plain = plain_fold(store, name, epochs, args.batch_size, args.seed)
            ours = serlib_fold(store, name, epochs, args.batch_size, args.seed)
            same = serlib_fold(store, name, epochs, args.batch_size, args.seed, amp=False,
                               channels_last=False, fused=False)
            rows.append((name, epochs, plain, ours, same))
    print(f"One fold (test {TEST_ID}, validation {VAL_ID}) of {rows[0][2]['segments']} "
          f"training segments, batch {args.batch_size}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}; serlib autocast: {amp or 'off'}.\n")
    print("| model | way | segments/s | speed-up | training set | test WA | test UA |")
    print("|---|---|---|---|---|---|---|")
    for name, epochs, plain, ours, same in rows:
        for way, r in (("thesis: float32 3x256x384, fp32 NCHW", plain),
                       ("serlib: uint8 native, bf16, channels-last, fused AdamW", ours),
                       ("serlib, arithmetic as the thesis's (fp32, NCHW, plain AdamW)", same)):
            print(f"| {name} ({epochs} ep.) | {way} | {r['seg_s']:.1f} | "
                  f"{r['seg_s'] / plain['seg_s']:.2f}x | {r['train_bytes'] / 2**20:.0f} MB | "
                  f"{r['wa']:.3f} | {r['ua']:.3f} |")


if __name__ == "__main__":
    main()
