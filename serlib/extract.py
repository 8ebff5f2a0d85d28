"""Extraction: an utterance table in, a feature store out, on every core, resumably.

Utterances are sorted by speaker and cut into batches. Each utterance's
number of segments is known from its wav header, so the store's arrays are
preallocated (memory-mapped, in ``OUT.partial/``) and worker processes write
each batch's segments straight into place; memory is bounded by the batches
in flight, not the corpus. A finished batch leaves a small record; running an
interrupted extraction again redoes only the batches without one. The arrays
are then moved into the store, which
:func:`serlib.store.write_store_atomically` renames into place.
"""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm.auto import tqdm

from .audio import load_audio
from .augment import Perturber
from .corpora import CorpusIndex
from .errors import BadAudioError, SerlibError
from .features import FEATURE_TYPES, FeatureConfig, compute_features, num_segments, segment
from .files import atomic_path, check_writable, claim_folder, size_text
from .store import (
    TEMP_MARKER,
    is_store,
    load_store,
    write_meta,
    write_store_atomically,
    write_utterances,
    writing_path,
)


def extract_features(index: CorpusIndex, config: FeatureConfig, out: str | os.PathLike, *,
                     jobs: int | None = None, batch_size: int = 16, progress: bool = True,
                     overwrite: bool = False) -> Path:
    """Extract ``config``'s features of every utterance of ``index`` into a store at ``out``.

    Files that cannot be used (corrupt, silent, NaN samples, shorter than one
    frame) are reported and left out. Returns ``out``; load it with
    :func:`serlib.features.load_features`.

    ``out`` must be new, an empty folder, or a store: the same store is left as it is
    (nothing to do), a store of another configuration or corpus is replaced only with
    ``overwrite``, and anything else is refused before any work. The space the store
    needs is reserved on disk first, so that a full disk stops the extraction at once
    with a message, not a crash midway.
    """
    out = Path(out)
    table = index.table.sort_values(["speaker", "utt_id"], kind="stable").reset_index(drop=True)
    if table.empty:
        raise SerlibError(f"{index.root}: no utterance to extract under preset "
                          f"{index.preset.name}")
    config.noise.check()
    expected = np.array([_expected_segments(p, config) for p in table["path"]], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(expected)])
    # Batch records are by batch number, so the batch size is part of what must match.
    job = {"config": config.to_dict(), "utterances": _fingerprint(table),
           "segments": int(offsets[-1]), "batch_size": batch_size}
    partial = out.with_name(out.name + ".partial")
    if _is_current(out, job):
        if _read_json(partial / "job.json") == job:  # left by a kill just after the rename
            shutil.rmtree(partial, ignore_errors=True)
        if progress:
            print(f"{out}: up to date (same utterances and parameters), not extracted again")
        return out
    _claim_outputs(out, partial, job, overwrite)
    _recover_arrays(partial, out, config)
    _prepare_partial(partial, job, config)
    batches = [range(i, min(i + batch_size, len(table))) for i in range(0, len(table), batch_size)]
    todo = [k for k in range(len(batches)) if not _chunk(partial, k).exists()]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    bar = tqdm(total=len(table), unit="utt", desc=f"extract {config.features}",
               disable=not progress)
    bar.update(len(table) - sum(len(batches[k]) for k in todo))
    tasks = [(k, [(table.at[r, "path"], r, int(offsets[r]), int(expected[r]))
                  for r in batches[k]], config, partial) for k in todo]
    _warm_up(config)
    if workers == 1:
        for task in tasks:
            bar.update(_extract_batch(task)[1])
    else:
        with ProcessPoolExecutor(workers, mp_context=_fork_context()) as pool:
            for _, n in pool.map(_extract_batch, tasks):
                bar.update(n)
    bar.close()
    _assemble(out, partial, len(batches), table, offsets, index, config, job)
    shutil.rmtree(partial, ignore_errors=True)
    return out


