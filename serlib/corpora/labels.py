"""Emotion codes of each corpus and the presets that map them to classes.

A preset says which utterances take part and which class each belongs to: the
thesis's default is ``improvised-4`` (anger, sadness, happiness, neutral from
IEMOCAP's improvised dialogs). Any custom mapping can be given as a string
``"ang=anger,hap=happiness,exc=happiness"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import SerlibError

#: IEMOCAP's categorical codes, as in its EmoEvaluation files.
IEMOCAP_CODES: dict[str, str] = {
    "neu": "neutral", "hap": "happiness", "exc": "excitement", "sad": "sadness",
    "ang": "anger", "fru": "frustration", "fea": "fear", "sur": "surprise",
    "dis": "disgust", "oth": "other", "xxx": "no agreement",
}

#: emoDB's emotion letter (6th character of the file name), from the German names.
EMODB_CODES: dict[str, str] = {
    "W": "anger",      # Wut
    "L": "boredom",    # Langeweile
    "E": "disgust",    # Ekel
    "A": "fear",       # Angst
    "F": "happiness",  # Freude
    "T": "sadness",    # Trauer
    "N": "neutral",
}

#: The codes of IEMOCAP and emoDB (every corpus's: ``CORPORA[name].codes`` in the registry).
CORPUS_CODES: dict[str, dict[str, str]] = {"iemocap": IEMOCAP_CODES, "emodb": EMODB_CODES}


@dataclass(frozen=True)
class LabelPreset:
    """Which emotion codes take part, and the class each one maps to.

    ``classes`` fixes the order of the integer labels (``label_id``).
    """

    name: str
    corpus: str
    mapping: Mapping[str, str] = field(hash=False)
    classes: tuple[str, ...]
    improvised_only: bool = False

    def label_id(self, code: str) -> int | None:
        """The integer label of an emotion code, or None when the preset leaves it out."""
        cls = self.mapping.get(code)
        return None if cls is None else self.classes.index(cls)


#: The thesis's four classes, in its order; every corpus has a ``-4`` preset of them.
FOUR = ("anger", "sadness", "happiness", "neutral")
_FOUR = FOUR


def make_presets(corpus: str, mappings: Mapping[str, Mapping[str, str]],
                 classes: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, LabelPreset]:
    """Presets of a corpus from ``{name: {code: class}}``; a preset's classes are in the
    order of its mapping's values unless ``classes[name]`` gives them."""
    classes = classes or {}
    return {name: LabelPreset(name, corpus, dict(mapping),
                              classes.get(name) or tuple(dict.fromkeys(mapping.values())))
            for name, mapping in mappings.items()}


#: IEMOCAP's and emoDB's presets (every corpus's: ``serlib.corpora.PRESETS``).
PRESETS: dict[str, LabelPreset] = {
    p.name: p
    for p in [
        LabelPreset("improvised-4", "iemocap",
                    {"ang": "anger", "sad": "sadness", "hap": "happiness", "neu": "neutral"},
                    _FOUR, improvised_only=True),
        LabelPreset("full-4", "iemocap",
                    {"ang": "anger", "sad": "sadness", "hap": "happiness", "exc": "happiness",
                     "neu": "neutral"}, _FOUR),
        LabelPreset("emodb-7", "emodb", dict(EMODB_CODES), tuple(EMODB_CODES.values())),
        LabelPreset("emodb-4", "emodb",
                    {"W": "anger", "T": "sadness", "F": "happiness", "N": "neutral"}, _FOUR),
    ]
}

#: IEMOCAP's and emoDB's default presets (every corpus's: ``CORPORA[name].default_preset``).
DEFAULT_PRESET: dict[str, str] = {"iemocap": "improvised-4", "emodb": "emodb-7"}


def get_preset(corpus: str, preset: str | LabelPreset | None = None,
               improvised_only: bool | None = None) -> LabelPreset:
    """Resolve a preset name, a custom ``"code=class,..."`` string, or None (the default).

    Raises :class:`SerlibError` for an unknown name, a preset of another corpus,
    or a custom mapping that uses a code the corpus does not have. The corpus's
    presets and codes come from the registry (:mod:`serlib.corpora.registry`).
    """
    from .registry import PRESETS as ALL_PRESETS
    from .registry import get_spec

    spec = get_spec(corpus)
    if isinstance(preset, LabelPreset):
        resolved = preset
    elif preset is None and spec.default_preset is None:
        raise SerlibError(f"{corpus} has no fixed classes: its labels come from the data "
                          f"(index it with index_corpus({corpus!r}, root))")
    elif preset is None or preset in spec.presets:
        resolved = spec.presets[preset or spec.default_preset]
    elif preset in ALL_PRESETS:
        resolved = ALL_PRESETS[preset]
    elif "=" in preset:
        resolved = parse_mapping(corpus, preset, spec.codes)
    else:
        raise SerlibError(f"unknown preset {preset!r} for {corpus}; choose one of "
                          f"{list(spec.presets)} or give a mapping such as "
                          f"'{_example(spec.codes)}'")
    if resolved.corpus != corpus:
        raise SerlibError(f"preset {resolved.name!r} is for {resolved.corpus}, not {corpus}")
    if improvised_only is not None and improvised_only != resolved.improvised_only:
        if corpus != "iemocap":
            raise SerlibError("improvised-only applies to IEMOCAP only")
        resolved = LabelPreset(resolved.name + ("+improvised" if improvised_only else "+scripted"),
                               corpus, resolved.mapping, resolved.classes, improvised_only)
    return resolved


def _example(codes: Mapping[str, str] | None) -> str:
    if not codes:
        return "raw=class,other=class"
    return ",".join(f"{code}={cls}" for code, cls in list(codes.items())[:2])


def parse_mapping(corpus: str, spec: str, codes: Mapping[str, str] | None) -> LabelPreset:
    """A custom preset ``"code=class,..."``; every code must be one of ``codes`` (any
    code when ``codes`` is None). Classes are in the order they first appear."""
    mapping: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        code, sep, cls = (s.strip() for s in item.partition("="))
        if not sep or not code or not cls:
            raise SerlibError(f"cannot read {item!r} in the mapping {spec!r}: write code=class")
        if codes is not None and code not in codes:
            raise SerlibError(f"{code!r} is not a {corpus} emotion code; codes: {sorted(codes)}")
        mapping[code] = cls
    if not mapping:
        raise SerlibError(f"the mapping {spec!r} maps no emotion code")
    classes = tuple(dict.fromkeys(mapping.values()))
    return LabelPreset(spec, corpus, mapping, classes)


def _parse_custom(corpus: str, spec: str) -> LabelPreset:
    from .registry import get_spec

    return parse_mapping(corpus, spec, get_spec(corpus).codes)
