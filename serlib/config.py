"""Configuration: small frozen dataclasses for each stage, light to import.

They hold every parameter of feature extraction and training, serialise to
JSON next to what they produced, and import neither torch nor librosa, so the
command line starts quickly.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from .backbones import (  # the registry of networks (names only: no torch)
    BACKBONES,
    MODELS,
    parse_model,
)
from .errors import SerlibError
from .spectrograms import FEATURE_TYPES  # the registry of feature types (librosa not loaded)

# Built-in noises: coloured noise by spectral decay in dB per octave, and babble.
COLOURS = {"white": 0.0, "pink": -3.01, "brown": -6.02}
BUILTIN_NOISES = (*COLOURS, "babble")
#: References trained on the same folds (:mod:`serlib.baselines`): no CNN, no images.
BASELINES = ("majority", "acoustic")


def _option(default=MISSING, help: str = "", choices: tuple | None = None, **extra):
    """A field with the command line's help and choices (and any other ``add_argument``
    keyword, such as ``nargs``), so that the field, its default, its check and its
    ``--option`` are written once: :mod:`serlib.cli` makes one option per field, and sweep
    files take the same names. No default: a required option."""
    return field(default=default, metadata={"help": help, "choices": choices, **extra})


def _audio_files(folder: str) -> list[Path]:
    path = Path(folder)
    if not path.is_dir():
        return []
    from .audio import AUDIO_SUFFIXES  # the formats prediction and the corpora read

    return sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES
                  and not p.name.startswith("."))


@dataclass(frozen=True)
class NoiseConfig:
    """Where perturbations come from.

    ``noise`` is ``builtin`` (each copy draws one of white, pink, brown and
    babble), one of those names, or a folder of noise recordings; ``snr_db``
    is the range each file's SNR is drawn from; ``reverb`` is ``room``
    (simulated), a folder of impulse responses, or ``none``; ``reverb_p`` is
    the chance that a noisy copy is also reverberant.
    """

    noise: str = _option("builtin", "builtin, white, pink, brown, babble, or a folder of noise "
                                    "recordings")
    snr_db: tuple[float, float] = _option((0.0, 20.0), "SNR range in dB of the --mixnoise "
                                                       "copies (default: 0,20)",
                                          metavar="LOW,HIGH")
    reverb: str = _option("room", "room (simulated), none, or a folder of impulse responses")
    reverb_p: float = _option(0.5, "chance that a --mixnoise copy is also reverberant")
    num_rooms: int = _option(8, "simulated rooms the reverberant copies are drawn from")

    def check(self) -> None:
        """Raise :class:`SerlibError` for a noise or reverb source that cannot be used."""
        if self.noise not in (*BUILTIN_NOISES, "builtin") and not _audio_files(self.noise):
            raise SerlibError(f"noise {self.noise!r}: not one of {['builtin', *BUILTIN_NOISES]} "
                              "and not a folder of audio files")
        if self.reverb not in ("room", "none") and not _audio_files(self.reverb):
            raise SerlibError(f"reverb {self.reverb!r}: not 'room', 'none' or a folder of "
                              "impulse responses")
        lo, hi = self.snr_db
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise SerlibError(f"--snr_db {lo},{hi}: give a range of finite dB values, e.g. 0,20")
        if lo > hi:
            raise SerlibError(f"--snr_db {lo},{hi}: the range is empty; give low,high, e.g. 0,20")
        if not 0 <= self.reverb_p <= 1:
            raise SerlibError(f"--reverb_p {self.reverb_p}: a chance between 0 and 1")


@dataclass(frozen=True)
class FeatureConfig:
    """Every parameter of feature extraction; stored with every feature store."""

    features: str = _option("logspec", "the spectrogram: linear, mel, with deltas, or with "
                                       "noisy and reverberant copies as channels 2 and 3",
                            tuple(FEATURE_TYPES))
    sample_rate: int = _option(16_000, "audio is resampled to it (Hz)")
    preemphasis: float = _option(0.97, "0 to switch off")
    win_length: int = _option(640, "samples (640 = 40 ms)")
    hop_length: int = _option(160, "samples (160 = 10 ms)")
    n_fft: int = _option(800, "FFT points")
    nfreq: int = _option(200, "linear bins kept, the lowest (200 = 0-4 kHz)")
    nmel: int = _option(128, "mel bands")
    top_db: float = _option(80.0, "dB range below the maximum")
    delta_width: int = _option(5, "frames of the delta filter (odd)")
    segment_size: int = _option(300, "frames per segment (300 = 3 s)")
    pad: str = _option("floor", "pad short utterances with the dB floor, or with 0 as the "
                                "thesis did", ("floor", "zero"))
    dtype: str = _option("float16", "precision of the stored segments (float16: half the "
                                    "disk)", ("float16", "float32"))
    mixnoise: int = _option(0, "store K noisy/reverberant copies of every segment (the "
                               "option alone: K=1)", nargs="?", const=1)
    nrev_snr_db: float = _option(10.0, "SNR in dB of lognrevspec's white-noise channel")
    noise: NoiseConfig = field(default_factory=NoiseConfig)  # its fields are options too
    seed: int = _option(0, "of the noisy copies")

    def __post_init__(self) -> None:
        if self.features not in FEATURE_TYPES:
            raise SerlibError(f"unknown features {self.features!r}; choose one of "
                              f"{list(FEATURE_TYPES)}")
        if self.pad not in ("floor", "zero"):
            raise SerlibError(f"pad must be 'floor' or 'zero', not {self.pad!r}")
        if self.dtype not in ("float16", "float32"):
            raise SerlibError(f"dtype must be float16 or float32, not {self.dtype!r}")
        for name in ("segment_size", "nfreq", "nmel", "n_fft", "hop_length", "win_length"):
            if getattr(self, name) < 1:
                raise SerlibError(f"--{name} must be positive, not {getattr(self, name)}")
        if self.sample_rate < 1000:
            raise SerlibError(f"--sample_rate {self.sample_rate}: give the rate in Hz that "
                              "audio is resampled to, at least 1000 (the thesis's: 16000)")
        if not (math.isfinite(self.top_db) and self.top_db > 0):
            raise SerlibError(f"--top_db {self.top_db}: give the dB range kept below the "
                              "loudest moment, a positive number (default 80)")
        if not 0 <= self.preemphasis < 1:
            raise SerlibError(f"--preemphasis {self.preemphasis}: a coefficient from 0 (off) "
                              "to below 1 (default 0.97)")
        if self.delta_width < 3 or self.delta_width % 2 == 0:
            raise SerlibError(f"--delta_width {self.delta_width}: an odd number of frames, "
                              "3 or more (default 5)")
        if not math.isfinite(self.nrev_snr_db):
            raise SerlibError(f"--nrev_snr_db {self.nrev_snr_db}: give a finite SNR in dB")
        if self.win_length > self.n_fft:
            raise SerlibError(f"--win_length {self.win_length} is longer than --n_fft "
                              f"{self.n_fft}")
        if self.nfreq > self.n_fft // 2 + 1:
            raise SerlibError(f"--nfreq {self.nfreq} is more than the {self.n_fft // 2 + 1} "
                              f"bins of an {self.n_fft}-point FFT")
        if self.mixnoise < 0:
            raise SerlibError(f"--mixnoise must be 0 or more, not {self.mixnoise}")

    @property
    def channels(self) -> int:
        """C, the number of channels of a segment."""
        return FEATURE_TYPES[self.features].channels

    @property
    def freq_bins(self) -> int:
        """F, the number of frequency (or mel) bins of a segment."""
        return self.nmel if FEATURE_TYPES[self.features].mel else self.nfreq

    def pad_values(self) -> np.ndarray:
        """The padding value of each channel ``(C,)``: the floor for dB, 0 for deltas."""
        if self.pad == "zero":
            return np.zeros(self.channels, dtype=np.float32)
        floor = -float(self.top_db)
        if FEATURE_TYPES[self.features].deltas:
            return np.array([floor, 0.0, 0.0], dtype=np.float32)
        return np.full(self.channels, floor, dtype=np.float32)

    def to_dict(self) -> dict:
        """A JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict) -> FeatureConfig:
        """The inverse of :meth:`to_dict`; unknown keys are an error."""
        data = dict(data)
        known = {f.name for f in fields(cls)}
        if set(data) - known:
            raise SerlibError(f"unknown feature parameters {sorted(set(data) - known)}")
        if isinstance(data.get("noise"), dict):
            noise = dict(data["noise"])
            noise["snr_db"] = tuple(noise.get("snr_db", NoiseConfig.snr_db))
            data["noise"] = NoiseConfig(**noise)
        return cls(**data)


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run, with the thesis's names and defaults.

    Each field is also a ``serlib train``/``serlib cv`` option of the same name
    (:mod:`serlib.cli` reads the help and choices from the field's metadata).
    """

    ser_model: str = _option(
        "alexnet_gap", "a network (BACKBONE, BACKBONE_gap for FCN+GAP, BACKBONE_att for "
        "attention pooling; backbones: " + ", ".join(BACKBONES) + "), or a baseline for "
        "'serlib cv': majority (the training speakers' most frequent class) or acoustic "
        "(eGeMAPS + logistic regression)", MODELS + BASELINES, metavar="MODEL")
    num_epochs: int = _option(100, "epochs (passes over the training speakers)")
    batch_size: int = _option(64, "segments per optimizer step")
    lr: float = _option(1e-3, "learning rate")
    weight_decay: float = _option(1e-2, "AdamW weight decay")
    seed: int = _option(111, "random seed of the initialisation, batches and transforms "
                             "(repeats: see --repeat_seeds)")
    repeat_seeds: str = _option(
        "consecutive", "the seeds of repeats: consecutive (seed, seed+1, ...) or thesis (as "
        "the thesis's crossval_SER.py: seed, +100, +200, ... added up: 111, 211, 411, 711, "
        "1111)", ("consecutive", "thesis"))
    pretrained: bool = _option(False, "start from ImageNet weights")
    weights: str | None = _option(None, "a local ImageNet weights file of the backbone")
    mixup: bool = _option(False, "mixup (a batch transform)")
    mixup_mode: str = _option(
        "thesis", "thesis: one lambda per sample, max(lambda, 1 - lambda); classic: one per "
        "batch (seed: an old name of thesis)", ("thesis", "classic", "seed"))
    mixup_alpha: float = _option(0.4, "mixup: lambda ~ Beta(alpha, alpha)")
    oversampling: bool = _option(False, "random minority oversampling")
    class_weight: str = _option(
        "none", "balanced: weigh each class in the loss by n / (K n_k) of the training set",
        ("none", "balanced"))
    stability: bool = _option(False, "stability training")
    stability_alpha: float = _option(0.1, "stability training: weight of the KL term "
                                          "between a segment's and its twin's outputs")
    stability_sigma: float = _option(0.04, "Gaussian noise on the [0, 1]-scaled spectrogram")
    stability_source: str = _option(
        "auto", "noisy: the store's --mixnoise twins; gaussian; auto: noisy where the store "
        "has them", ("auto", "noisy", "gaussian"))
    specaugment: bool = _option(False, "SpecAugment's frequency and time masks (Park et al., "
                                       "2019), a batch transform")
    specaugment_freq_masks: int = _option(2, "SpecAugment: frequency masks per segment")
    specaugment_freq_width: int = _option(20, "SpecAugment: widest frequency mask, in bins")
    specaugment_time_masks: int = _option(2, "SpecAugment: time masks per segment")
    specaugment_time_width: int = _option(40, "SpecAugment: widest time mask, in frames")
    select_by: str = _option(
        "wa", "the epoch kept: best validation WA (the thesis's), best validation UA, or the "
        "last one", ("wa", "ua", "last"))
    scaler: str = _option(
        "training", "training: one per-bin scaling fitted on the training speakers (the "
        "thesis's); speaker: each speaker scaled by their own recordings",
        ("training", "speaker"))
    device: str = _option("auto", "auto, cpu, cuda or mps")
    amp: bool | None = _option(None, "mixed precision (default: where the device has it "
                                     "natively)")
    channels_last: bool = _option(True, "channels-last memory format")
    image_size: int = _option(256, "shorter side of the images")
    resident: bool | None = _option(None, "keep the uint8 training set on the GPU (default: "
                                          "when it fits)")
    compile: bool = _option(False, "torch.compile the model (worth it on a GPU)")
    fused: bool = _option(True, "AdamW's fused kernel (much faster per step; --no-fused: the "
                                "plain one)")
    tensorboard: bool = _option(True, "per-epoch TensorBoard scalars: losses, validation WA "
                                      "and UA, learning rate (--no-tensorboard: none)")

    def __post_init__(self) -> None:
        if self.mixup_mode == "seed":  # the old name, kept so that old commands still run
            object.__setattr__(self, "mixup_mode", "thesis")
        for f in fields(self):
            choices, value = f.metadata.get("choices"), getattr(self, f.name)
            if choices and value not in choices:
                raise SerlibError(f"unknown --{f.name} {value!r}; choose one of {list(choices)}")
        for name in ("num_epochs", "batch_size", "image_size"):
            if getattr(self, name) < 1:
                raise SerlibError(f"--{name} must be at least 1, not {getattr(self, name)}")
        for name in ("specaugment_freq_masks", "specaugment_freq_width",
                     "specaugment_time_masks", "specaugment_time_width"):
            if getattr(self, name) < 0:
                raise SerlibError(f"--{name} must be 0 or more, not {getattr(self, name)}")
        for name in ("lr", "mixup_alpha"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise SerlibError(f"--{name} must be positive, not {getattr(self, name)}")
        for name in ("weight_decay", "stability_alpha", "stability_sigma"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise SerlibError(f"--{name} must be 0 or more, not {getattr(self, name)}")
        if self.ser_model in MODELS:
            smallest = parse_model(self.ser_model)[0].min_image_size
            if self.image_size < smallest:
                raise SerlibError(f"--image_size {self.image_size}: {self.ser_model}'s layers "
                                  f"need images of at least {smallest} pixels; give "
                                  f"--image_size {smallest} or more (the quick settings: 64)")

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def stability_source(config: TrainConfig, has_noisy: bool) -> str:
    """Where ``config``'s stability twins come from: ``noisy`` (the store's ``--mixnoise``
    copies) or ``gaussian``; ``auto`` takes the copies when the store has them."""
    if config.stability_source == "auto":
        return "noisy" if has_noisy else "gaussian"
    return config.stability_source


def reads_noisy_copies(config: TrainConfig, has_noisy: bool) -> bool:
    """Whether training with ``config`` reads the store's ``--mixnoise`` copies (stability
    training's noisy twins); otherwise a store with copies trains exactly as one without."""
    return config.stability and stability_source(config, has_noisy) == "noisy"


