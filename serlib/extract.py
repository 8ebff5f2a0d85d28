"""Extraction: an utterance table in, a feature store out, on every core, resumably.

Utterances are sorted by speaker and cut into batches; worker processes turn
each batch into a chunk file in ``OUT.partial/`` (memory is bounded by the
batches in flight, not the corpus). Chunks are then streamed into the store's
memory-mapped arrays, which :func:`serlib.store.write_store_atomically`
renames into place. An interrupted extraction keeps its finished chunks:
running the same command again extracts only the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .audio import load_audio
from .augment import Perturber
from .corpora import CorpusIndex
from .errors import BadAudioError, SerlibError
from .features import FeatureConfig, compute_features, segment
from .store import FORMAT, VERSION, load_store, write_store_atomically


def extract_features(index: CorpusIndex, config: FeatureConfig, out: str | os.PathLike, *,
                     jobs: int | None = None, batch_size: int = 16,
                     progress: bool = True) -> Path:
    """Extract ``config``'s features of every utterance of ``index`` into a store at ``out``.

    Files that cannot be used (corrupt, silent, NaN samples, shorter than one
    frame) are reported and left out. Returns ``out``; load it with
    :func:`serlib.features.load_features`.
    """
    out = Path(out)
    table = index.table.sort_values(["speaker", "utt_id"], kind="stable").reset_index(drop=True)
    if table.empty:
        raise SerlibError(f"{index.root}: no utterance to extract under preset "
                          f"{index.preset.name}")
    config.noise.check()
    job = {"config": config.to_dict(), "utterances": _fingerprint(table)}
    partial = out.with_name(out.name + ".partial")
    _prepare_partial(partial, job)
    batches = [table.iloc[i:i + batch_size] for i in range(0, len(table), batch_size)]
    todo = [k for k in range(len(batches)) if not _chunk(partial, k).exists()]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    bar = tqdm(total=len(table), unit="utt", desc=f"extract {config.features}",
               disable=not progress)
    bar.update(sum(len(batches[k]) for k in range(len(batches)) if k not in set(todo)))
    tasks = [(k, batches[k][["path"]].assign(row=batches[k].index), config, partial)
             for k in todo]
    if workers == 1:
        for task in tasks:
            _extract_batch(task)
            bar.update(len(task[1]))
    else:
        with ProcessPoolExecutor(workers) as pool:
            for _, n in pool.map(_extract_batch, tasks):
                bar.update(n)
    bar.close()
    _assemble(out, partial, len(batches), table, index, config)
    shutil.rmtree(partial, ignore_errors=True)
    return out


def _fingerprint(table: pd.DataFrame) -> str:
    """What identifies the input: paths, labels, speakers (a changed corpus restarts)."""
    text = table[["utt_id", "path", "speaker", "label_id"]].to_csv(index=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _prepare_partial(partial: Path, job: dict) -> None:
    job_file = partial / "job.json"
    if job_file.exists():
        try:
            if json.loads(job_file.read_text()) == job:
                return  # resume
        except ValueError:
            pass
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    job_file.write_text(json.dumps(job))


def _chunk(partial: Path, k: int) -> Path:
    return partial / f"chunk-{k:06d}.npz"


def _extract_batch(task: tuple[int, pd.DataFrame, FeatureConfig, Path]) -> tuple[int, int]:
    """Worker: features of one batch into one chunk file (written atomically)."""
    k, rows, config, partial = task
    dtype = np.dtype(config.dtype)
    pad = config.pad_values()
    perturber = Perturber(config.noise, config.sample_rate, config.seed) \
        if config.features == "lognrevspec" or config.mixnoise else None
    kept, num_segs, segs, noisy, problems = [], [], [], [], []
    for path, row in zip(rows["path"], rows["row"], strict=True):
        try:
            y = load_audio(path, config.sample_rate, min_samples=config.win_length)
        except BadAudioError as e:
            problems.append({"path": str(path), "reason": e.reason})
            continue
        # One generator per utterance, from the seed and its row: reruns and resumes agree.
        rng = np.random.default_rng([config.seed, int(row)])
        x = segment(compute_features(y, config, rng, perturber), config.segment_size, pad)
        copies = [segment(compute_features(perturber.perturb(y, rng), config, rng, perturber),
                          config.segment_size, pad) for _ in range(config.mixnoise)]
        kept.append(int(row))
        num_segs.append(len(x))
        segs.append(x.astype(dtype))
        if copies:
            noisy.append(np.stack(copies).astype(dtype))
    shape = (0, config.channels, config.freq_bins, config.segment_size)
    arrays = {"rows": np.array(kept, dtype=np.int64),
              "num_segs": np.array(num_segs, dtype=np.int64),
              "segments": np.concatenate(segs) if segs else np.zeros(shape, dtype),
              "problems": np.array(json.dumps(problems))}
    if config.mixnoise:
        arrays["noisy"] = np.concatenate(noisy, axis=1) if noisy else \
            np.zeros((config.mixnoise, *shape), dtype)
    tmp = partial / f".chunk-{k:06d}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, _chunk(partial, k))
    return k, len(rows)


def _load_chunk(partial: Path, k: int) -> dict[str, np.ndarray]:
    with np.load(_chunk(partial, k), allow_pickle=False) as z:
        return {name: z[name] for name in z.files}


def _assemble(out: Path, partial: Path, num_chunks: int, table: pd.DataFrame,
              index: CorpusIndex, config: FeatureConfig) -> None:
    """Stream the chunks into the store's arrays, one chunk in memory at a time."""
    rows, num_segs, problems = [], [], []
    for k in range(num_chunks):
        with np.load(_chunk(partial, k), allow_pickle=False) as z:
            rows.append(z["rows"])
            num_segs.append(z["num_segs"])
            problems += json.loads(str(z["problems"]))
    rows, num_segs = np.concatenate(rows), np.concatenate(num_segs)
    if len(rows) == 0:
        raise SerlibError(f"{index.root}: no utterance could be extracted; "
                          f"{len(problems)} file(s) unusable, e.g. {problems[:1]}")
    kept = table.iloc[rows]
    n = int(num_segs.sum())
    shape = [n, config.channels, config.freq_bins, config.segment_size]
    speakers: dict[str, list[int]] = {}
    groups = kept.reset_index(drop=True).groupby("speaker", sort=False).indices
    for spk, positions in groups.items():
        speakers[str(spk)] = [int(positions[0]), int(positions[-1]) + 1]

    def fill(tmp: Path) -> None:
        seg = np.lib.format.open_memmap(tmp / "segments.npy", "w+", np.dtype(config.dtype),
                                        tuple(shape))
        nz = np.lib.format.open_memmap(tmp / "noisy.npy", "w+", np.dtype(config.dtype),
                                       (config.mixnoise, *shape)) if config.mixnoise else None
        at = 0
        for k in range(num_chunks):
            chunk = _load_chunk(partial, k)
            m = len(chunk["segments"])
            seg[at:at + m] = chunk["segments"]
            if nz is not None:
                nz[:, at:at + m] = chunk["noisy"]
            at += m
        seg.flush()
        del seg
        if nz is not None:
            nz.flush()
            del nz
        labels = kept["label_id"].to_numpy(np.int64)
        np.save(tmp / "utt_labels.npy", labels)
        np.save(tmp / "seg_labels.npy", np.repeat(labels, num_segs))
        np.save(tmp / "num_segs.npy", num_segs.astype(np.int64))
        np.save(tmp / "utt_ids.npy", kept["utt_id"].to_numpy(str))
        np.save(tmp / "utt_speakers.npy", kept["speaker"].to_numpy(str))
        meta = {"format": FORMAT, "version": VERSION, "complete": True,
                "config": config.to_dict(), "corpus": index.corpus, "root": str(index.root),
                "preset": index.preset.name, "classes": list(index.classes),
                "speakers": speakers, "shape": shape, "num_utterances": len(kept),
                "problems": problems}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))

    write_store_atomically(out, fill)


def summarize(path: str | os.PathLike) -> str:
    """What ``serlib extract`` prints: segments per speaker and class, and the problems."""
    store = load_store(path)
    meta = store.meta
    lines = [f"{store!r}", f"{meta['num_utterances']} utterances, "
             f"{meta['shape'][0]} segments of {tuple(meta['shape'][1:])} (C, F, T)",
             store.counts().to_string()]
    if meta["problems"]:
        lines.append(f"{len(meta['problems'])} file(s) left out:")
        lines += [f"  {p['path']}: {p['reason']}" for p in meta["problems"]]
    return "\n".join(lines)
