"""Speaker-independent cross-validation: protocols, and a runner that resumes.

Protocols, from the speakers present in the feature store (IEMOCAP's and
emoDB's mapped ids, ``1F`` .. ``5M``):

- ``5fold`` (the thesis's): test speakers 1M, 2F, 3M, 4F, 5F; validation is the
  other speaker of the same session.
- ``10fold``: every speaker is the test speaker once; validation as above.
- ``loso``: leave one session out; both of its speakers are tested. No
  validation speaker by default (the last epoch is kept); with
  ``loso_val=True`` the next session's two speakers validate.

When a fold's validation partner is missing from the store, the first other
speaker (in sorted order) validates; a fold whose test speakers are all
missing is dropped.

Each finished fold writes one JSON result into the output folder,
atomically. Running the same command again skips finished folds, so a crash
or Ctrl-C loses at most the fold in progress; a folder holding results of
another configuration is refused.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .config import BASELINES, TrainConfig
from .errors import SerlibError
from .store import FeatureStore

PROTOCOLS = ("5fold", "10fold", "loso")
THESIS_TEST_SPEAKERS = ("1M", "2F", "3M", "4F", "5F")
SEED_TEST_SPEAKERS = THESIS_TEST_SPEAKERS  # the old name
CONFIG_FILE = "cv.json"


@dataclass(frozen=True)
class Fold:
    """One fold: its name, test and validation speakers, repeat number and seed."""

    name: str
    test_ids: tuple[str, ...]
    val_ids: tuple[str, ...]
    repeat: int = 0
    seed: int = 111

    @property
    def key(self) -> str:
        """The fold's file name stem, e.g. ``r0-1M``."""
        return f"r{self.repeat}-{self.name}"


def _partner(speaker: str) -> str:
    return speaker[:-1] + ("M" if speaker.endswith("F") else "F")


def make_folds(protocol: str, speakers: list[str], *, repeats: int = 1, seed: int = 111,
               loso_val: bool = False) -> list[Fold]:
    """The folds of ``protocol`` over ``speakers``, repeated with seeds ``seed + r``."""
    if protocol not in PROTOCOLS:
        raise SerlibError(f"unknown protocol {protocol!r}; choose one of {list(PROTOCOLS)}")
    if repeats < 1:
        raise SerlibError(f"--repeats must be at least 1, not {repeats}")
    present = sorted(speakers)

    def validation(test: tuple[str, ...], wanted: list[str]) -> tuple[str, ...]:
        chosen = [s for s in wanted if s in present and s not in test]
        if chosen or not wanted:
            return tuple(chosen)
        others = [s for s in present if s not in test]
        return tuple(others[:1])

    base: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
    if protocol in ("5fold", "10fold"):
        tests = THESIS_TEST_SPEAKERS if protocol == "5fold" else present
        for spk in tests:
            if spk in present:
                base.append((spk, (spk,), validation((spk,), [_partner(spk)])))
    else:
        sessions = sorted({s[:-1] for s in present}, key=lambda x: (len(x), x))
        for i, session in enumerate(sessions):
            test = tuple(s for s in present if s[:-1] == session)
            nxt = sessions[(i + 1) % len(sessions)]
            wanted = [s for s in present if s[:-1] == nxt] if loso_val and nxt != session \
                else []
            base.append((f"S{session}", test, validation(test, wanted)))
    if not base:
        raise SerlibError(f"protocol {protocol}: none of its test speakers is in the store "
                          f"(speakers: {', '.join(present)})")
    return [Fold(name, test, val, r, seed + r) for r in range(repeats)
            for name, test, val in base]


#: TrainConfig fields that change how fast a fold trains, not what it computes.
EXECUTION_ONLY = ("resident", "compile", "fused")


def _run_identity(store: FeatureStore, protocol: str, config: TrainConfig,
                  loso_val: bool) -> dict:
    """What must match for results to be mixed in one folder (not the fold selection, nor
    how the work is executed: folds trained on a GPU with a resident or compiled model
    belong with the others)."""
    train = {k: v for k, v in asdict(config).items() if k not in EXECUTION_ONLY}
    return {"protocol": protocol, "loso_val": loso_val, "train_config": train,
            "feature_config": store.config.to_dict(), "classes": list(store.classes),
            "corpus": store.meta.get("corpus"), "preset": store.meta.get("preset"),
            "num_segments": store.meta["shape"][0]}


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _with_new_defaults(identity: dict) -> dict:
    """A recorded identity with the training options added since it was written (the
    batch transforms' options, say) at their defaults, so that a folder written by an
    older version still resumes."""
    if "train_config" not in identity:
        return identity
    defaults = {k: v for k, v in asdict(TrainConfig()).items() if k not in EXECUTION_ONLY}
    return {**identity, "train_config": {**defaults, **identity["train_config"]}}