#: TrainConfig fields that change how fast a fold trains, not what it computes: not part of a
#: run's identity (folds trained on a GPU with a resident or compiled model belong with the
#: others).
EXECUTION_ONLY = ("resident", "compile", "fused", "tensorboard")

@dataclass(frozen=True)
class CVRun:
    """How a cross-validation runs, apart from the training settings (:class:`TrainConfig`):
    its protocol (:data:`serlib.cv.PROTOCOLS`), repeats, the folds it keeps (None: all),
    loso's validation speaker, whether each fold's model is saved, and its label in reports.

    One type for :func:`serlib.cv.run_cv`, :mod:`serlib.launch`, sweep files
    (:mod:`serlib.sweep`: their top-level keys) and ``serlib cv`` (one option per field).
    """

    protocol: str = _option("5fold", "the fold protocol")
    repeats: int = _option(1, "repeats of every fold, each with its own seed (see "
                              "--repeat_seeds)")
    folds: tuple[str, ...] | None = _option(
        None, "only these folds, e.g. 1M,2F (S1 for loso, k1 for kfold)")
    loso_val: bool = _option(False, "loso: validate on the next session")
    keep_checkpoints: bool = _option(False, "also save each fold's model")
    label: str | None = _option(None, "the run's name in reports (None: the model and its "
                                      "enhancements)")

    def __post_init__(self) -> None:
        if not isinstance(self.repeats, int) or isinstance(self.repeats, bool) or \
                self.repeats < 1:
            raise SerlibError(f"--repeats {self.repeats!r}: give a whole number of at least 1")
        if self.folds is not None:
            folds = tuple(str(f) for f in self.folds)
            if not folds:
                raise SerlibError("--folds: no fold named; give fold names, e.g. 1M,2F, or "
                                  "leave the option out for all")
            object.__setattr__(self, "folds", folds)

    @classmethod
    def of(cls, run: CVRun | str, **options) -> CVRun:
        """``run`` itself, a protocol's name with ``options`` (``run_cv(store, "5fold",
        config, out, repeats=5)``), or ``run`` with ``options`` replaced."""
        return cls(protocol=run, **options) if isinstance(run, str) else replace(run, **options)


