"""The main job that ``make demo`` runs: corpus -> features -> baselines and 5-fold
cross-validation -> report.

With ``IEMOCAP_DIR`` or ``EMODB_DIR`` (or another corpus's variable of the
registry) set in the environment it runs on that corpus; otherwise on the
embedded synthetic corpus, made on first use. Corpora whose speaker ids are not
IEMOCAP-style (RAVDESS, CREMA-D, TESS, your own) run ``kfold`` instead of the
thesis's ``5fold``. Every
stage skips work that is already done, so a second run (or one after Ctrl-C)
picks up where the last one stopped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .config import (
    BASELINES,
    ENHANCEMENTS,
    EXECUTION_ONLY,
    QUICK,
    THESIS,
    CVRun,
    FeatureConfig,
    TrainConfig,
)
from .corpora import CORPORA, CorpusIndex, corpus_from_environment, index_corpus, synthesize
from .files import claim_folder

#: The thesis's full settings (for a GPU): the demo's ``--full``.
FULL = THESIS
#: The smallest synthetic corpus (turns) on which the quick settings were measured to learn
#: on every fold (benchmarks/RECIPE.md): at 1,000 turns one corpus of two had folds near chance.
MEASURED_FROM = 1500


@dataclass(frozen=True)
class DemoConfig:
    """The demo's settings: where data goes, the synthetic corpus, features and training."""

    data_dir: Path = Path("data")
    utterances: int = 1500
    seed: int = 0
    features: FeatureConfig = field(default_factory=FeatureConfig)
    train: TrainConfig = QUICK
    #: Two repeats give 10 fold-and-repeat pairs: with 5 (one repeat) the paired sign-flip
    #: test can never reach p < 0.05 (:mod:`serlib.stats`).
    repeats: int = 2


def _suffix(config: DemoConfig) -> str:
    """``""`` for the default synthetic corpus, else its size and seed: corpora (and the demo's
    outputs) of other sizes and seeds get folders of their own."""
    default = DemoConfig()
    if (config.utterances, config.seed) == (default.utterances, default.seed):
        return ""
    return f"-{config.utterances}-seed{config.seed}"


def run_name(train: TrainConfig) -> str:
    """The demo's folder name for its CNN run: the model and its enhancements
    (:func:`serlib.cv.run_label`), ``thesis`` for the full settings, then each setting that
    differs from the quick (or the full) settings, e.g. ``alexnet_gap-num_epochs5``, so
    that a demo with other settings gets a folder of its own instead of finding its
    earlier one refused."""
    from .cv import run_label

    full = train.pretrained and not QUICK.pretrained
    base = FULL if full else QUICK
    changed = [f"{k}{v}" for k, v in asdict(train).items()
               if k not in EXECUTION_ONLY and k != "ser_model" and getattr(base, k) != v
               and k not in ENHANCEMENTS]
    return "-".join([run_label(train), *(["thesis"] if full else []), *changed])


def corpus_root(config: DemoConfig, *, progress: bool = True) -> tuple[str, Path]:
    """The corpus the demo runs on: ``(corpus, root)``, synthesizing it if needed."""
    real = corpus_from_environment()
    if real:
        return real
    root = config.data_dir / f"synth-iemocap{_suffix(config)}"
    synthesize(root, "iemocap", config.utterances, config.seed, progress=progress)
    return "iemocap", root


def small_corpus_note(config: DemoConfig, real: bool) -> str | None:
    """A warning for a synthetic corpus smaller than any the quick settings were measured on."""
    if real or config.utterances >= MEASURED_FROM:
        return None
    return (f"note: the quick settings were measured to learn on every fold of synthetic "
            f"corpora of {MEASURED_FROM:,} turns and more; with {config.utterances:,}, each "
            "test speaker has only a few utterances of some classes, and folds near chance "
            "are likely (benchmarks/RECIPE.md)")


#: The marker of a demo's output folder.
DEMO_MARKER = ".serlib-demo"


def _is_demo(folder: Path) -> bool:
    """A demo's folder: its marker, or only what an older demo wrote."""
    if (folder / DEMO_MARKER).exists():
        return True
    names = {p.name for p in folder.iterdir()}
    own = {"utterances.csv", "cv", "report"}
    return bool(names) and all(n in own or n.startswith(("features-", ".")) for n in names)


def run_demo(config: DemoConfig = DemoConfig(), *, progress: bool = True) -> CorpusIndex:
    """Run the main job and print where its outputs are; returns the corpus index.

    Beside the CNN, the two baselines (:mod:`serlib.baselines`) run on the same folds, and
    the report compares the CNN with them fold by fold.
    """
    from .cv import run_cv
    from .extract import extract_features, summarize
    from .features import load_features
    from .report import write_report

    real = corpus_from_environment() is not None
    demo = config.data_dir / ("demo" if real else f"demo{_suffix(config)}")
    claim_folder(demo, ours=_is_demo, what="the demo's outputs", option="demo folder")
    demo.mkdir(parents=True, exist_ok=True)
    (demo / DEMO_MARKER).touch()
    corpus, root = corpus_root(config, progress=progress)
    print(f"[1/6] corpus: {corpus} at {root}")
    note = small_corpus_note(config, real)
    if note:
        print(note)
    index = index_corpus(corpus, root, progress=progress)
    table = index.to_csv(demo / "utterances.csv")
    print(f"[2/6] utterance table: {table}")
    print(index.summary())
    path = demo / f"features-{config.features.features}"
    extract_features(index, config.features, path, progress=progress, overwrite=True)
    print(f"[3/6] feature store: {path}")
    print(summarize(path))
    store = load_features(path)
    protocol = "5fold" if CORPORA[corpus].speaker_scheme == "sessions" else "kfold"
    run = CVRun(protocol, config.repeats)
    baselines = [demo / "cv" / name for name in BASELINES]
    print(f"[4/6] baselines on the same folds ({protocol}): the majority class, and eGeMAPS + "
          f"logistic regression, into {demo / 'cv'}")
    # A baseline reads no training option but the seed: the CNN's epochs or image size must
    # not make its folder another configuration.
    base = replace(QUICK, seed=config.train.seed)
    for folder, name in zip(baselines, BASELINES, strict=True):
        run_cv(store, run, replace(base, ser_model=name), folder, progress=progress)
    runs = demo / "cv" / run_name(config.train)
    print(f"[5/6] cross-validation ({protocol}) of {config.train.ser_model}, "
          f"{config.train.num_epochs} epochs, into {runs}")
    run_cv(store, run, config.train, runs, progress=progress)
    report = demo / "report"
    print(f"[6/6] report: {report}")
    written = write_report([runs, *baselines], report)
    print(f"\nresults table: {report / 'results.md'}")
    print("figures: " + ", ".join(str(p) for p in written["figures"] if p.suffix == ".png"))
    return index