def prepare_out(out: Path, identity: dict, label: str,
                speakers: list[str] | None = None) -> None:
    """Create ``out`` for this run, or check that it holds results of the same run;
    ``speakers`` (the store's, for the report) are recorded beside the identity."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / CONFIG_FILE
    if path.exists():
        recorded = json.loads(path.read_text())
        if _with_new_defaults(recorded.get("identity", {})) != identity:
            diff = sorted(k for k in identity if recorded.get("identity", {}).get(k)
                          != identity[k])
            raise SerlibError(f"{out} holds cross-validation results of another configuration "
                              f"(differs in: {', '.join(diff) or 'format'}); use another "
                              "--out, or delete it to start again")
        return
    write_json(path, {"label": label, "identity": identity,
                      "speakers": sorted(speakers or [])})


def run_label(config: TrainConfig) -> str:
    """A short name for a run: the model and its enhancements, e.g. ``alexnet+stability``."""
    extras = [name for name in ("mixup", "oversampling", "stability", "specaugment")
              if getattr(config, name)]
    return "+".join([config.ser_model, *extras])


def run_cv(store: FeatureStore, protocol: str, config: TrainConfig, out: str | os.PathLike, *,
           repeats: int = 1, folds: list[str] | None = None, loso_val: bool = False,
           keep_checkpoints: bool = False, label: str | None = None, gpu: int | None = None,
           progress: bool = True, log=print) -> list[Path]:
    """Train and evaluate every fold not yet finished in ``out``; returns the result files.

    ``folds`` restricts the run to some folds by name (``1M``, ``S3``), so that
    separate jobs can share a protocol; ``serlib report`` merges their folders.
    """
    from .baselines import fit_baseline
    from .train import check_speakers, save_checkpoint, summary, train_fold

    out = Path(out)
    all_folds = make_folds(protocol, list(store), repeats=repeats, seed=config.seed,
                           loso_val=loso_val)
    if folds:
        names = {f.name for f in all_folds}
        unknown = sorted(set(folds) - names)
        if unknown:
            raise SerlibError(f"--folds {','.join(unknown)}: not a fold of {protocol} here; "
                              f"folds: {', '.join(sorted(names))}")
        all_folds = [f for f in all_folds if f.name in folds]
    prepare_out(out, _run_identity(store, protocol, config, loso_val),
                label or run_label(config), list(store))
    written = []
    for i, fold in enumerate(all_folds, 1):
        path = out / f"fold-{fold.key}.json"
        if path.exists():
            log(f"[fold {i}/{len(all_folds)}] {fold.key}: done already, skipped")
            written.append(path)
            continue
        log(f"[fold {i}/{len(all_folds)}] {fold.key}: test {','.join(fold.test_ids)}, "
            f"validation {','.join(fold.val_ids) or 'none'}, seed {fold.seed}")
        fold_config = TrainConfig(**{**asdict(config), "seed": fold.seed})
        val_ids, test_ids = list(fold.val_ids), list(fold.test_ids)
        if config.ser_model in BASELINES:
            train_ids = check_speakers(store, val_ids, test_ids)
            val, test, num_params = fit_baseline(store, fold_config, train_ids, val_ids,
                                                 test_ids)
            log(f"{config.ser_model}: test ({','.join(test_ids)}) WA {test.wa:.3f} "
                f"UA {test.ua:.3f}")
            outcome = {"val_ids": val_ids, "test_ids": test_ids, "best_epoch": None,
                       "num_params": num_params, "history": {},
                       "val": val.to_dict() if val else None, "test": test.to_dict()}
        else:
            result = train_fold(store, fold_config, val_ids, test_ids, gpu=gpu,
                                progress=progress, log=log)
            if keep_checkpoints:
                save_checkpoint(result, out / f"fold-{fold.key}.pth")
            outcome = summary(result)
        write_json(path, {"fold": fold.name, "repeat": fold.repeat, "seed": fold.seed,
                          "classes": list(store.classes), "model": config.ser_model,
                          "config": asdict(fold_config), **outcome})
        written.append(path)
    return written
