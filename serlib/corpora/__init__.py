"""Corpora: folders in, an utterance table out.

``index_corpus("iemocap", root)`` and ``index_corpus("emodb", root)`` parse the
real corpora; :func:`synthesize` writes a synthetic corpus in either layout.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SerlibError
from .download import EMODB_URL, download_emodb, safe_extract
from .emodb import index_emodb
from .iemocap import index_iemocap
from .labels import PRESETS, LabelPreset, get_preset
from .synth import synthesize
from .table import CorpusIndex, Problem

CORPORA = ("iemocap", "emodb")

__all__ = ["CORPORA", "EMODB_URL", "PRESETS", "CorpusIndex", "LabelPreset", "Problem",
           "download_emodb", "get_preset", "index_corpus", "index_emodb", "index_iemocap",
           "safe_extract", "synthesize"]


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