@dataclass(frozen=True)
class CorpusOptions:
    """Which corpus to read, and how (``serlib index`` and ``serlib extract``: one option per
    field): its layout (a name of :data:`serlib.corpora.CORPORA`), root folder, label preset,
    and the options of some corpora."""

    corpus: str = _option(help="the corpus's layout (folder: your own recordings)")
    root: Path = _option(help="the corpus's root folder", type=Path)
    preset: str | None = _option(None, "a preset, or a mapping such as "
                                       "'ang=anger,exc=happiness'")
    improvised_only: bool | None = _option(None, "IEMOCAP: keep improvised dialogs only "
                                                 "(default: as the preset says)")
    speaker_ids: str | None = _option(None, "emoDB: thesis (1M..5F, the default, for "
                                            "5fold/10fold/loso) or native (03..16)",
                                      ("thesis", "native"))
    labels: Path | None = _option(None, "folder: the labels CSV (default: ROOT/labels.csv, "
                                        "else one sub-folder per label)", type=Path)

    def index(self, progress: bool = True):
        """The corpus's :class:`~serlib.corpora.CorpusIndex`
        (:func:`serlib.corpora.index_corpus`)."""
        from .corpora import index_corpus

        own = {k: v for k, v in (("speaker_ids", self.speaker_ids), ("labels", self.labels))
               if v is not None}  # options of some corpora only: given when set
        return index_corpus(self.corpus, self.root, self.preset,
                            improvised_only=self.improvised_only, progress=progress, **own)


