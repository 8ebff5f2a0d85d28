"""The course's settings tiers, chosen explicitly, and what each costs on this device.

``quick`` is the course on a CPU (:data:`serlib.config.QUICK`); ``gpu`` is sized so that
every notebook, notebook 9 included, fits well within an hour on one T4-class Colab GPU;
``thesis`` is the thesis's own setting, for a real corpus and a GPU with hours. ``check``
runs every notebook end to end in a fraction of the quick tier's time (2 epochs), to
check a set-up (a corpus, a runtime) before a long run, and is what ``make test`` runs the
notebooks in; its numbers mean nothing. Nothing switches tier by itself: notebook 0
proposes one (:func:`propose`), the course remembers the choice, and
``SERLIB_SETTINGS=quick|gpu|thesis|check`` overrides it.

Expected times are a model, stated here so that it can be checked: each notebook's
measured minutes in the quick tier on the project's 2-core CPU, times the tier's work
(epochs x pixels x repeats, relative to quick), times the corpus's amount of speech
relative to the synthetic course's, divided by the device's speed relative to that CPU,
plus a fixed cost per trained fold on a GPU. The CPU and H200 speeds are measured
(benchmarks/RESULTS.md; a CPU without native bfloat16 trains at :data:`CPU_NO_BF16_SPEED`
of one with it, measured on two such CPUs); the T4, L4 and A100 speeds are an assumption
(fractions of the H200's), to be replaced by measurements.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .config import QUICK, THESIS, TrainConfig
from .errors import SerlibError

if TYPE_CHECKING:
    import pandas as pd

#: The environment variable that overrides the course's chosen tier (tests, CI).
ENV_VAR = "SERLIB_SETTINGS"


@dataclass(frozen=True)
class Tier:
    """One tier: its training settings, the repeats of each cross-validation, and what it is
    for and leaves out, in a sentence each."""

    name: str
    config: TrainConfig
    repeats: int
    purpose: str
    differs: str

    @property
    def for_cpu(self) -> bool:
        """Sized for a CPU (``quick`` and ``check``): the notebooks leave out what only a GPU
        trains in minutes (AlexNet's 57 M parameters in notebook 6, two backbones' folds in
        notebook 10)."""
        return self.config.image_size <= QUICK.image_size and not self.config.pretrained

    @property
    def work(self) -> float:
        """Training work relative to ``quick``: epochs x image pixels x repeats."""
        quick = TIERS["quick"]
        return (self.config.num_epochs / quick.config.num_epochs
                * (self.config.image_size / quick.config.image_size) ** 2
                * self.repeats / quick.repeats)


TIERS: dict[str, Tier] = {
    "quick": Tier(
        "quick", QUICK, 1,
        "a CPU and the synthetic corpus: every notebook in minutes",
        "FCN+GAP from random weights, 64-pixel images, 15 epochs, one repeat; chosen on "
        "synthetic corpora for a CPU, not the thesis's setting"),
    "gpu": Tier(
        "gpu", replace(THESIS, num_epochs=30, image_size=128, select_by="ua"), 1,
        "one Colab GPU session: every notebook well within an hour on a T4-class card",
        "the thesis's ImageNet weights and batch 64, but 128-pixel images instead of 256, 30 "
        "epochs instead of 100, one repeat instead of five, and the best epoch by validation "
        "UA instead of WA"),
    "thesis": Tier(
        "thesis", replace(THESIS, lr=1e-4, repeat_seeds="thesis"), 5,
        "a real corpus and a GPU with hours: the thesis's full setting",
        "as the thesis's crossval_SER.py: ImageNet weights, 100 epochs, batch 64, 256-pixel "
        "images, lr 1e-4 (its README's example says 1e-3), five repeats with seeds 111, 211, "
        "411, 711, 1111, the best epoch by validation WA; but 5 folds (the thesis's text) "
        "where crossval_SER.py tests all ten speakers (serlib's 10fold protocol)"),
    "check": Tier(
        "check", replace(QUICK, num_epochs=2), 1,
        "every notebook end to end in minutes, to check a set-up before a long run (and "
        "what make test runs the notebooks in); its numbers mean nothing",
        "the quick tier with 2 epochs instead of 15: the models are barely trained"),
}
#: The tiers a learner chooses between (notebook 0's timetable); ``check`` is a tool.
COURSE_TIERS = ("quick", "gpu", "thesis")

#: Minutes of each notebook in the quick tier on the project's 2-core CPU, measured by
#: ``make notebooks`` from an empty course folder (docs/REFERENCE.md, "How long they take").
QUICK_CPU_MINUTES = {0: 0.2, 1: 0.2, 2: 0.2, 3: 1.5, 4: 0.3, 5: 0.9, 6: 1.1, 7: 2.0, 8: 0.2,
                     9: 7.7, 10: 7.1}
#: Fold trainings per repeat that each notebook starts (the others are reused), for the
#: GPU's fixed cost per fold.
FOLD_TRAININGS = {3: 1, 4: 1, 5: 1, 6: 1, 7: 9, 9: 17, 10: 31}
#: Seconds of speech in the synthetic course's corpus (1,500 turns, improvised-4).
COURSE_SPEECH_S = 1500.0
#: Training speed relative to the project's 2-core CPU (95 training segments/s of FCN+GAP at
#: 256 px, benchmarks/RESULTS.md). H200: measured (13,000-14,000/s). The others: assumed.
GPU_SPEED = {"H200": 140.0, "H100": 110.0, "A100": 70.0, "L4": 35.0, "T4": 20.0}
#: Training speed of a CPU without native bfloat16 (no AVX-512 BF16: it trains in float32)
#: relative to the same number of cores of the CPU that measured QUICK_CPU_MINUTES, which has
#: it. Measured on the 2-core AMD EPYC that runs CI: an AlexNet fold in 145 s against 62-69 s
#: (0.45), notebook 10 from an empty course folder in 17.1 minutes against 7.1 (0.42).
CPU_NO_BF16_SPEED = 0.43
#: Seconds a GPU spends per trained fold besides its epochs (measured on the H200: scaling
#: the segments and copying the training set).
GPU_FOLD_S = 10.0


@dataclass(frozen=True)
class Device:
    """What trains: its name, speed relative to the project's 2-core CPU, whether it is a
    CUDA GPU, and whether that speed was measured (else assumed)."""

    name: str
    speed: float
    gpu: bool
    measured: bool


def device() -> Device:
    """This machine's training device, as :class:`Device`."""
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        for kind, speed in GPU_SPEED.items():
            if kind in name.upper():
                return Device(name, speed, True, kind == "H200")
        return Device(f"{name} (assumed T4-class)", GPU_SPEED["T4"], True, False)
    cores = os.cpu_count() or 2
    bf16 = torch.cpu._is_avx512_bf16_supported()  # what serlib.train's autocast uses
    return Device(f"CPU ({cores} cores)", max(cores, 1) / 2 * (1.0 if bf16 else
                                                                 CPU_NO_BF16_SPEED),
                  False, cores == 2)


