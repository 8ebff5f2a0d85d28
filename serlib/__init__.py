"""serlib: speech emotion recognition with pre-trained image classifiers.

The stages are submodules, imported on first use so that ``import serlib`` and
the command line start quickly: ``serlib.corpora`` -> ``serlib.features`` ->
``serlib.images`` / ``serlib.models`` -> ``serlib.train`` -> ``serlib.cv`` ->
``serlib.report``, and ``serlib.predict``; ``serlib.course`` serves the notebooks.
The most used names are also here: ``serlib.TrainConfig``, ``serlib.train_fold``...
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {"audio", "augment", "backbones", "baselines", "checkpoints", "cli", "config",
               "corpora", "course", "crosscorpus", "cv", "demo", "deploy", "errors", "extract",
               "features", "files", "images", "inference", "launch", "logs", "losses", "metrics",
               "models", "plots", "predict", "report", "runs", "scaling", "solutions",
               "spectrograms", "stats", "store", "sweep", "tiers", "train", "transforms"}
_NAMES = {"FeatureConfig": "config", "NoiseConfig": "config", "TrainConfig": "config",
          "index_corpus": "corpora", "synthesize": "corpora", "extract_features": "extract",
          "load_features": "features", "compute_features": "features", "build_model": "models",
          "train_fold": "train", "run_cv": "cv", "write_report": "report",
          "Predictor": "predict", "SerlibError": "errors"}

__all__ = sorted(_SUBMODULES | set(_NAMES))


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'serlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
