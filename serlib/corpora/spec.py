"""What the rest of serlib needs to know about a corpus: one :class:`CorpusSpec` per corpus.

Each corpus module (``iemocap.py``, ``ravdess.py``, ...) defines its ``SPEC``;
:mod:`serlib.corpora.registry` lists them in :data:`~serlib.corpora.registry.CORPORA`,
which the indexer, the presets, the synthesizer, the command line and the course
all read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from .labels import LabelPreset, resolve_preset

if TYPE_CHECKING:
    from .synth import SynthLayout
    from .table import CorpusIndex


@dataclass(frozen=True)
class CorpusSpec:
    """One corpus: how to index it, its emotion codes and presets, where to find it.

    ``index(root, preset, *, progress, **options)`` returns a :class:`CorpusIndex`;
    ``options`` names the keyword options it takes beyond those (e.g.
    ``speaker_ids`` for emoDB). ``codes`` is None for a corpus whose labels come
    from the data (``folder``). ``speaker_scheme`` is ``sessions`` when its speaker
    ids are IEMOCAP-style ``<session><gender>`` (``1M``), so that the thesis's
    protocols (``5fold``, ``10fold``, ``loso``) apply, else ``speakers`` (use
    ``kfold`` or ``loso-speaker``). ``synth`` writes a synthetic corpus in its
    layout (None: none). ``expected`` says in one line what its root holds.
    """

    name: str
    title: str
    index: Callable[..., CorpusIndex]
    codes: Mapping[str, str] | None
    presets: Mapping[str, LabelPreset] = field(hash=False)
    default_preset: str | None
    env_var: str
    speaker_scheme: Literal["sessions", "speakers"]
    synth: SynthLayout | None
    expected: str
    options: tuple[str, ...] = ()
    notes: str = ""

    def resolve_preset(self, preset: str | LabelPreset | None = None,
                       improvised_only: bool | None = None) -> LabelPreset:
        """This corpus's preset by name, a custom ``"code=class,..."`` mapping of its codes,
        or its default (None): :func:`serlib.corpora.labels.resolve_preset`."""
        return resolve_preset(self.name, preset, presets=self.presets, codes=self.codes,
                              default=self.default_preset, improvised_only=improvised_only)
