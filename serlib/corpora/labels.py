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


def make_presets(corpus: str, mappings: Mapping[str, Mapping[str, str]],
                 classes: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, LabelPreset]:
    """Presets of a corpus from ``{name: {code: class}}``; a preset's classes are in the
    order of its mapping's values unless ``classes[name]`` gives them."""
    classes = classes or {}
    return {name: LabelPreset(name, corpus, dict(mapping),
                              classes.get(name) or tuple(dict.fromkeys(mapping.values())))
            for name, mapping in mappings.items()}


def resolve_preset(corpus: str, preset: str | LabelPreset | None, *,
                   presets: Mapping[str, LabelPreset], codes: Mapping[str, str] | None,
                   default: str | None, others: Mapping[str, LabelPreset] | None = None,
                   improvised_only: bool | None = None) -> LabelPreset:
    """Resolve a preset name, a custom ``"code=class,..."`` string, or None (``default``)
    among a corpus's ``presets`` and ``codes`` (its spec's; :func:`serlib.corpora.get_preset`
    looks them up by the corpus's name, with every corpus's presets as ``others``).

    Raises :class:`SerlibError` for an unknown name, a preset of another corpus,
    or a custom mapping that uses a code the corpus does not have.
    """
    others = others or {}
    if isinstance(preset, LabelPreset):
        resolved = preset
    elif preset is None and default is None:
        raise SerlibError(f"{corpus} has no fixed classes: its labels come from the data "
                          f"(index it with index_corpus({corpus!r}, root))")
    elif preset is None or preset in presets:
        resolved = presets[preset or default]
    elif preset in others:
        resolved = others[preset]
    elif "=" in preset:
        resolved = parse_mapping(corpus, preset, codes)
    else:
        raise SerlibError(f"unknown preset {preset!r} for {corpus}; choose one of "
                          f"{list(presets)} or give a mapping such as "
                          f"'{_example(codes)}'")
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
