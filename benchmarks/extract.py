"""Feature extraction: serlib's extract_features against the thesis's plain librosa loop.

Both run on the same synthetic corpus in one invocation, each in a fresh
process so that peak memory (RSS of the whole process tree, sampled) is its
own. The plain loop is the thesis's way: one utterance after another with
librosa, segments collected in Python lists of float32 arrays. The script
checks that both produce the same values, then prints a Markdown table.

    python benchmarks/extract.py [--utterances 400] [--features logspec] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import pandas as pd

from serlib.corpora import index_corpus, synthesize
from serlib.extract import extract_features
from serlib.features import FeatureConfig, load_features

sys.path.insert(0, str(Path(__file__).parent))
import _measure  # noqa: E402


def plain_loop(table_csv: str, out: str, features: str) -> None:
    """The thesis's way: sequential librosa, Python lists, one float32 array per speaker."""
    table = pd.read_csv(table_csv).sort_values(["speaker", "utt_id"])
    data: dict[str, list] = {}
    for path, speaker in zip(table["path"], table["speaker"], strict=True):
        y, _ = librosa.load(path, sr=16000)
        y = librosa.effects.preemphasis(y, coef=0.97)
        power = np.abs(librosa.stft(y, n_fft=800, hop_length=160, win_length=640,
                                    window="hamming")) ** 2
        if features == "logmelspec":
            mel = librosa.feature.melspectrogram(S=power, sr=16000, n_fft=800, n_mels=128)
            spec = librosa.power_to_db(mel, ref=np.max, top_db=80)
        else:
            spec = librosa.power_to_db(power[:200], ref=np.max, top_db=80)
        frames = spec.shape[1]
        if frames < 300:
            data.setdefault(speaker, []).append(
                np.pad(spec, ((0, 0), (0, 300 - frames)), constant_values=-80.0)[None])
            continue
        n = -(-frames // 300)
        for i in range(n):
            start = i * 300 if i < n - 1 else frames - 300
            data.setdefault(speaker, []).append(spec[None, :, start:start + 300])
    arrays = {spk: np.array(segs, dtype=np.float32) for spk, segs in data.items()}
    np.savez(out, **arrays)


def serlib_extract(root: str, out: str, features: str, jobs: int, dtype: str) -> None:
    """serlib's way: index, then extract on ``jobs`` processes into a store."""
    index = index_corpus("iemocap", root, "full-4", progress=False)
    extract_features(index, FeatureConfig(features=features, dtype=dtype), out, jobs=jobs,
                     progress=False)


def warm_up() -> None:
    """One short signal through librosa: its lazy imports and first-call set-up (about a
    second) are paid before timing, by both ways alike."""
    from serlib.extract import _warm_up

    _warm_up(FeatureConfig())


def timed(work, *args) -> None:
    """Warm up, run ``work`` and print its wall time for the parent to read."""
    warm_up()
    start = time.perf_counter()
    work(*args)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def measure(args: list[str]) -> tuple[float, float]:
    """Run this script with ``args`` in a child: its work's seconds and peak tree RSS in MB."""
    result, peak_mb = _measure.measure([sys.executable, __file__, *args])
    return result["seconds"], peak_mb


def run(utterances: int, features: str, jobs: int, workdir: Path) -> dict:
    """Both ways on one corpus; returns the figures and the largest value difference."""
    root = synthesize(workdir / "corpus", "iemocap", utterances, seed=0, progress=False)
    index = index_corpus("iemocap", root, "full-4", progress=False)
    table = index.to_csv(workdir / "table.csv")
    # A first run reads the corpus into the page cache for both ways.
    measure(["--_plain", str(table), str(workdir / "warm.npz"), features])
    t_plain, m_plain = measure(["--_plain", str(table), str(workdir / "plain.npz"), features])
    n = len(index.table)
    result = {"utterances": n, "features": features, "jobs": jobs, "plain_s": t_plain,
              "plain_utt_s": n / t_plain, "plain_mb": m_plain}
    with np.load(workdir / "plain.npz", allow_pickle=False) as plain:
        result["segments"] = sum(len(plain[s]) for s in plain.files)
        for dtype in ("float16", "float32"):
            store_dir = workdir / f"store-{dtype}"
            t, mb = measure(["--_serlib", str(root), str(store_dir), features, str(jobs), dtype])
            store = load_features(store_dir)
            diff = max(float(np.abs(plain[s] - np.asarray(store[s].segments, np.float32)).max())
                       for s in store)
            result[dtype] = {"seconds": t, "utt_s": n / t, "speedup": t_plain / t, "mb": mb,
                             "max_abs_diff_db": diff}
    return result


def markdown(r: dict) -> str:
    rows = [f"Extraction of `{r['features']}`, {r['utterances']} utterances "
            f"({r['segments']} segments of 3 s), {os.cpu_count()} cores.", "",
            "| way | wall time | utterances/s | speed-up | peak memory | largest difference |",
            "|---|---|---|---|---|---|",
            f"| plain sequential librosa loop, float32 (the thesis's) | {r['plain_s']:.1f} s | "
            f"{r['plain_utt_s']:.0f} | 1x | {r['plain_mb']:.0f} MB | |"]
    for dtype in ("float16", "float32"):
        d = r[dtype]
        rows.append(f"| `serlib extract`, {r['jobs']} processes, {dtype} store | "
                    f"{d['seconds']:.1f} s | {d['utt_s']:.0f} | {d['speedup']:.2f}x | "
                    f"{d['mb']:.0f} MB | {d['max_abs_diff_db']:.2g} dB |")
    return "\n".join(rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--_plain":
        return timed(plain_loop, *sys.argv[2:5])
    if len(sys.argv) > 1 and sys.argv[1] == "--_serlib":
        return timed(serlib_extract, *sys.argv[2:5], int(sys.argv[5]), sys.argv[6])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--utterances", type=int, default=1000, help="synthetic corpus size")
    p.add_argument("--features", choices=["logspec", "logmelspec"], default="logspec")
    p.add_argument("--jobs", type=int, default=os.cpu_count())
    p.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.utterances, args.features, args.jobs, Path(tmp))
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    # float32 must equal the thesis's values; float16 may differ by its rounding (< 0.032 dB
    # over -80..0 dB).
    if result["float32"]["max_abs_diff_db"] > 1e-3 or result["float16"]["max_abs_diff_db"] > 0.032:
        raise SystemExit("the two ways disagree")


if __name__ == "__main__":
    main()