#: TrainConfig switches that name a run after its model (``alexnet+mixup``): a run folder's
#: name says which of them are on, and nothing else of its settings.
ENHANCEMENTS = ("mixup", "oversampling", "stability", "specaugment")

#: The quick settings, shared by the demo and every notebook on a CPU, chosen by measurement
#: (benchmarks/recipe.py; docs/REFERENCE.md, "The quick recipe") to learn on every fold of synthetic
#: corpora of several seeds and sizes in about a minute of a 2-core CPU per 5-fold run:
#: FCN+GAP from random weights on 64-pixel images, 15 epochs, lr 3e-4; each speaker scaled
#: by their own recordings (speaker normalisation: the session's channel stops setting the
#: image's levels); the best epoch chosen by validation UA, because one validation speaker
#: has about 30 utterances, half of them neutral, and WA on so few rewards answering
#: "neutral".
QUICK = TrainConfig(ser_model="alexnet_gap", num_epochs=15, batch_size=32, image_size=64,
                    lr=3e-4, select_by="ua", scaler="speaker")
#: The thesis's settings, for a GPU and a real corpus: ImageNet weights, 100 epochs, batch 64,
#: 256-pixel images, lr 1e-3, the best epoch by validation WA.
THESIS = TrainConfig(ser_model="alexnet_gap", num_epochs=100, batch_size=64, pretrained=True)
