"""The main job that ``make demo`` runs: corpus -> utterance table -> features (later: CV, report).

With ``IEMOCAP_DIR`` or ``EMODB_DIR`` set in the environment it runs on that
corpus; otherwise on the embedded synthetic corpus, made on first use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .corpora import CorpusIndex, index_corpus, synthesize
from .features import FeatureConfig


@dataclass(frozen=True)
class DemoConfig:
    """The demo's settings: where data goes and how large the synthetic corpus is."""

    data_dir: Path = Path("data")
    utterances: int = 1500
    seed: int = 0
    features: FeatureConfig = FeatureConfig()


def corpus_root(config: DemoConfig, *, progress: bool = True) -> tuple[str, Path]:
    """The corpus the demo runs on: ``(corpus, root)``, synthesizing it if needed."""
    for corpus, var in (("iemocap", "IEMOCAP_DIR"), ("emodb", "EMODB_DIR")):
        if os.environ.get(var):
            return corpus, Path(os.environ[var])
    root = config.data_dir / "synth-iemocap"
    synthesize(root, "iemocap", config.utterances, config.seed, progress=progress)
    return "iemocap", root


def run_demo(config: DemoConfig = DemoConfig(), *, progress: bool = True) -> CorpusIndex:
    """Run the main job and print where its outputs are; returns the corpus index."""
    from .extract import extract_features, summarize

    corpus, root = corpus_root(config, progress=progress)
    print(f"[1/3] corpus: {corpus} at {root}")
    index = index_corpus(corpus, root, progress=progress)
    table = index.to_csv(config.data_dir / "demo" / "utterances.csv")
    print(f"[2/3] utterance table: {table}")
    print(index.summary())
    store = config.data_dir / "demo" / f"features-{config.features.features}"
    extract_features(index, config.features, store, progress=progress)
    print(f"[3/3] feature store: {store}")
    print(summarize(store))
    return index
