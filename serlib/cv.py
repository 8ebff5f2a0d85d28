"""Speaker-independent cross-validation: protocols, and a runner that resumes.

:data:`PROTOCOLS` maps a name to its fold maker. The thesis's three need
IEMOCAP-style speaker ids ``<session><gender>`` (IEMOCAP's ``1F`` .. ``5M``,
and emoDB's under the thesis's mapping):

- ``5fold`` (the thesis's): test speakers 1M, 2F, 3M, 4F, 5F; validation is the
  other speaker of the same session.
- ``10fold``: every speaker is the test speaker once; validation as above.
- ``loso``: leave one session out; both of its speakers are tested. No
  validation speaker by default (the last epoch is kept); with
  ``loso_val=True`` the next session's two speakers validate.

When a fold's validation partner is missing from the store, the first other
speaker (in sorted order) validates; a fold whose test speakers are all
missing is dropped. On other speaker ids (RAVDESS's ``01`` .. ``24``, CREMA-D's,
TESS's, your own) they raise an error that points to the two that work on any
corpus, using each speaker's gender where the store records it
(``speaker_info`` in its ``meta.json``):

- ``kfold``: speaker k-fold, k = 5 unless the name says another (``kfold:k=10``), and
  fewer when there are fewer speakers.
  Speakers are sorted within each gender (F, then M, then unknown; numbers in
  ids compare as numbers) and dealt round-robin onto the folds, so that each
  fold has as even a share of each gender as the counts allow. Folds are named
  ``k1`` .. ``k5`` (for k = 5). Validation is one training speaker: the first, in dealing
  order, of the next folds with the gender of the fold's first test speaker
  (any gender if none has it).
- ``loso-speaker``: leave one speaker out; every speaker is the test speaker
  once (folds named after the speaker); validation is the next speaker in
  sorted order with the same gender (else the next one).

Both leave validation out when fewer than two speakers remain for training:
with two speakers (TESS) speaker-independent evaluation is limited to
training on one and testing on the other, and a warning says so.

Each finished fold writes one JSON result into the output folder,
atomically. Running the same command again skips finished folds, so a crash
or Ctrl-C loses at most the fold in progress; a folder holding results of
another configuration is refused.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .config import BASELINES, ENHANCEMENTS, CVRun, TrainConfig
from .errors import SerlibError
from .runs import (
    DamagedFold,
    fold_lock,
    fold_path,
    prepare_out,
    read_fold,
    run_identity,
    write_fold,
)

if TYPE_CHECKING:
    from .checkpoints import FoldResult
    from .store import FeatureStore

THESIS_TEST_SPEAKERS = ("1M", "2F", "3M", "4F", "5F")


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


#: A fold maker's result: ``(name, test_ids, val_ids)`` per fold, in order.
BaseFolds = list[tuple[str, tuple[str, ...], tuple[str, ...]]]
SESSION_ID = re.compile(r"^\d+[FM]$")


def _validation(present: list[str], test: tuple[str, ...], wanted: list[str]) -> tuple[str, ...]:
    chosen = [s for s in wanted if s in present and s not in test]
    if chosen or not wanted:
        return tuple(chosen)
    others = [s for s in present if s not in test]
    return tuple(others[:1])


def _thesis_folds(protocol: str, present: list[str], *, loso_val: bool = False) -> BaseFolds:
    """``5fold``, ``10fold`` and ``loso`` over IEMOCAP-style ids, as the thesis made them."""
    base: BaseFolds = []
    if protocol in ("5fold", "10fold"):
        tests = THESIS_TEST_SPEAKERS if protocol == "5fold" else present
        for spk in tests:
            if spk in present:
                base.append((spk, (spk,), _validation(present, (spk,), [_partner(spk)])))
    else:
        sessions = sorted({s[:-1] for s in present}, key=lambda x: (len(x), x))
        for i, session in enumerate(sessions):
            test = tuple(s for s in present if s[:-1] == session)
            nxt = sessions[(i + 1) % len(sessions)]
            wanted = [s for s in present if s[:-1] == nxt] if loso_val and nxt != session \
                else []
            base.append((f"S{session}", test, _validation(present, test, wanted)))
    return base


def natural_key(speaker: str) -> tuple:
    """Sort key under which ``2`` comes before ``10`` (and ``spk2`` before ``spk10``)."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t)
                 for t in re.findall(r"\d+|\D+", speaker))


