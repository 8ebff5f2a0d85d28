"""The corpora serlib knows: one table, read by everything else.

:data:`CORPORA` maps a corpus's name to its :class:`~serlib.corpora.spec.CorpusSpec`
(indexer, emotion codes, presets, environment variable, speaker scheme,
synthetic layout). :func:`serlib.corpora.index_corpus`, :func:`get_preset`,
:func:`corpus_from_environment`, :func:`serlib.corpora.synthesize`, the command
line's ``--corpus`` and ``--layout`` choices and :mod:`serlib.course` all read it.

Adding a corpus: write ``serlib/corpora/<name>.py`` with an indexer and its
``SPEC`` (see ``ravdess.py``), and add ``<name>.SPEC`` to the list below.
"""

from __future__ import annotations

from ..errors import SerlibError
from . import cremad, emodb, folder, iemocap, ravdess, tess
from .labels import LabelPreset
from .spec import CorpusSpec

#: name -> spec, in the order ``corpus_from_environment`` looks at their variables.
CORPORA: dict[str, CorpusSpec] = {spec.name: spec for spec in [
    iemocap.SPEC,
    emodb.SPEC,
    ravdess.SPEC,
    cremad.SPEC,
    tess.SPEC,
    folder.SPEC,
]}

#: Every corpus's presets by name (names are unique across corpora).
PRESETS: dict[str, LabelPreset] = {name: preset for spec in CORPORA.values()
                                   for name, preset in spec.presets.items()}
assert len(PRESETS) == sum(len(spec.presets) for spec in CORPORA.values()), "a preset name twice"

#: The environment variable of each corpus, in the order they are looked at.
ENV_VARS: dict[str, str] = {name: spec.env_var for name, spec in CORPORA.items()}

__all__ = ["CORPORA", "ENV_VARS", "PRESETS", "CorpusSpec", "get_spec"]


def get_spec(corpus: str) -> CorpusSpec:
    """The spec of ``corpus``; :class:`SerlibError` naming the known ones otherwise."""
    try:
        return CORPORA[corpus]
    except (KeyError, TypeError):
        raise SerlibError(f"unknown corpus {corpus!r}; choose one of {list(CORPORA)}") from None
