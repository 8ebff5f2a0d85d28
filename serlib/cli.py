"""The ``serlib`` command line: argument parsing only, over the package's functions.

Every user error is printed as one ``serlib: error: ...`` message (no
traceback) with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import SerlibError

if TYPE_CHECKING:
    from .config import TrainConfig


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default after its help, unless the help already says it (or there is
    none: ``None`` is explained by the help's own words)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.default == [] or "default" in text:
            return text
        return super()._get_help_string(action)


#: Every subcommand's help lists each option's default.
_FORMAT = {"formatter_class": _Help}
#: What the training defaults are, said in ``serlib train/cv --help``.
SETTINGS_NOTE = (
    "The defaults are the thesis's settings, sized for a GPU (100 epochs at 256 px: hours "
    "per fold on a CPU). The course's quick CPU settings, about a minute per fold on its "
    "synthetic corpus: --num_epochs 15 --batch_size 32 --image_size 64 --lr 3e-4 "
    "--select_by ua --scaler speaker.")
QUICK_FLAGS = "--num_epochs 15 --batch_size 32 --image_size 64 --lr 3e-4 --select_by ua " \
    "--scaler speaker"


def _note_settings(config: TrainConfig, gpu: int | None) -> None:
    """Say so when the thesis's GPU-sized settings are about to train on a CPU."""
    import torch

    on_cpu = gpu == 0 or config.device == "cpu" or (
        config.device == "auto" and not torch.cuda.is_available()
        and not torch.backends.mps.is_available())
    if on_cpu and (config.num_epochs >= 50 or config.image_size >= 224):
        print(f"note: training on the CPU with {config.num_epochs} epochs at "
              f"{config.image_size} px per fold, the thesis's settings for a GPU: on a "
              f"real corpus that takes hours per fold. The course's quick settings: "
              f"{QUICK_FLAGS}", file=sys.stderr)


def _corpora() -> dict:
    """The registry of corpora (:data:`serlib.corpora.registry.CORPORA`): the choices."""
    from .corpora.registry import CORPORA

    return CORPORA


def _corpus_options(p: argparse.ArgumentParser) -> None:
    """One option per :class:`~serlib.config.CorpusOptions` field (index, extract), with the
    registry's corpora as the choices."""
    from .config import CorpusOptions

    corpora = _corpora()
    defaults = ", ".join(f"{s.default_preset} ({n})" for n, s in corpora.items()
                         if s.default_preset)
    _dataclass_options(p, CorpusOptions, choices={"corpus": list(corpora)}, help={
        "preset": f"a preset (defaults: {defaults}; others: full-4, emodb-4, ravdess-7, "
                  "...-4) or a mapping such as 'ang=anger,exc=happiness'"})


def _add_synth(sub: argparse._SubParsersAction) -> None:
    layouts = [n for n, s in _corpora().items() if s.synth is not None]
    p = sub.add_parser("synth", **_FORMAT, help="write a synthetic corpus in the layout of a "
                       f"corpus ({', '.join(layouts)})")
    p.add_argument("--layout", choices=layouts, default="iemocap",
                   help="whose folders, file names and labels to imitate")
    p.add_argument("--out", type=Path, required=True, help="folder to write the corpus into")
    p.add_argument("--utterances", type=int, default=1000, help="number of utterances")
    p.add_argument("--seed", type=int, default=0, help="of the corpus: its voices and texts")
    p.add_argument("--jobs", type=int, default=None, help="processes (None: all cores)")
    p.set_defaults(run=_run_synth)


def _run_synth(args: argparse.Namespace) -> None:
    from .corpora import synthesize
    from .files import check_writable

    check_writable(args.out, "--out")

    out = synthesize(args.out, args.layout, args.utterances, args.seed, jobs=args.jobs)
    print(f"synthetic {args.layout} corpus of {args.utterances} utterances in {out}")


