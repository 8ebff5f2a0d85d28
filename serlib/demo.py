"""The main job that ``make demo`` runs: corpus -> features -> 5-fold cross-validation -> report.

With ``IEMOCAP_DIR`` or ``EMODB_DIR`` set in the environment it runs on that
corpus; otherwise on the embedded synthetic corpus, made on first use. Every
stage skips work that is already done, so a second run (or one after Ctrl-C)
picks up where the last one stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .config import FeatureConfig, TrainConfig
from .corpora import CorpusIndex, corpus_from_environment, index_corpus, synthesize

#: The demo's training: FCN+GAP, a few epochs on smaller images, to finish on a laptop CPU.
QUICK = TrainConfig(ser_model="alexnet_gap", num_epochs=10, batch_size=32, image_size=128)
#: The seed's full settings (for a GPU): 100 epochs from ImageNet weights, seed image size.
FULL = TrainConfig(ser_model="alexnet_gap", num_epochs=100, batch_size=64, pretrained=True)


@dataclass(frozen=True)
class DemoConfig:
    """The demo's settings: where data goes, the synthetic corpus, features and training."""

    data_dir: Path = Path("data")
    utterances: int = 1500
    seed: int = 0
    features: FeatureConfig = field(default_factory=FeatureConfig)
    train: TrainConfig = QUICK
    repeats: int = 1


def corpus_root(config: DemoConfig, *, progress: bool = True) -> tuple[str, Path]:
    """The corpus the demo runs on: ``(corpus, root)``, synthesizing it if needed."""
    real = corpus_from_environment()
    if real:
        return real
    root = config.data_dir / "synth-iemocap"
    synthesize(root, "iemocap", config.utterances, config.seed, progress=progress)
    return "iemocap", root


def run_demo(config: DemoConfig = DemoConfig(), *, progress: bool = True) -> CorpusIndex:
    """Run the main job and print where its outputs are; returns the corpus index."""
    from .cv import run_cv, run_label
    from .extract import extract_features, summarize
    from .features import load_features
    from .report import write_report

    demo = config.data_dir / "demo"
    corpus, root = corpus_root(config, progress=progress)
    print(f"[1/5] corpus: {corpus} at {root}")
    index = index_corpus(corpus, root, progress=progress)
    table = index.to_csv(demo / "utterances.csv")
    print(f"[2/5] utterance table: {table}")
    print(index.summary())
    store = demo / f"features-{config.features.features}"
    extract_features(index, config.features, store, progress=progress)
    print(f"[3/5] feature store: {store}")
    print(summarize(store))
    runs = demo / "cv" / run_label(config.train)
    print(f"[4/5] 5-fold cross-validation of {config.train.ser_model}, "
          f"{config.train.num_epochs} epochs, into {runs}")
    run_cv(load_features(store), "5fold", config.train, runs, repeats=config.repeats,
           progress=progress)
    report = demo / "report"
    print(f"[5/5] report: {report}")
    written = write_report([runs], report)
    print(f"\nresults table: {report / 'results.md'}")
    print("figures: " + ", ".join(str(p) for p in written["figures"] if p.suffix == ".png"))
    return index
