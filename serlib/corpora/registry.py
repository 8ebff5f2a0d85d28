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

import os
from pathlib import Path

from ..errors import SerlibError
from . import cremad, emodb, folder, iemocap, ravdess, tess
from .labels import LabelPreset, resolve_preset
from .spec import CorpusSpec
from .synth import SynthLayout, write_corpus

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

__all__ = ["CORPORA", "ENV_VARS", "PRESETS", "CorpusSpec", "get_preset", "get_spec", "layouts",
           "synthesize"]


def get_spec(corpus: str) -> CorpusSpec:
    """The spec of ``corpus``; :class:`SerlibError` naming the known ones otherwise."""
    try:
        return CORPORA[corpus]
    except (KeyError, TypeError):
        raise SerlibError(f"unknown corpus {corpus!r}; choose one of {list(CORPORA)}") from None


def get_preset(corpus: str, preset: str | LabelPreset | None = None,
               improvised_only: bool | None = None) -> LabelPreset:
    """Resolve a preset name, a custom ``"code=class,..."`` string, or None (the default)
    for ``corpus``.

    Raises :class:`SerlibError` for an unknown name, a preset of another corpus,
    or a custom mapping that uses a code the corpus does not have.
    """
    spec = get_spec(corpus)
    return resolve_preset(corpus, preset, presets=spec.presets, codes=spec.codes,
                          default=spec.default_preset, others=PRESETS,
                          improvised_only=improvised_only)


def layouts() -> dict[str, SynthLayout]:
    """Every corpus of the registry that has a synthetic layout: ``{name: layout}``."""
    return {name: spec.synth for name, spec in CORPORA.items() if spec.synth is not None}


def synthesize(out: str | os.PathLike, layout: str = "iemocap", utterances: int = 1000,
               seed: int = 0, *, jobs: int | None = None, progress: bool = True) -> Path:
    """Write a synthetic corpus in the layout of a registered corpus (``iemocap``,
    ``emodb``, ``ravdess``, ``cremad``, ``tess``, ``folder``) to ``out``
    (:func:`serlib.corpora.synth.write_corpus`).

    Skips the work when ``out`` already holds the same corpus, finishes an
    interrupted one, and refuses to write into a folder that holds anything
    else. Returns ``out``.
    """
    known = layouts()
    if layout not in known:
        raise SerlibError(f"unknown layout {layout!r}; choose one of {list(known)}")
    return write_corpus(out, layout, known[layout], utterances, seed, jobs=jobs,
                        progress=progress)
