"""Backbones: parameters, training speed and peak memory of every ``--ser_model`` network,
beside the thesis's AlexNet models, on the same batches in one run.

Each model trains ``--steps`` steps of serlib's own training step (images made from uint8
segments, the quick settings' 64-pixel images and batch of 32, AdamW's fused kernel) in a
fresh process, after ``--warmup`` steps; the median step time gives seconds per epoch of
the default course corpus (``--segments`` training segments). Peak memory is the resident
set size of that process.

    python benchmarks/backbones.py [--image_size 64] [--batch_size 32] [--steps 6]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _measure import measure  # noqa: E402


def step_times(name: str, image_size: int, batch_size: int, steps: int, warmup: int) -> dict:
    """Train ``name`` on random segments; the seconds of each measured step."""
    import numpy as np
    import torch

    from serlib.config import TrainConfig
    from serlib.models import count_parameters
    from serlib.train import make_network, train_step
    from serlib.transforms import TrainBatch, one_hot

    torch.manual_seed(0)
    config = TrainConfig(ser_model=name, batch_size=batch_size, image_size=image_size)
    network = make_network(config, 4, torch.device("cpu"))
    rng = np.random.default_rng(0)
    times = []
    for k in range(warmup + steps):
        x = torch.from_numpy(rng.integers(0, 256, (batch_size, 1, 200, 300), dtype=np.uint8))
        y = torch.from_numpy(rng.integers(0, 4, batch_size))
        start = time.perf_counter()
        batch = TrainBatch(x, y, one_hot(y, 4))
        network.to_images(batch)
        float(train_step(network, batch))  # waits for the step to finish
        if k >= warmup:
            times.append(time.perf_counter() - start)
    return {"params": count_parameters(network.model), "step_s": statistics.median(times)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image_size", type=int, default=64)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--segments", type=int, default=530,
                   help="training segments of one fold of the default course corpus")
    p.add_argument("--models", default=None, help="comma-separated (default: all)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(step_times(args.child, args.image_size, args.batch_size, args.steps,
                                    args.warmup)))
        return
    from serlib.backbones import BACKBONES, MODELS

    names = args.models.split(",") if args.models else \
        ["alexnet", "alexnet_gap", "alexnet_att"] + \
        [m for m in MODELS if not m.startswith("alexnet") and not m.endswith("_att")]
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch "
          f"{args.batch_size}, {args.image_size}-pixel images, median of {args.steps} steps")
    print("| model | backbone | params | step (s) | epoch of the course corpus (s) | "
          "vs alexnet_gap | peak memory (MB) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    reference = None
    rows = []
    for name in names:
        cmd = [sys.executable, __file__, "--child", name, "--image_size", str(args.image_size),
               "--batch_size", str(args.batch_size), "--steps", str(args.steps),
               "--warmup", str(args.warmup)]
        result, peak = measure(cmd)
        if name == "alexnet_gap":
            reference = result["step_s"]
        rows.append((name, result, peak))
    for name, result, peak in rows:
        epoch = result["step_s"] * -(-args.segments // args.batch_size)
        ratio = f"{result['step_s'] / reference:.1f}x" if reference else "-"
        backbone = name.removesuffix("_gap").removesuffix("_att")
        print(f"| {name} | {backbone if backbone in BACKBONES else '?'} | "
              f"{result['params'] / 1e6:.1f} M | {result['step_s']:.2f} | {epoch:.0f} | {ratio} "
              f"| {peak:.0f} |")


if __name__ == "__main__":
    main()