def _genders(present: list[str], info: dict[str, dict]) -> dict[str, str]:
    return {s: (info.get(s) or {}).get("gender") or "U" for s in present}


def _deal_order(present: list[str], gender: dict[str, str]) -> list[str]:
    """Speakers by gender (F, M, then unknown), each group in natural order."""
    rank = {"F": 0, "M": 1}
    return sorted(present, key=lambda s: (rank.get(gender[s], 2), natural_key(s)))


def _kfold(present: list[str], info: dict[str, dict], *, k: int = 5, **_) -> BaseFolds:
    """Speaker k-fold, gender-balanced by dealing (see the module's description)."""
    if len(present) < 2:
        raise SerlibError(f"kfold needs at least two speakers; the store has {len(present)}")
    if k < 2:
        raise SerlibError(f"protocol kfold:k={k}: k must be 2 or more (default 5)")
    gender = _genders(present, info)
    order = _deal_order(present, gender)
    k = min(k, len(order))
    folds: list[list[str]] = [order[i::k] for i in range(k)]
    base: BaseFolds = []
    for i, test in enumerate(folds):
        val: tuple[str, ...] = ()
        if len(order) - len(test) >= 2:
            later = [s for j in range(1, k) for s in folds[(i + j) % k]]
            same = [s for s in later if gender[s] == gender[test[0]]]
            val = ((same or later)[0],)
        base.append((f"k{i + 1}", tuple(sorted(test, key=natural_key)), val))
    return base


def _loso_speaker(present: list[str], info: dict[str, dict], **_) -> BaseFolds:
    """Leave one speaker out; validation is the next speaker of the same gender."""
    if len(present) < 2:
        raise SerlibError(f"loso-speaker needs at least two speakers; the store has "
                          f"{len(present)}")
    gender = _genders(present, info)
    order = sorted(present, key=natural_key)
    base: BaseFolds = []
    for i, spk in enumerate(order):
        val: tuple[str, ...] = ()
        if len(order) >= 3:
            after = order[i + 1:] + order[:i]
            same = [s for s in after if gender[s] == gender[spk]]
            val = ((same or after)[0],)
        base.append((spk, (spk,), val))
    return base


@dataclass(frozen=True)
class Protocol:
    """A protocol: its fold maker ``make(present, info, *, loso_val, **params)`` over the
    sorted speakers and their ``{"gender", "session"}``, whether it needs IEMOCAP-style
    ids, one line for the command line's help, and the parameters it takes with their
    types (``kfold``'s ``k``), given in the protocol's name as ``kfold:k=10``."""

    make: Callable[..., BaseFolds]
    session_ids: bool
    description: str
    params: dict[str, type] = field(default_factory=dict)


PROTOCOLS: dict[str, Protocol] = {
    "5fold": Protocol(lambda p, i, **kw: _thesis_folds("5fold", p, **kw), True,
                      "the thesis's: test 1M, 2F, 3M, 4F, 5F; validation the session's other "
                      "speaker"),
    "10fold": Protocol(lambda p, i, **kw: _thesis_folds("10fold", p, **kw), True,
                       "every speaker tested once; validation the session's other speaker"),
    "loso": Protocol(lambda p, i, **kw: _thesis_folds("loso", p, **kw), True,
                     "leave one session out (no validation; --loso-val: the next session)"),
    "kfold": Protocol(_kfold, False, "any corpus: speaker k-fold, gender-balanced (k=5; "
                                     "kfold:k=10 for 10)", {"k": int}),
    "loso-speaker": Protocol(_loso_speaker, False,
                             "any corpus: leave one speaker out, every speaker tested once"),
}


