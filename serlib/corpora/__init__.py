"""Corpora: folders in, an utterance table out.

``index_corpus(name, root)`` parses a corpus of the registry
(:data:`serlib.corpora.registry.CORPORA`: ``iemocap``, ``emodb``, ``ravdess``,
``cremad``, ``tess``, and ``folder`` for your own recordings);
:func:`synthesize` writes a synthetic corpus in any of their layouts.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import SerlibError
from .download import EMODB_URL, download_emodb, safe_extract
from .emodb import index_emodb
from .iemocap import index_iemocap
from .labels import LabelPreset
from .registry import CORPORA, ENV_VARS, PRESETS, CorpusSpec, get_preset, get_spec, synthesize
from .table import CorpusIndex, Problem

__all__ = ["CORPORA", "EMODB_URL", "ENV_VARS", "PRESETS", "CorpusIndex", "CorpusSpec",
           "LabelPreset", "Problem", "corpus_from_environment", "download_emodb", "get_preset",
           "get_spec", "index_corpus", "index_emodb", "index_iemocap", "safe_extract",
           "synthesize"]


def corpus_from_environment() -> tuple[str, Path] | None:
    """``(corpus, root)`` of the first corpus whose variable is set (``IEMOCAP_DIR``,
    ``EMODB_DIR``, ``RAVDESS_DIR``, ... in the registry's order)."""
    for corpus, var in ENV_VARS.items():
        if os.environ.get(var):
            return corpus, Path(os.environ[var])
    return None


def index_corpus(corpus: str, root: str | Path, preset: str | LabelPreset | None = None, *,
                 improvised_only: bool | None = None, progress: bool = True,
                 **options) -> CorpusIndex:
    """Index ``root`` as ``corpus`` (a name of :data:`CORPORA`) under a label preset.

    ``options`` are the corpus's own (its spec's ``options``): ``speaker_ids``
    (``thesis`` or ``native``) for emoDB, ``labels`` (a CSV) for ``folder``.
    Returns a :class:`CorpusIndex` whose ``table`` has one row per utterance and
    whose ``problems`` lists the files left out with their reasons.
    """
    spec = get_spec(corpus)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        takes = [n for n, s in CORPORA.items() if unknown[0] in s.options]
        raise SerlibError(f"{unknown[0]} does not apply to {corpus}"
                          + (f" (only to {', '.join(takes)})" if takes else ""))
    if spec.codes is None:  # labels from the data: the indexer resolves the preset
        if improvised_only is not None:
            raise SerlibError("improvised-only applies to IEMOCAP only")
        return spec.index(root, preset, progress=progress, **options)
    resolved = get_preset(corpus, preset, improvised_only)
    return spec.index(root, resolved, progress=progress, **options)