def _add_index(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", **_FORMAT, help="write the utterance table of a corpus")
    _corpus_options(p)
    p.add_argument("--out", type=Path, required=True, help="CSV file to write")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing utterance table (only ever serlib's own)")
    p.set_defaults(run=_run_index)


def _is_table(path: Path) -> bool:
    """Whether ``path`` is an utterance table that serlib wrote (its header)."""
    from .corpora.table import BASE_COLUMNS

    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().strip().split(",")[:len(BASE_COLUMNS)] == BASE_COLUMNS
    except (OSError, UnicodeDecodeError):
        return False


def _run_index(args: argparse.Namespace) -> None:
    from .config import CorpusOptions
    from .files import check_writable, claim_file

    claim_file(args.out, ours=_is_table, what="an utterance table", option="--out",
               overwrite=args.overwrite)
    check_writable(args.out, "--out")
    index = _from_args(CorpusOptions, args).index()
    path = index.to_csv(args.out)
    print(index.summary())
    print(f"table written to {path}")


def _add_download(sub: argparse._SubParsersAction) -> None:
    from .corpora import EMODB_URL

    p = sub.add_parser("download", **_FORMAT, help="download a public corpus (emoDB)")
    p.add_argument("--corpus", choices=["emodb"], default="emodb",
                   help="the corpus to download (the only public one)")
    p.add_argument("--out", type=Path, required=True, help="folder to unpack into")
    p.add_argument("--url", default=EMODB_URL, help="address of the zip (default: official)")
    p.set_defaults(run=_run_download)


def _run_download(args: argparse.Namespace) -> None:
    from .corpora import download_emodb
    from .files import check_writable

    check_writable(args.out, "--out")

    download_emodb(args.out, args.url)


def _flag(p: argparse.ArgumentParser, name: str, **kwargs) -> None:
    """An option spelled both as the thesis's code did (``--segment_size``) and in kebab-case."""
    spellings = dict.fromkeys([f"--{name}", f"--{name.replace('_', '-')}"])
    p.add_argument(*spellings, dest=name, **kwargs)


def _add_extract(sub: argparse._SubParsersAction) -> None:
    from .config import FeatureConfig

    p = sub.add_parser("extract", **_FORMAT,
                       help="extract segmented spectrogram features into a store")
    _corpus_options(p)
    _dataclass_options(p, FeatureConfig)  # NoiseConfig's fields too: --noise, --snr_db, ...
    p.add_argument("--jobs", type=int, default=None, help="processes (None: all cores)")
    p.add_argument("--out", type=Path, required=True,
                   help="the store (a folder) to write: new, empty, or a store of serlib's")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a store of another extraction at --out (never anything else)")
    p.set_defaults(run=_run_extract)


def _run_extract(args: argparse.Namespace) -> None:
    from .config import CorpusOptions, FeatureConfig
    from .extract import extract_features, summarize

    config = _from_args(FeatureConfig, args)
    config.noise.check()  # argument errors first, before a long scan of the corpus
    index = _from_args(CorpusOptions, args).index()
    for problem in index.problems:
        print(f"left out: {problem}")
    for warning in index.warnings:
        print(f"warning: {warning}")
    out = extract_features(index, config, args.out, jobs=args.jobs, overwrite=args.overwrite)
    print(summarize(out))


def _nested(f) -> type | None:
    """The dataclass a field holds (``FeatureConfig.noise``), whose fields are options too."""
    from dataclasses import MISSING, is_dataclass

    return f.default_factory if f.default_factory is not MISSING and \
        is_dataclass(f.default_factory) else None


def _dataclass_options(p: argparse.ArgumentParser, cls, *, choices: dict | None = None,
                       help: dict | None = None) -> None:
    """One option per field of the dataclass ``cls`` (:class:`~serlib.config.TrainConfig`,
    :class:`~serlib.config.CVRun`, :class:`~serlib.config.FeatureConfig` with its
    :class:`~serlib.config.NoiseConfig`, :class:`~serlib.config.CorpusOptions`,
    :class:`~serlib.launch.SlurmOptions`), spelled as the field is named, with its default,
    and the help, choices and other ``add_argument`` keywords of its metadata (or ``help``
    and ``choices`` by field name). A field without a default is a required option; a tuple
    field takes a comma-separated list (``--folds 1M,2F``, ``--snr_db 0,20``)."""
    from dataclasses import MISSING, fields

    for f in fields(cls):
        if nested := _nested(f):
            _dataclass_options(p, nested, choices=choices, help=help)
            continue
        meta = dict(f.metadata)  # what is left after help and choices goes to add_argument
        own_help, own_choices = meta.pop("help", None), meta.pop("choices", None)
        text = (help or {}).get(f.name) or own_help
        field_choices = (choices or {}).get(f.name) or own_choices
        required = f.default is MISSING
        kwargs = {"default": None if required else f.default, "help": text}
        if required:
            kwargs["required"] = True
        if f.default is False:
            kwargs["action"] = "store_true"
        elif isinstance(f.default, bool) or f.type == "bool | None":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif meta.get("action") == "append":  # repeatable; argparse appends to a list
            kwargs["default"] = []
        elif "tuple[float" in str(f.type):
            kwargs["type"] = _csv_tuple(f.name, float)
        elif "tuple" in str(f.type):
            kwargs["type"] = _csv_tuple(f.name)
        else:
            kwargs["type"] = str if kwargs["default"] is None else type(kwargs["default"])
            kwargs["choices"] = field_choices
        _flag(p, f.name, **{**kwargs, **meta})


def _from_args(cls, args: argparse.Namespace):
    """The dataclass ``cls`` built from the options :func:`_dataclass_options` made."""
    from dataclasses import fields

    values = {}
    for f in fields(cls):
        nested = _nested(f)
        value = _from_args(nested, args) if nested else getattr(args, f.name)
        values[f.name] = tuple(value) if isinstance(value, list) else value
    return cls(**values)


def _csv_tuple(name: str, kind: type = str):
    """``--NAME a,b`` as ``("a", "b")`` (or numbers, ``kind=float``); a list of nothing
    (``--folds ,,``) or a word for a number is one line."""
    def parse(text: str) -> tuple:
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        if not names:  # argparse reports it as one error line after the usage
            raise argparse.ArgumentTypeError(
                f"{text!r}: no {name.removesuffix('s')} named; give a comma-separated list, "
                "e.g. 1M,2F (S1 for loso, k1 for kfold), or leave the option out")
        if kind is float:
            try:
                return tuple(float(v) for v in names)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"{text!r}: give numbers separated by a comma, e.g. 0,20") from None
        return names
    return parse


def _cv_run(args: argparse.Namespace):
    """The :class:`~serlib.config.CVRun` of parsed ``serlib cv`` options."""
    from .config import CVRun

    return _from_args(CVRun, args)


def _train_options(p: argparse.ArgumentParser) -> None:
    """The options of a training run, shared by ``serlib train`` and ``serlib cv``: one per
    :class:`~serlib.config.TrainConfig` field, with its default, help and choices."""
    from .config import TrainConfig

    p.add_argument("features", type=Path, help="a feature store made by 'serlib extract'")
    _dataclass_options(p, TrainConfig)
    p.add_argument("--gpu", type=int, choices=[0, 1], default=None,
                   help="the thesis's switch: 0 CPU, 1 GPU (CPU with a warning if none)")
    _flag(p, "progress", action=argparse.BooleanOptionalAction, default=True,
          help="progress bars (--no-progress for logs: one line per epoch)")


def _train_config(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of parsed ``serlib train``/``serlib cv`` options."""
    from .config import TrainConfig

    if args.features.is_file():
        raise SerlibError(f"{args.features} is a file, not a serlib feature store (serlib "
                          "never loads pickles); make a store with 'serlib extract'")
    return _from_args(TrainConfig, args)


def train_flags(config: TrainConfig) -> list[str]:
    """The ``serlib train``/``serlib cv`` options that reproduce ``config``: every field that
    differs from the defaults, e.g. ``["--num_epochs", "10", "--select_by", "ua"]``."""
    from dataclasses import fields

    from .config import TrainConfig

    default, flags = TrainConfig(), []
    for f in fields(TrainConfig):
        value = getattr(config, f.name)
        if value == getattr(default, f.name):
            continue
        if isinstance(value, bool):
            # A switch on (or automatic) by default has a --no- spelling; one off by default not.
            negative = getattr(default, f.name) is not False
            flags.append(f"--{f.name}" if value else f"--no-{f.name.replace('_', '-')}"
                         if negative else "")
        elif value is not None:
            flags += [f"--{f.name}", str(value)]
    return [flag for flag in flags if flag]


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", **_FORMAT, help="train one fold (the thesis's train_ser.py "
                       "command line)", description="Train one fold. " + SETTINGS_NOTE)
    _train_options(p)
    _flag(p, "val_id", required=True, help="validation speaker, e.g. 1F")
    _flag(p, "test_id", required=True, help="test speaker, e.g. 1M")
    _flag(p, "save_label", default="model",
          help="the best model is saved to LABEL.pth as training goes (an interrupted "
               "training keeps its best epoch so far), TensorBoard logs to LABEL-tensorboard/")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing LABEL.pth (only ever a serlib checkpoint)")
    p.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> None:
    from .checkpoints import describe, is_checkpoint, save_checkpoint
    from .features import load_features
    from .files import check_writable, claim_file
    from .logs import check_log_dir
    from .train import train_fold

    config = _train_config(args)
    path = Path(f"{args.save_label}.pth")
    log_dir = Path(f"{args.save_label}-tensorboard")
    # Every output is checked before the first epoch, not after the last.
    claim_file(path, ours=is_checkpoint, what="a checkpoint", option="--save_label",
               overwrite=args.overwrite)
    check_writable(path, "--save_label")
    if config.tensorboard:
        check_log_dir(log_dir)
    store = load_features(args.features)
    _note_settings(config, args.gpu)
    saved: dict = {}

    def keep_best(result) -> None:  # each new best epoch replaces the file, atomically
        save_checkpoint(result, path)
        saved["epoch"], saved["val"] = result.best_epoch, result.val

    try:
        result = train_fold(store, config, args.val_id, args.test_id, gpu=args.gpu,
                            progress=args.progress, log_dir=log_dir, on_best=keep_best)
    except KeyboardInterrupt:
        if saved:
            val = saved["val"]
            scores = f", validation WA {val.wa:.3f} UA {val.ua:.3f}" if val else ""
            print(f"serlib: interrupted; the best epoch so far (epoch {saved['epoch']}"
                  f"{scores}) is kept in {path}, without test scores", file=sys.stderr)
        else:
            print("serlib: interrupted before the first epoch ended; nothing saved",
                  file=sys.stderr)
        raise SystemExit(130) from None
    save_checkpoint(result, path)
    print(describe(result))
    print(f"best model saved to {path}")


def _add_cv(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cv", **_FORMAT, help="speaker-independent cross-validation (resumable)",
                       description="Speaker-independent cross-validation: each fold's result is "
                       "one file in --out, and the same command resumes. " + SETTINGS_NOTE)
    _train_options(p)
    from .config import CVRun
    from .cv import PROTOCOLS

    _dataclass_options(p, CVRun, help={  # checked by serlib.cv.parse_protocol: kfold:k=10
        "protocol": "; ".join(f"{n}: {v.description}" for n, v in PROTOCOLS.items())})
    p.add_argument("--out", type=Path, required=True,
                   help="folder for the fold results: new, empty, or this run's (to resume)")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh a run folder of another configuration at --out, "
                        "deleting its fold results (never files serlib did not make)")
    _launcher_options(p)
    p.set_defaults(run=_run_cv)


def _launcher_options(p: argparse.ArgumentParser) -> None:
    """Where the folds run (:mod:`serlib.launch`): here one after another, in parallel
    processes, or as a SLURM job array."""
    from .launch import LAUNCHERS, SlurmOptions

    g = p.add_argument_group("launchers", "where the folds run; every launcher writes the same "
                                          "fold files and skips finished ones")
    g.add_argument("--launcher", choices=LAUNCHERS, default="sequential",
                   help="sequential (here, one after another; the default), local (parallel "
                        "processes: --devices or --workers) or slurm (a job array)")
    g.add_argument("--devices", default=None,
                   help="local: GPUs to use, one process each, e.g. 0,1,2")
    g.add_argument("--workers", type=int, default=None,
                   help="local: CPU processes, sharing the cores (default 1)")
    _dataclass_options(g, SlurmOptions)
    _flag(g, "slurm_folder", type=Path, default=None,
          help="slurm: submitit's scripts and logs (default: OUT/slurm)")


def _launcher_settings(args: argparse.Namespace) -> dict:
    """The launcher options, checked, as :func:`serlib.launch.run_units` takes them."""
    from .launch import SlurmOptions

    if args.launcher != "local" and (args.devices or args.workers):
        raise SerlibError("--devices and --workers are options of --launcher local")
    if args.devices and args.workers:
        raise SerlibError("give --devices (GPUs) or --workers (CPU processes), not both")
    try:
        devices = [int(d) for d in args.devices.split(",")] if args.devices else None
    except ValueError:
        raise SerlibError(f"--devices {args.devices!r}: give GPU numbers, e.g. 0,1,2") \
            from None
    slurm = _from_args(SlurmOptions, args)
    slurm.parameters()  # argument errors now, not after a scan of the folds
    return {"devices": devices, "workers": args.workers, "slurm": slurm,
            "folder": args.slurm_folder, "gpu": args.gpu, "progress": args.progress}


def _run_cv(args: argparse.Namespace) -> None:
    from .config import BASELINES
    from .cv import run_cv
    from .features import load_features
    from .files import check_writable
    from .launch import cv_units, run_units

    config, run = _train_config(args), _cv_run(args)
    settings = _launcher_settings(args)  # argument errors before the store is read
    check_writable(args.out, "--out")
    store = load_features(args.features)
    if args.launcher != "slurm" and config.ser_model not in BASELINES:
        _note_settings(config, args.gpu)
    if args.launcher == "sequential":  # in this process, with its fold-by-fold log
        run_cv(store, run, config, args.out, gpu=args.gpu, progress=args.progress,
               overwrite=args.overwrite)
    else:
        run_units(cv_units(store, run, config, args.out, overwrite=args.overwrite),
                  args.launcher, **settings)
    if args.launcher == "slurm":
        print(f"see how far it is with: serlib status {args.out}")
    else:
        print(f"fold results in {args.out}; make the report with: serlib report {args.out}")


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", **_FORMAT,
                       help="several cross-validation runs from a sweep file (TOML)")
    p.add_argument("file", type=Path, help="the sweep file (see sweeps/thesis-table.toml)")
    p.add_argument("--gpu", type=int, choices=[0, 1], default=None,
                   help="sequential: 0 CPU, 1 GPU")
    _flag(p, "progress", action=argparse.BooleanOptionalAction, default=True,
          help="progress bars (sequential)")
    _launcher_options(p)
    p.set_defaults(run=_run_sweep)


def _run_sweep(args: argparse.Namespace) -> None:
    from .launch import run_units
    from .sweep import load_sweep, sweep_units

    sweep = load_sweep(args.file)
    units = sweep_units(sweep)
    if args.launcher == "slurm" and args.slurm_folder is None:
        args.slurm_folder = sweep.runs[0].out.parent / "slurm"
    run_units(units, args.launcher, **_launcher_settings(args))
    folders = " ".join(str(run.out) for run in sweep.runs)
    print(f"status: serlib status {args.file}\nreport: serlib report {folders}")


def _add_status(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", **_FORMAT, help="each fold of runs: done, running (held by a "
                       "process), pending, damaged; SLURM's queued and failed ones with their "
                       "logs")
    p.add_argument("runs", type=Path, nargs="+", help="'serlib cv' folders, or sweep files")
    p.set_defaults(run=_run_status)


def _run_status(args: argparse.Namespace) -> None:
    from .launch import recorded_units, status_lines
    from .runs import read_config, run_status_lines
    from .sweep import load_sweep

    folders = []
    for path in args.runs:
        folders += [run.out for run in load_sweep(path).runs] if path.suffix == ".toml" \
            else [path]
    for folder in folders:
        units = recorded_units(folder)
        if units:
            print("\n".join(status_lines(units)))
            continue
        if not folder.exists():
            raise SerlibError(f"{folder}: no such run folder; give a 'serlib cv' --out "
                              "folder or a sweep file")
        if read_config(folder) is None:
            raise SerlibError(f"{folder} is not a 'serlib cv' run folder (no cv.json)")
        print("\n".join(run_status_lines(folder)))


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", **_FORMAT, help="test trained checkpoints on every speaker "
                       "of another store (cross-corpus)")
    p.add_argument("features", type=Path, help="the store to test on ('serlib extract')")
    p.add_argument("--checkpoint", type=Path, nargs="+", required=True,
                   help="LABEL.pth files, or 'serlib cv --keep-checkpoints' folders")
    p.add_argument("--out", type=Path, required=True,
                   help="folder for the fold results ('serlib report' reads it)")
    p.add_argument("--label", default=None, help="the run's name in reports")
    p.add_argument("--device", default="cpu", help="cpu, cuda or mps")
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> None:
    from .crosscorpus import run_evaluate
    from .features import load_features

    store = load_features(args.features)
    run_evaluate(args.checkpoint, store, args.out, label=args.label, device=args.device)
    print(f"fold results in {args.out}; make the report with: serlib report {args.out}")


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", **_FORMAT, help="tables and figures of cross-validation folders")
    p.add_argument("folders", type=Path, nargs="+", help="'serlib cv' output folders")
    p.add_argument("--out", type=Path, default=Path("report"),
                   help="folder for the report: new, empty, or a report of serlib's (replaced)")
    p.add_argument("--reference", default=None,
                   help="the run (its label) that the others are compared with, paired fold by "
                        "fold (default: the first run given)")
    p.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> None:
    from .report import write_report

    written = write_report(args.folders, args.out, reference=args.reference)
    print(f"tables and figures in {args.out} ({len(written['figures'])} figure files)")


def _add_predict(sub: argparse._SubParsersAction) -> None:
    from .audio import AUDIO_SUFFIXES
    from .inference import MAX_DURATION_S

    p = sub.add_parser("predict", **_FORMAT,
                       help="the emotion of recordings, with a trained checkpoint",
                       description="The emotion of each recording: one speaker's utterance of "
                       "a few seconds is what the model was trained on. It always answers one "
                       "of its classes, never 'none of these': a warning says when a file "
                       "holds little or no speech, is truncated or lossy, and a recording "
                       f"longer than {MAX_DURATION_S:.0f} s is answered per part. Warnings go "
                       "to stderr as 'warning: FILE: ...'.")
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", type=Path, help="LABEL.pth from training")
    model.add_argument("--onnx", type=Path,
                       help="a model from 'serlib export' (onnxruntime, no torch needed)")
    p.add_argument("files", type=Path, nargs="+",
                   help=f"audio files ({', '.join(s[1:] for s in AUDIO_SUFFIXES)}; any rate, "
                        "mono or stereo), each best one utterance of a few seconds")
    p.add_argument("--segments", action="store_true",
                   help="also print each 3 s segment's probabilities, by its start time")
    p.add_argument("--keep-going", "--keep_going", dest="keep_going", action="store_true",
                   help="predict the other files when one cannot be read, report the skipped "
                        "ones, and still exit with status 2 at the end; without it, the first "
                        "unreadable file stops the command")
    p.add_argument("--device", default="cpu",
                   help="where the checkpoint's network runs: cpu, cuda, cuda:N, mps or "
                        "auto (--onnx always runs on the CPU)")
    p.set_defaults(run=_run_predict)


def _run_predict(args: argparse.Namespace) -> None:
    from .errors import BadAudioError

    if args.onnx:
        from .deploy import OnnxPredictor

        predictor = OnnxPredictor(args.onnx)
    else:
        from .predict import Predictor

        predictor = Predictor(args.checkpoint, args.device)
    header = "  ".join(f"{c:>10s}" for c in predictor.classes)

    def row(label: str, probs) -> str:
        return f"  {label:>8s}  " + "  ".join(f"{p:10.3f}" for p in probs)

    skipped = []
    for path in args.files:
        try:
            pred = predictor.predict(path)
        except BadAudioError as e:
            if not args.keep_going:
                hint = " (--keep-going predicts the other files)" if len(args.files) > 1 else ""
                raise SerlibError(f"{path}: {e.reason}{hint}") from None
            print(f"skipped: {path}: {e.reason}", file=sys.stderr)
            skipped.append(path)
            continue
        for warning in pred.warnings:
            print(f"warning: {path}: {warning}", file=sys.stderr)
        print(f"{path}: {pred.emotion}" + (f" (the whole file; {len(pred.parts)} parts below)"
                                           if pred.parts else ""))
        print(f"  {'':>8s}  {header}")
        print(row("file", pred.probs))
        for part in pred.parts:
            print(row("part", part.probs) + f"  {part.start_s:.1f}-{part.end_s:.1f} s: "
                  f"{part.emotion}")
        if args.segments:
            for start, probs in zip(pred.segment_starts_s, pred.segment_probs, strict=True):
                print(f"  {start:7.2f}s  " + "  ".join(f"{p:10.3f}" for p in probs))
    if skipped:
        names = ", ".join(str(p) for p in skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        raise SerlibError(f"{len(skipped)} of {len(args.files)} file(s) could not be read and "
                          f"were skipped ({names}; the reasons are above)")


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", **_FORMAT, help="a checkpoint as an ONNX model, image "
                       "preparation and metadata included")
    p.add_argument("--checkpoint", type=Path, required=True, help="LABEL.pth from training")
    p.add_argument("--onnx", type=Path, required=True, help="the .onnx file to write")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing ONNX model of serlib's at --onnx")
    p.set_defaults(run=_run_export)


def _run_export(args: argparse.Namespace) -> None:
    from .deploy import export_onnx

    path = export_onnx(args.checkpoint, args.onnx, overwrite=args.overwrite)
    print(f"ONNX model written to {path}; predict with: serlib predict --onnx {path} FILE.wav")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", **_FORMAT,
                       help="the main job on the synthetic corpus (or IEMOCAP_DIR)")
    p.add_argument("--data", type=Path, default=Path("data"), help="folder for generated data")
    p.add_argument("--utterances", type=int, default=1500, help="synthetic corpus size")
    p.add_argument("--seed", type=int, default=0, help="of the synthetic corpus")
    p.add_argument("--full", action="store_true",
                   help="the thesis's settings (100 epochs, ImageNet weights, 5 repeats): a GPU's")
    _flag(p, "num_epochs", type=int, default=None, help="override the epochs")
    _flag(p, "image_size", type=int, default=None, help="override the image size")
    p.add_argument("--repeats", type=int, default=None,
                   help="repeats of the cross-validation, each with its own training seeds "
                        "(default 2: 10 fold-and-repeat pairs, the fewest on which the paired "
                        "test can decide at 95 %%; 5 with --full)")
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from .demo import FULL, QUICK, DemoConfig, run_demo
    from .files import check_writable

    train = FULL if args.full else QUICK
    overrides = {k: v for k, v in (("num_epochs", args.num_epochs),
                                   ("image_size", args.image_size)) if v is not None}
    repeats = args.repeats if args.repeats is not None else (
        5 if args.full else DemoConfig.repeats)
    if repeats < 1:
        raise SerlibError(f"--repeats {args.repeats} must be 1 or more")
    config = DemoConfig(args.data, args.utterances, args.seed,
                        train=replace(train, **overrides), repeats=repeats)
    if args.data.exists() and not args.data.is_dir():
        raise SerlibError(f"--data {args.data} is a file; give a folder for the demo's data")
    check_writable(args.data, "--data")
    run_demo(config)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one ``serlib: error: ...`` line (exit status 2)
    that says where the help is, instead of the usage and an error."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        self.exit(2, f"serlib: error: {message} (see: {self.prog} --help)\n")

    def _get_option_tuples(self, option_string: str) -> list:
        # An abbreviation (--segment) matches both spellings of one option (--segment_size,
        # --segment-size): that is one option, not an ambiguity.
        seen, unique = set(), []
        for match in super()._get_option_tuples(option_string):
            if id(match[0]) not in seen:
                seen.add(id(match[0]))
                unique.append(match)
        return unique


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``serlib`` command."""
    from . import __version__

    parser = _Parser(
        prog="serlib", description="Speech emotion recognition with pre-trained image classifiers")
    parser.add_argument("--version", action="version", version=f"serlib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_synth, _add_index, _add_download, _add_extract, _add_train, _add_predict,
                _add_cv, _add_sweep, _add_status, _add_evaluate, _add_export, _add_report,
                _add_demo):
        add(sub)
    return parser


#: What to do about an operating system's error, by its errno name.
_OS_ADVICE = {
    "EROFS": "the disk is read-only: choose a writable location",
    "ENOSPC": "the disk is full: free some space and run the same command again (finished "
              "work is kept)",
    "EDQUOT": "the disk quota is used up: free some space and run the same command again",
    "EACCES": "permission denied: choose a location you may write to",
    "EPERM": "not permitted: choose a location you may write to",
    "ENOENT": "no such file or folder",
    "EISDIR": "a folder where a file was expected",
    "ENOTDIR": "a file where a folder was expected",
}


def os_error_message(error: OSError, output: Path | None = None) -> str:
    """One line for an operating system's error: the file (else the command's ``output``),
    what happened, what to do."""
    import errno

    name = errno.errorcode.get(error.errno or 0, "")
    where = error.filename if error.filename is not None else (output or "")
    advice = _OS_ADVICE.get(name, error.strerror or str(error))
    return f"{where}: {advice}" if where else advice


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status. Every error a user can cause ends in
    one ``serlib: error: ...`` line (status 2), never a traceback."""
    from concurrent.futures.process import BrokenProcessPool

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except SerlibError as e:
        print(f"serlib: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("serlib: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a full or read-only disk, a file that vanished midway
        output = next((getattr(args, k) for k in ("out", "onnx", "data", "save_label")
                       if getattr(args, k, None) is not None), None)
        print(f"serlib: error: {os_error_message(e, output)}", file=sys.stderr)
        return 2
    except BrokenProcessPool:
        print("serlib: error: a worker process died (out of memory, or a full disk?); run the "
              "same command again to resume, with fewer --jobs if memory is short",
              file=sys.stderr)
        return 2
    except MemoryError:
        print("serlib: error: out of memory; try a smaller --batch_size or fewer --jobs",
              file=sys.stderr)
        return 2
    return 0
