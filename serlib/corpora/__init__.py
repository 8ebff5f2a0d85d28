"""Corpora: folders in, an utterance table out.

``index_corpus("iemocap", root)`` and ``index_corpus("emodb", root)`` parse the
real corpora; :func:`synthesize` writes a synthetic corpus in either layout.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SerlibError
from .download import EMODB_URL, download_emodb, safe_extract
from .emodb import index_emodb
from .iemocap import index_iemocap
from .labels import PRESETS, LabelPreset, get_preset
from .synth import synthesize
from .table import CorpusIndex, Problem

CORPORA = ("iemocap", "emodb")
#: The environment variables that point at a real corpus, in the order they are looked at.
ENV_VARS = {"iemocap": "IEMOCAP_DIR", "emodb": "EMODB_DIR"}

__all__ = ["CORPORA", "EMODB_URL", "ENV_VARS", "PRESETS", "CorpusIndex", "LabelPreset",
           "Problem", "corpus_from_environment", "download_emodb", "get_preset", "index_corpus",
           "index_emodb", "index_iemocap", "safe_extract", "synthesize"]


def corpus_from_environment() -> tuple[str, Path] | None:
    """``(corpus, root)`` of the first of ``IEMOCAP_DIR`` and ``EMODB_DIR`` that is set."""
    for corpus, var in ENV_VARS.items():
        if os.environ.get(var):
            return corpus, Path(os.environ[var])
    return None


def index_corpus(corpus: str, root: str | Path, preset: str | LabelPreset | None = None, *,
                 improvised_only: bool | None = None, progress: bool = True) -> CorpusIndex:
    """Index ``root`` as ``corpus`` (``iemocap`` or ``emodb``) under a label preset.

    Returns a :class:`CorpusIndex` whose ``table`` has one row per utterance and
    whose ``problems`` lists the files left out with their reasons.
    """
    if corpus not in CORPORA:
        raise SerlibError(f"unknown corpus {corpus!r}; choose one of {list(CORPORA)}")
    resolved = get_preset(corpus, preset, improvised_only)
    index = index_iemocap if corpus == "iemocap" else index_emodb
    return index(root, resolved, progress=progress)