def _expected_segments(path: str, config: FeatureConfig) -> int:
    """Segments an utterance will give, from its header: samples after resampling (librosa
    gives ``ceil(n * target / rate)``), frames of a centred STFT, then segments."""
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError):
        return 0  # the worker reports why
    samples = -(-info.frames * config.sample_rate // info.samplerate)
    return num_segments(1 + samples // config.hop_length, config.segment_size)


def _warm_up(config: FeatureConfig) -> None:
    """Run the feature code once on a short noise before forking workers.

    The first call loads librosa's lazy modules and sets up its FFT (about a
    second); done once here, every forked worker starts warm.
    """
    y = np.random.default_rng(0).normal(0, 0.1, config.win_length * 4).astype(np.float32)
    compute_features(y, config, np.random.default_rng(0), _perturber(config))


def _perturber(config: FeatureConfig) -> Perturber | None:
    if FEATURE_TYPES[config.features].perturbed or config.mixnoise:
        return Perturber(config.noise, config.sample_rate, config.seed)
    return None


def _fork_context():
    """Fork on Linux (workers inherit the warm-up); the platform's default elsewhere."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return None


def _fingerprint(table: pd.DataFrame) -> str:
    """What identifies the input: paths, labels, speakers (a changed corpus restarts)."""
    text = table[["utt_id", "path", "speaker", "label_id"]].to_csv(index=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_json(path: Path) -> dict | None:
    """A small JSON file of ours, or None when it is missing or half-written."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _is_current(out: Path, job: dict) -> bool:
    """Whether ``out`` is a complete store of this very job (so there is nothing to do)."""
    return (_read_json(out / "meta.json") or {}).get("job") == job


def _claim_outputs(out: Path, partial: Path, job: dict, overwrite: bool) -> None:
    """Refuse, before any work, an ``out`` that is not ours or is a store of another job
    (without ``overwrite``), a ``.partial`` folder that is not ours, and a disk without
    room for the store's arrays."""
    if claim_folder(out, ours=is_store, what="a feature store") and is_store(out) \
            and not overwrite:
        old = (_read_json(out / "meta.json") or {}).get("job") or {}
        differ = [k for k in ("config", "utterances", "batch_size") if old.get(k) != job[k]]
        if old.get("config") and old["config"] != job["config"]:
            differ = [k for k in job["config"] if old["config"].get(k) != job["config"][k]]
        what = ", ".join(differ).replace("utterances", "the corpus's utterances") or "format"
        raise SerlibError(f"--out {out} holds a feature store of another extraction (differs "
                          f"in: {what}); add --overwrite to replace it, or choose another "
                          "--out")
    ours = (partial / "job.json").exists() or (partial / TEMP_MARKER).exists()
    if partial.exists() and not ours and (not partial.is_dir() or any(partial.iterdir())):
        raise SerlibError(f"{partial} is in the way of the extraction's working folder and "
                          "was not made by serlib: move it elsewhere")
    resuming = _read_json(partial / "job.json") == job
    itemsize = np.dtype(job["config"]["dtype"]).itemsize
    config = FeatureConfig.from_dict(job["config"])
    need = 0 if resuming else job["segments"] * itemsize * (1 + config.mixnoise) * \
        config.channels * config.freq_bins * config.segment_size
    check_writable(out, "--out", need_bytes=need)  # the same disk as the working folder


def _shape(config: FeatureConfig, n: int) -> tuple[int, int, int, int]:
    return (n, config.channels, config.freq_bins, config.segment_size)


def _arrays(config: FeatureConfig) -> tuple[str, ...]:
    return ("segments.npy", "noisy.npy") if config.mixnoise else ("segments.npy",)


def _recover_arrays(partial: Path, out: Path, config: FeatureConfig) -> None:
    """Put back arrays that an interrupted assembly had already moved into the store
    being written, so that the finished batches are not extracted again."""
    if not (partial / "job.json").exists():
        return  # nothing to resume: whatever is being written is stale
    writing = writing_path(out)
    for name in _arrays(config):
        if not (partial / name).exists() and (writing / name).exists():
            os.replace(writing / name, partial / name)


def _prepare_partial(partial: Path, job: dict, config: FeatureConfig) -> None:
    """Resume the same job, or start afresh with preallocated (sparse) arrays."""
    arrays = all((partial / name).exists() for name in _arrays(config))
    if arrays and _read_json(partial / "job.json") == job:
        return
    shutil.rmtree(partial, ignore_errors=True)  # ours: _claim_outputs checked its marker
    partial.mkdir(parents=True)
    (partial / TEMP_MARKER).touch()
    shape, dtype = _shape(config, job["segments"]), np.dtype(config.dtype)
    _preallocate(partial / "segments.npy", dtype, shape)
    if config.mixnoise:
        _preallocate(partial / "noisy.npy", dtype, (config.mixnoise, *shape))
    (partial / "job.json").write_text(json.dumps(job))


def _preallocate(path: Path, dtype: np.dtype, shape: tuple[int, ...]) -> None:
    """An ``.npy`` file of ``shape`` whose blocks are reserved on disk now: workers write
    into it through memory maps, and a write into a sparse file on a full disk kills
    the process with SIGBUS instead of raising an error."""
    np.lib.format.open_memmap(path, "w+", dtype, shape).flush()
    if hasattr(os, "posix_fallocate"):
        fd = os.open(path, os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                return  # a file system that cannot reserve: sparse, as before
            need = size_text(os.fstat(fd).st_size)
            raise SerlibError(f"{path.parent}: the disk is full ({need} needed for the "
                              "features); free some space and run the same command again "
                              "(finished work is kept)") from None
        finally:
            os.close(fd)


def _chunk(partial: Path, k: int) -> Path:
    """A batch's record (kept rows, problems), written last: a batch without it is redone."""
    return partial / f"chunk-{k:06d}.json"


def _extract_batch(task: tuple[int, list, FeatureConfig, Path]) -> tuple[int, int]:
    """Worker: features of one batch, written in place into the preallocated arrays."""
    k, rows, config, partial = task
    pad, perturber = config.pad_values(), _perturber(config)
    segments = np.load(partial / "segments.npy", mmap_mode="r+", allow_pickle=False)
    noisy = np.load(partial / "noisy.npy", mmap_mode="r+", allow_pickle=False) \
        if config.mixnoise else None
    kept, problems = [], []
    for path, row, offset, expected in rows:
        try:
            y = load_audio(path, config.sample_rate, min_samples=config.win_length)
        except BadAudioError as e:
            problems.append({"path": str(path), "reason": e.reason})
            continue
        # One generator per utterance, from the seed and its row: reruns and resumes agree.
        rng = np.random.default_rng([config.seed, int(row)])
        x = segment(compute_features(y, config, rng, perturber), config.segment_size, pad)
        if len(x) != expected:  # a decoder that gives other than its header says
            problems.append({"path": str(path), "reason": f"decoded into {len(x)} segments, "
                             f"its header promises {expected}: truncated or a wrong header; "
                             "export the file again"})
            continue
        segments[offset:offset + expected] = x  # cast to the store's dtype on assignment
        for c in range(config.mixnoise):
            copy = compute_features(perturber.perturb(y, rng), config, rng, perturber)
            noisy[c, offset:offset + expected] = segment(copy, config.segment_size, pad)
        kept.append(int(row))
    segments.flush()
    if noisy is not None:
        noisy.flush()
    with atomic_path(_chunk(partial, k)) as tmp:
        tmp.write_text(json.dumps({"rows": kept, "problems": problems}))
    return k, len(rows)


def _assemble(out: Path, partial: Path, num_chunks: int, table: pd.DataFrame,
              offsets: np.ndarray, index: CorpusIndex, config: FeatureConfig,
              job: dict) -> None:
    """Move the arrays into the store; compact them only if a file left a gap."""
    rows, problems = [], []
    for k in range(num_chunks):
        chunk = json.loads(_chunk(partial, k).read_text())
        rows += chunk["rows"]
        problems += chunk["problems"]
    rows = np.array(sorted(rows), dtype=np.int64)
    if len(rows) == 0:
        raise SerlibError(f"{index.root}: no utterance could be extracted; "
                          f"{len(problems)} file(s) unusable, e.g. {problems[:1]}")
    kept = table.iloc[rows]
    num_segs = (offsets[rows + 1] - offsets[rows]).astype(np.int64)
    n = int(num_segs.sum())
    speakers: dict[str, list[int]] = {}
    groups = kept.reset_index(drop=True).groupby("speaker", sort=False).indices
    for spk, positions in groups.items():
        speakers[str(spk)] = [int(positions[0]), int(positions[-1]) + 1]
    info = _speaker_info(kept)

    def fill(tmp: Path) -> None:
        for name in _arrays(config):
            if n == offsets[-1]:  # no gap: the preallocated file is the store's
                os.replace(partial / name, tmp / name)
                continue
            src = np.load(partial / name, mmap_mode="r", allow_pickle=False)
            lead = src.shape[:-4]
            _preallocate(tmp / name, src.dtype, (*lead, *_shape(config, n)))
            dst = np.load(tmp / name, mmap_mode="r+", allow_pickle=False)
            at = 0
            for r, m in zip(rows, num_segs, strict=True):
                dst[..., at:at + m, :, :, :] = src[..., offsets[r]:offsets[r] + m, :, :, :]
                at += m
            dst.flush()
            del dst, src
        write_utterances(tmp, kept, num_segs, index.root)
        write_meta(tmp, config, corpus=index.corpus, root=str(index.root),
                   preset=index.preset.name, classes=list(index.classes), speakers=speakers,
                   speaker_info=info, shape=list(_shape(config, n)),
                   num_utterances=len(kept), problems=problems, job=job)

    write_store_atomically(out, fill)


def _speaker_info(table: pd.DataFrame) -> dict[str, dict]:
    """``{speaker: {"gender": "M"|"F"|"U", "session": int | None}}`` from the table (its
    first row of each speaker), for the protocols; not part of the store's identity."""
    info = {}
    for spk, rows in table.groupby("speaker", sort=False):
        gender, session = rows["gender"].iloc[0], rows["session"].iloc[0]
        info[str(spk)] = {"gender": gender if gender in ("M", "F") else "U",
                          "session": None if pd.isna(session) else int(session)}
    return info


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
