"""The feature store: the thesis's ``{speaker: (segments, utt_labels, seg_labels, num_segs)}``
dict, kept on disk as plain ``.npy`` files (no pickle) that are memory-mapped on load.

A store is a folder::

    meta.json         format, version, extraction config, corpus, classes, speakers, problems,
                      speaker_info ({speaker: {"gender": "M"|"F"|"U", "session": int|null}};
                      stores written before it existed lack it)
    segments.npy      (N, C, F, T) float16 or float32, every speaker's segments in a row
    noisy.npy         (K, N, C, F, T), the --mixnoise copies, aligned with segments (optional)
    seg_labels.npy    (N,) int64
    utt_labels.npy    (U,) int64
    num_segs.npy      (U,) int64, segments per utterance
    utt_ids.npy       (U,) unicode
    utt_speakers.npy  (U,) unicode
    utt_paths.npy     (U,) unicode, each utterance's audio file relative to the corpus root
                      (stores written before it existed lack it)

Utterances are sorted by speaker, so one speaker's segments are one slice of
``segments.npy`` and loading a speaker copies nothing. Every file loads with
``numpy.load(..., allow_pickle=False)``. The folder is written under a temporary
name and renamed when complete, so an interrupted write never leaves a folder
that loads.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .config import FeatureConfig
from .errors import SerlibError
from .files import remove_own

FORMAT, VERSION = "serlib-features", 1
#: IEMOCAP-style speaker ids, ``<session><gender>`` (``1M``, ``5F``; emoDB's thesis mapping).
SESSION_ID = re.compile(r"^(\d+)([FM])$")


def parse_speaker_id(speaker: str) -> dict:
    """``{"gender", "session"}`` read from an IEMOCAP-style id (``1M`` -> M, 1); an id of
    another form gives ``{"gender": "U", "session": None}``."""
    m = SESSION_ID.match(speaker)
    return {"gender": m[2], "session": int(m[1])} if m else {"gender": "U", "session": None}


def speaker_info(meta: dict, speakers) -> dict[str, dict]:
    """Each speaker's gender and session: ``meta["speaker_info"]`` where the store records
    it, else read from IEMOCAP-style ids (stores written before it was recorded)."""
    recorded = meta.get("speaker_info") or {}
    return {spk: recorded.get(spk) or parse_speaker_id(spk) for spk in speakers}
ARRAYS = ("segments", "seg_labels", "utt_labels", "num_segs", "utt_ids", "utt_speakers")


class SpeakerFeatures(NamedTuple):
    """One speaker's data, in the thesis's tuple order."""

    segments: np.ndarray     # (N, C, F, T)
    utt_labels: np.ndarray   # (U,)
    seg_labels: np.ndarray   # (N,)
    num_segs: np.ndarray     # (U,)


class FeatureStore(Mapping[str, SpeakerFeatures]):
    """A loaded store: ``store[speaker]`` is the thesis's tuple for that speaker.

    Also holds ``config`` (:class:`FeatureConfig`), ``classes``, ``meta`` (the
    whole ``meta.json``), ``utt_ids[speaker]`` and ``noisy[speaker]``
    ``(K, N, C, F, T)`` when the store has ``--mixnoise`` copies.
    """

    def __init__(self, path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
        self.path, self.meta, self._arrays = path, meta, arrays
        self.config = FeatureConfig.from_dict(meta["config"])
        self.classes: tuple[str, ...] = tuple(meta["classes"])
        self._data: dict[str, SpeakerFeatures] = {}
        self.utt_ids: dict[str, np.ndarray] = {}
        self.noisy: dict[str, np.ndarray] = {}
        seg_end = np.cumsum(arrays["num_segs"])
        for spk, (u0, u1) in meta["speakers"].items():
            s0 = int(seg_end[u0 - 1]) if u0 else 0
            s1 = int(seg_end[u1 - 1]) if u1 else 0
            self._data[spk] = SpeakerFeatures(arrays["segments"][s0:s1],
                                              arrays["utt_labels"][u0:u1],
                                              arrays["seg_labels"][s0:s1],
                                              arrays["num_segs"][u0:u1])
            self.utt_ids[spk] = arrays["utt_ids"][u0:u1]
            if "noisy" in arrays:
                self.noisy[spk] = arrays["noisy"][:, s0:s1]

    def __getitem__(self, speaker: str) -> SpeakerFeatures:
        try:
            return self._data[speaker]
        except KeyError:
            raise KeyError(f"no speaker {speaker!r} in {self.path}; "
                           f"speakers: {sorted(self._data)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    @property
    def speaker_info(self) -> dict[str, dict]:
        """``{speaker: {"gender": "M"|"F"|"U", "session": int | None}}``, for the protocols."""
        return speaker_info(self.meta, self._data)

    def segments_of(self, speaker: str, utt_id: str) -> np.ndarray:
        """The segments ``(n, C, F, T)`` of one utterance of ``speaker``."""
        ids = list(self.utt_ids[speaker])
        if utt_id not in ids:
            raise KeyError(f"no utterance {utt_id!r} of speaker {speaker!r} in {self.path}")
        u = ids.index(utt_id)
        num_segs = self[speaker].num_segs
        start = int(num_segs[:u].sum())
        return self[speaker].segments[start:start + int(num_segs[u])]

    def audio_paths(self, root: str | os.PathLike | None = None) -> list[Path]:
        """Every utterance's audio file ``(U,)`` in the store's order, under ``root`` (default:
        the corpus root recorded at extraction)."""
        if "utt_paths" not in self._arrays:
            raise SerlibError(f"{self.path} does not record its audio files (it was written by "
                              "an older serlib): extract it again")
        base = Path(root if root is not None else self.meta["root"])
        return [base / p for p in self._arrays["utt_paths"]]

    def counts(self) -> pd.DataFrame:
        """Segments per speaker (rows) and class (columns), with totals, as the thesis printed."""
        rows = {spk: np.bincount(d.seg_labels, minlength=len(self.classes))
                for spk, d in self._data.items()}
        table = pd.DataFrame.from_dict(rows, orient="index", columns=list(self.classes))
        table.loc["total"] = table.sum()
        table["total"] = table.sum(axis=1)
        table.index.name, table.columns.name = "speaker", "class"
        return table

    @functools.cached_property
    def fingerprint(self) -> str:
        """A short hash of what the store holds: its speakers, utterances, labels, segment
        counts and a sample of the clean segments' values (not its extraction settings,
        which a run records apart, nor its path). Two extractions of the same audio with
        the same code give the same fingerprint; another corpus, another selection of
        utterances or features computed by other code give another. Reading the sample
        costs a few MB, whatever the store's size (a store on Google Drive included)."""
        digest = hashlib.sha256(json.dumps(
            {"classes": list(self.classes), "speakers": self.meta["speakers"],
             "shape": self.meta["shape"]}, sort_keys=True).encode())
        for name in ("utt_ids", "utt_labels", "num_segs", "seg_labels"):
            digest.update(np.ascontiguousarray(self._arrays[name]).tobytes())
        segments = self._arrays["segments"]
        for i in sorted({0, len(segments) // 2, len(segments) - 1} - {-1}):
            digest.update(np.ascontiguousarray(segments[i]).tobytes())
        return digest.hexdigest()[:16]

    def __repr__(self) -> str:
        shape = self.meta["shape"]
        return (f"FeatureStore({str(self.path)!r}, {self.config.features}, "
                f"{len(self)} speakers, segments {tuple(shape)})")


def load_store(path: str | os.PathLike, *, mmap: bool = True) -> FeatureStore:
    """Load a feature store, memory-mapped unless ``mmap=False``; never unpickles.

    Raises :class:`SerlibError` naming the path when it is not a complete
    store, or when a file in it is not a plain numpy array.
    """
    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        partial = path.with_name(path.name + ".partial")
        hint = " (an extraction into it was interrupted; run it again to resume)" \
            if partial.exists() else ""
        raise SerlibError(f"{path} is not a serlib feature store: no meta.json{hint}")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as e:
        raise SerlibError(f"{meta_path}: not readable JSON ({e})") from None
    if meta.get("format") != FORMAT or not meta.get("complete"):
        raise SerlibError(f"{path} is not a complete serlib feature store")
    if meta.get("version", 0) > VERSION:
        raise SerlibError(f"{path} was written by a newer serlib (format {meta['version']})")
    names = ARRAYS + (("noisy",) if meta["config"].get("mixnoise") else ()) + \
        (("utt_paths",) if (path / "utt_paths.npy").is_file() else ())
    arrays = {}
    for name in names:
        file = path / f"{name}.npy"
        try:
            arrays[name] = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
        except ValueError as e:  # object arrays: a pickle payload, refused
            raise SerlibError(f"{file}: refused, not a plain numpy array ({e})") from None
        except OSError as e:
            raise SerlibError(f"{file}: cannot be read ({e})") from None
    if arrays["segments"].shape[0] != int(arrays["num_segs"].sum()) or \
            list(arrays["segments"].shape) != meta["shape"]:
        raise SerlibError(f"{path}: segments.npy does not match meta.json; the store is damaged")
    return FeatureStore(path, arrays, meta)


def writing_path(out: Path) -> Path:
    """The temporary folder a store at ``out`` is written into before its rename."""
    return out.with_name(f".{out.name}.writing")


#: The file that marks serlib's temporary folders (``.NAME.writing``, ``.NAME.old``).
TEMP_MARKER = ".serlib-temporary"


def is_store(path: Path) -> bool:
    """Whether ``path`` is a feature store that serlib wrote (its ``meta.json`` says so)."""
    try:
        return json.loads((path / "meta.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def write_store_atomically(out: Path, fill) -> Path:
    """Write a store into a temporary folder with ``fill(tmp)``, then rename it to ``out``.

    ``out`` must be new, an empty folder, or a store (checked by the caller before the
    work: :func:`serlib.extract.extract_features`); an existing store is replaced only
    once the new one is complete.
    """
    out = Path(out)
    if out.exists() and not (out.is_dir() and (is_store(out) or not any(out.iterdir()))):
        raise SerlibError(f"{out} is not a feature store: refusing to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = writing_path(out)
    remove_own(tmp, TEMP_MARKER)
    tmp.mkdir()
    (tmp / TEMP_MARKER).touch()
    fill(tmp)
    (tmp / TEMP_MARKER).unlink()
    old = out.with_name(f".{out.name}.old")
    if out.exists():
        remove_own(old, TEMP_MARKER)
        (out / TEMP_MARKER).touch()
        os.replace(out, old)
    os.replace(tmp, out)
    remove_own(old, TEMP_MARKER)
    return out


def write_utterances(folder: Path, table: pd.DataFrame, num_segs: np.ndarray,
                     root: str | os.PathLike) -> None:
    """Every per-utterance array of a store into ``folder``: labels, segments per
    utterance, ids, speakers and paths relative to the corpus ``root``, from the rows of
    ``table`` (columns ``label_id``, ``utt_id``, ``speaker``, ``path``) in store order and
    ``num_segs`` ``(U,)``; the segments themselves are the writer's."""
    labels = table["label_id"].to_numpy(np.int64)
    np.save(folder / "utt_labels.npy", labels)
    np.save(folder / "seg_labels.npy", np.repeat(labels, num_segs))
    np.save(folder / "num_segs.npy", np.asarray(num_segs, np.int64))
    np.save(folder / "utt_ids.npy", table["utt_id"].to_numpy(str))
    np.save(folder / "utt_speakers.npy", table["speaker"].to_numpy(str))
    np.save(folder / "utt_paths.npy", np.array([_relative(p, root) for p in table["path"]],
                                               dtype=str))


def _relative(path: str, root: str | os.PathLike) -> str:
    """``path`` relative to the corpus root where it lies under it (so a moved corpus is
    found again from its new root), else as it is."""
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def write_meta(folder: Path, config: FeatureConfig, **fields) -> None:
    """``meta.json`` of a complete store: the format, the extraction config and ``fields``
    (corpus, root, preset, classes, speakers, speaker_info, shape, ...)."""
    meta = {"format": FORMAT, "version": VERSION, "complete": True,
            "config": config.to_dict(), **fields}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