def parse_protocol(text: str) -> tuple[str, Protocol, dict]:
    """A protocol with its parameters, ``NAME`` or ``NAME:key=value,...`` (``kfold:k=10``):
    its name, :class:`Protocol` and parameters, checked against the protocol's own."""
    name, _, given = text.partition(":")
    if name not in PROTOCOLS:
        raise SerlibError(f"unknown protocol {text!r}; choose one of {list(PROTOCOLS)} "
                          "(kfold:k=10 for another k)")
    spec, params = PROTOCOLS[name], {}
    for item in filter(None, (part.strip() for part in given.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in spec.params:
            takes = ", ".join(f"{k}=..." for k in spec.params) or "no parameters"
            raise SerlibError(f"protocol {text!r}: {name} takes {takes}")
        try:
            params[key] = spec.params[key](value.strip())
        except ValueError:
            raise SerlibError(f"protocol {text!r}: {key} must be a whole number, e.g. "
                              f"{name}:{key}=10") from None
    return name, spec, params


#: The protocols that work on any speaker ids.
SPEAKER_PROTOCOLS = tuple(name for name, p in PROTOCOLS.items() if not p.session_ids)


def fold_name(name: str) -> str:
    """A fold name that is safe in a file name (``fold-r0-<name>.json``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "fold"


def repeat_seed(seed: int, repeat: int, rule: str = "consecutive") -> int:
    """The seed of repeat ``repeat`` (0-based): ``seed + repeat`` (``consecutive``), or the
    thesis's ``crossval_SER.py`` rule (``thesis``), which adds ``100 * r`` for each
    r up to ``repeat``: 111, 211, 411, 711, 1111 from 111."""
    if rule == "thesis":
        return seed + 100 * repeat * (repeat + 1) // 2
    if rule == "consecutive":
        return seed + repeat
    raise SerlibError(f"--repeat_seeds {rule!r}: choose consecutive or thesis")


def make_folds(protocol: str, speakers: list[str], *, repeats: int = 1, seed: int = 111,
               loso_val: bool = False, speaker_info: dict[str, dict] | None = None,
               seed_rule: str = "consecutive") -> list[Fold]:
    """The folds of ``protocol`` over ``speakers``, repeated with the seeds of
    :func:`repeat_seed` (``seed + r`` unless ``seed_rule`` is ``thesis``).

    ``speaker_info`` (``{speaker: {"gender": "M"|"F"|"U", "session": ...}}``, as
    :attr:`FeatureStore.speaker_info` gives it) lets ``kfold`` and
    ``loso-speaker`` balance genders; without it the genders are read from
    IEMOCAP-style ids, or unknown.
    """
    from .store import parse_speaker_id

    _, spec, params = parse_protocol(protocol)
    if repeats < 1:
        raise SerlibError(f"--repeats must be at least 1, not {repeats}")
    present = sorted(speakers)
    if spec.session_ids and not all(SESSION_ID.match(s) for s in present):
        shown = ", ".join(sorted(present, key=natural_key)[:6]) + \
            (", ..." if len(present) > 6 else "")
        raise SerlibError(f"protocol {protocol} needs IEMOCAP-style speaker ids "
                          f"(<session><gender>, e.g. 1M), and this store's speakers are "
                          f"{shown}: use --protocol kfold (speaker k-fold) or loso-speaker "
                          "(leave one speaker out)")
    info = {s: (speaker_info or {}).get(s) or parse_speaker_id(s) for s in present}
    if not spec.session_ids and len(present) == 2:
        warnings.warn(f"only two speakers ({', '.join(present)}): speaker-independent "
                      f"evaluation is limited to training on one and testing on the other, "
                      f"without a validation speaker", stacklevel=2)
    base = spec.make(present, info, loso_val=loso_val, **params)
    if not base:
        raise SerlibError(f"protocol {protocol}: none of its test speakers is in the store "
                          f"(speakers: {', '.join(present)})")
    names = [fold_name(name) for name, _, _ in base]
    if len(set(names)) < len(names):  # two speakers whose names differ only in odd characters
        names = [f"{n}-{i + 1}" for i, n in enumerate(names)]
    return [Fold(name, test, val, r, repeat_seed(seed, r, seed_rule)) for r in range(repeats)
            for name, (_, test, val) in zip(names, base, strict=True)]


def run_label(config: TrainConfig) -> str:
    """A short name for a run: the model and its enhancements, e.g. ``alexnet+stability``."""
    extras = [name for name in ENHANCEMENTS if getattr(config, name)]
    return "+".join([config.ser_model, *extras])


def _select(all_folds: list[Fold], folds: list[str] | None, protocol: str) -> list[Fold]:
    """The folds named in ``folds`` (all when None); unknown names are an error."""
    if folds is None:
        return all_folds
    names = {f.name for f in all_folds}
    if not folds:
        raise SerlibError(f"--folds: no fold named; give fold names, e.g. "
                          f"{','.join(sorted(names)[:2])}")
    unknown = sorted(set(folds) - names)
    if unknown:
        raise SerlibError(f"--folds {','.join(unknown)}: not a fold of {protocol} here; "
                          f"folds: {', '.join(sorted(names))}")
    return [f for f in all_folds if f.name in folds]


def _folds_of(store: FeatureStore, run: CVRun, config: TrainConfig, *, log) -> list[Fold]:
    from .store import speaker_info

    with warnings.catch_warnings(record=True) as caught:  # said in the run's log
        warnings.simplefilter("always")
        all_folds = make_folds(run.protocol, list(store), repeats=run.repeats, seed=config.seed,
                               loso_val=run.loso_val, seed_rule=config.repeat_seeds,
                               speaker_info=speaker_info(getattr(store, "meta", {}), list(store)))
    for warning in caught:
        log(f"warning: {warning.message}")
    return all_folds


def plan_cv(store: FeatureStore, run: CVRun, config: TrainConfig, out: str | os.PathLike, *,
            overwrite: bool = False, log=print) -> list[Fold]:
    """The folds of a run (``run.folds`` keeps only those with these names), after creating
    ``out`` or checking that it holds results of the same run (``overwrite``: a run
    folder of another configuration is started afresh)."""
    plan = _select(_folds_of(store, run, config, log=log),
                   list(run.folds) if run.folds is not None else None, run.protocol)
    prepare_out(Path(out), run_identity(store, run.protocol, config, run.loso_val),
                run.label or run_label(config), list(store), planned=[f.key for f in plan],
                overwrite=overwrite)
    return plan


def plan_fold(store: FeatureStore, run: CVRun, config: TrainConfig, out: str | os.PathLike,
              key: str, *, log=print) -> Fold:
    """The one fold ``key`` (``r0-1M``) of a run, after creating ``out`` or checking that it
    holds results of the same run (what a worker process or an array task needs)."""
    fold = next((f for f in _folds_of(store, run, config, log=log) if f.key == key), None)
    if fold is None:
        raise SerlibError(f"{store.path}: no fold {key} in protocol {run.protocol}")
    prepare_out(Path(out), run_identity(store, run.protocol, config, run.loso_val),
                run.label or run_label(config), list(store), planned=[key])
    return fold


def run_fold(store: FeatureStore, fold: Fold, config: TrainConfig, out: str | os.PathLike, *,
             keep_checkpoints: bool = False, gpu: int | None = None, progress: bool = True,
             log=print) -> Path:
    """Train and test one fold with the fold's seed, and write its result file atomically
    (the same file whichever process or machine runs it)."""
    from .baselines import fit_baseline
    from .checkpoints import save_checkpoint, summary
    from .train import check_speakers, train_fold

    out = Path(out)
    fold_config = TrainConfig(**{**asdict(config), "seed": fold.seed})
    val_ids, test_ids = list(fold.val_ids), list(fold.test_ids)
    if config.ser_model in BASELINES:
        train_ids = check_speakers(store, val_ids, test_ids)
        val, test, num_params = fit_baseline(store, fold_config, train_ids, val_ids, test_ids)
        log(f"{config.ser_model}: test ({','.join(test_ids)}) WA {test.wa:.3f} UA {test.ua:.3f}")
        outcome = {"val_ids": val_ids, "test_ids": test_ids, "best_epoch": None,
                   "num_params": num_params, "history": {},
                   "val": val.to_dict() if val else None, "test": test.to_dict()}
    else:
        result = train_fold(store, fold_config, val_ids, test_ids, gpu=gpu, progress=progress,
                            log=log, log_dir=out / "tensorboard" / fold.key
                            if config.tensorboard else None)
        if keep_checkpoints:
            save_checkpoint(result, out / f"fold-{fold.key}.pth")
        outcome = summary(result)
    return _write_fold(out, fold, store, fold_config, outcome)


def _write_fold(out: Path, fold: Fold, store: FeatureStore, fold_config: TrainConfig,
                outcome: dict) -> Path:
    return write_fold(out, fold.key, {"fold": fold.name, "repeat": fold.repeat,
                                      "seed": fold.seed, "classes": list(store.classes),
                                      "model": fold_config.ser_model,
                                      "config": asdict(fold_config), **outcome})


def save_fold(result: FoldResult, store: FeatureStore, out: str | os.PathLike, *,
              protocol: str = "5fold", label: str | None = None) -> Path:
    """Record a fold trained by :func:`serlib.train_fold` as the fold of ``protocol``
    with the same test and validation speakers, in ``out``: the file that
    ``run_cv(store, protocol, result.config, out)`` would write for it, so that such a
    run later skips that fold instead of training it again (the notebooks' single
    folds become the first fold of notebook 9's cross-validations).

    Raises :class:`SerlibError` when the speakers are not a fold of ``protocol``, or when
    ``out`` holds results of another configuration.
    """
    from .checkpoints import summary

    config = result.config
    if result.feature_config != store.config.to_dict() or \
            tuple(result.classes) != tuple(store.classes):
        raise SerlibError(f"this fold was trained on other features or classes than those of "
                          f"{store.path}: save it with the store it was trained on")
    folds = _folds_of(store, CVRun(protocol), config, log=lambda _: None)
    fold = next((f for f in folds if (list(f.test_ids), list(f.val_ids)) ==
                 (list(result.test_ids), list(result.val_ids))), None)
    if fold is None:  # refused before anything is written
        raise SerlibError(f"test {','.join(result.test_ids)} with validation "
                          f"{','.join(result.val_ids) or 'none'} is not a fold of {protocol}; "
                          f"its folds: {', '.join(f.name for f in folds)}")
    prepare_out(Path(out), run_identity(store, protocol, config, False),
                label or run_label(config), list(store), planned=[fold.key])
    return _write_fold(Path(out), fold, store, config, summary(result))


def run_cv(store: FeatureStore, run: CVRun | str, config: TrainConfig, out: str | os.PathLike,
           *, gpu: int | None = None, progress: bool = True, overwrite: bool = False, log=print,
           **options) -> list[Path]:
    """Train and evaluate every fold not yet finished in ``out``, one after the other in
    this process; returns the result files. (:mod:`serlib.launch` runs the same folds
    as a SLURM job array or in parallel processes.)

    ``run`` is a :class:`~serlib.config.CVRun`, or a protocol's name with its other fields
    as keyword ``options`` (``run_cv(store, "5fold", config, out, repeats=5)``).
    ``folds`` restricts the run to some folds by name (``1M``, ``S3``), so that
    separate jobs can share a protocol; ``serlib report`` merges their folders. A fold
    file that is damaged is reported and trained again; a fold that another process is
    training (two ``serlib cv`` on one folder) is left to it while this one trains the
    others, then waited for. ``overwrite`` starts afresh a folder of another
    configuration.
    """
    run = CVRun.of(run, **options)
    keep_checkpoints = run.keep_checkpoints
    plan = plan_cv(store, run, config, out, overwrite=overwrite, log=log)
    held = []
    for i, fold in enumerate(plan, 1):
        where = f"[fold {i}/{len(plan)}] {fold.key}"
        if not _run_free_fold(store, fold, config, out, where, keep_checkpoints, gpu, progress,
                              log):
            log(f"{where}: being trained by another process; taking the next fold")
            held.append((where, fold))
    for where, fold in held:  # then wait for the other process, and take over if it died
        log(f"{where}: waiting for the other process to finish it")
        _run_free_fold(store, fold, config, out, where, keep_checkpoints, gpu, progress, log,
                       wait=True)
    return [fold_path(out, fold.key) for fold in plan]


def is_done(out: str | os.PathLike, fold: Fold, log=print, where: str = "") -> bool:
    """Whether the fold's file is there and whole; a damaged one is reported (and the
    caller trains the fold again)."""
    path = fold_path(out, fold.key)
    if not path.exists():
        return False
    try:
        read_fold(path)
        return True
    except DamagedFold as e:
        log(f"{where or fold.key}: {e}; training it again")
        return False


def _run_free_fold(store: FeatureStore, fold: Fold, config: TrainConfig, out, where: str,
                   keep_checkpoints: bool, gpu: int | None, progress: bool, log, *,
                   wait: bool = False) -> bool:
    """Train ``fold`` unless it is done, holding its lock; False (without waiting) when
    another process holds the lock."""
    if is_done(out, fold, lambda _: None):
        log(f"{where}: done already, skipped")
        return True
    lock = fold_lock(out, fold.key)
    if not lock.acquire(blocking=wait):
        return False
    try:
        if is_done(out, fold, log, where):  # finished by the process that held it
            log(f"{where}: done already, skipped")
            return True
        log(f"{where}: test {','.join(fold.test_ids)}, validation "
            f"{','.join(fold.val_ids) or 'none'}, seed {fold.seed}")
        run_fold(store, fold, config, out, keep_checkpoints=keep_checkpoints, gpu=gpu,
                 progress=progress, log=log)
    finally:
        lock.release()
    return True