def propose(corpus: str) -> str:
    """The tier notebook 0 proposes: ``gpu`` on a CUDA GPU, else ``quick``. ``thesis``
    (hours even on a GPU) is never proposed, only chosen, and makes sense only on a real
    corpus."""
    import torch

    return "gpu" if torch.cuda.is_available() else "quick"


def resolve(chosen: str | None, corpus: str) -> tuple[Tier, str]:
    """The tier in force and where it comes from: ``$SERLIB_SETTINGS``, else the course's
    ``chosen`` tier, else :func:`propose`'s."""
    if os.environ.get(ENV_VAR):
        name, origin = os.environ[ENV_VAR], f"from {ENV_VAR}"
    elif chosen:
        name, origin = chosen, "chosen in notebook 0"
    else:
        name, origin = propose(corpus), "proposed for this device"
    if name not in TIERS:
        raise SerlibError(f"settings tier {name!r} ({origin}): choose one of "
                          f"{', '.join(TIERS)}")
    return TIERS[name], origin


def expected_minutes(notebook: int, tier: Tier, on: Device, *,
                     speech_s: float = COURSE_SPEECH_S) -> float:
    """The model's minutes for ``notebook`` in ``tier`` on device ``on``, for a corpus with
    ``speech_s`` seconds of speech in its preset."""
    minutes = QUICK_CPU_MINUTES.get(notebook, 0.2) * speech_s / COURSE_SPEECH_S
    if notebook not in FOLD_TRAININGS:  # no training: reading and plotting, as on the CPU
        return minutes
    fixed = FOLD_TRAININGS[notebook] * tier.repeats * GPU_FOLD_S / 60 if on.gpu else 0.0
    return minutes * tier.work / on.speed + fixed


def say_minutes(minutes: float) -> str:
    """``about 3 min``, ``about 2.5 h``, ``under a minute``."""
    if minutes < 1:
        return "under a minute"
    if minutes < 90:
        return f"about {minutes:.0f} min"
    return f"about {minutes / 60:.1f} h"


def timetable(on: Device, *, speech_s: float = COURSE_SPEECH_S) -> pd.DataFrame:
    """Expected time of each notebook (rows ``00``-``10``) in each tier (columns) on ``on``."""
    import pandas as pd

    return pd.DataFrame({name: {f"{n:02d}": say_minutes(expected_minutes(n, TIERS[name], on,
                                                                        speech_s=speech_s))
                                for n in QUICK_CPU_MINUTES}
                         for name in COURSE_TIERS}).rename_axis("notebook")
