"""The course's helpers: one switch between the synthetic and a real corpus, and cached stages.

Notebook 0 chooses the corpus with :func:`use`, which remembers the choice in
``data/course.json``; every later notebook calls :func:`load` and gets the
same :class:`Course`. Its methods run a stage only when its output is missing
(the corpus, a feature store, a trained model), so each notebook can be run on
its own, and running them in order does each piece of work once.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .config import FeatureConfig, TrainConfig
from .corpora import CorpusIndex, corpus_from_environment, index_corpus, synthesize
from .corpora.registry import CORPORA as REGISTRY
from .errors import SerlibError

if TYPE_CHECKING:
    from .store import FeatureStore
    from .train import FoldResult

#: Where the course is published; the notebooks' Colab badges and install cells point here.
REPOSITORY = "https://github.com/serlib-course/serlib"
#: ``synthetic`` (IEMOCAP's layout, generated), then every corpus of the registry.
CORPORA = ("synthetic", *REGISTRY)
PACKAGES = ("serlib", "torch", "torchvision", "librosa", "numpy", "pandas", "scikit-learn",
            "matplotlib", "seaborn", "ipywidgets", "audiomentations", "pyroomacoustics")


def data_dir() -> Path:
    """The project's ``data/`` folder: ``$SERLIB_DATA``, else the nearest ``data/`` with a
    README above the working directory (notebooks run in ``notebooks/``), else ``./data``."""
    if os.environ.get("SERLIB_DATA"):
        return Path(os.environ["SERLIB_DATA"])
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "data" / "README.md").is_file():
            return folder / "data"
    return here / "data"


@dataclass(frozen=True)
class Course:
    """The corpus every notebook uses, and where the course keeps what it makes.

    ``corpus`` is ``synthetic`` (IEMOCAP's layout, generated) or a corpus of the
    registry (``iemocap``, ``emodb``, ``ravdess``, ``cremad``, ``tess``, ``folder``);
    ``root`` is the corpus folder; ``data`` the project's data folder.
    """

    corpus: str
    root: Path
    data: Path
    utterances: int = 1500
    seed: int = 0

    @property
    def layout(self) -> str:
        """How the folder is indexed: a corpus of the registry (``iemocap`` for synthetic)."""
        return "iemocap" if self.corpus == "synthetic" else self.corpus

    @property
    def work(self) -> Path:
        """Where feature stores, models and results of the course go."""
        return self.data / "course"

    @property
    def gpu(self) -> bool:
        import torch

        return torch.cuda.is_available()

    @property
    def full(self) -> bool:
        """Whether notebooks use the thesis's full settings: a real corpus or a GPU."""
        return self.corpus != "synthetic" or self.gpu

    @property
    def fold(self) -> tuple[str, str]:
        """The one fold the single-fold notebooks train: the thesis's example, validation 1F and
        test 1M; on a corpus with other speaker ids, the first fold of ``loso-speaker``."""
        if REGISTRY[self.layout].speaker_scheme == "sessions":
            return "1F", "1M"
        from .cv import make_folds

        table = self.index().table
        info = {str(spk): {"gender": rows["gender"].iloc[0], "session": None}
                for spk, rows in table.groupby("speaker")}
        first = make_folds("loso-speaker", list(info), speaker_info=info)[0]
        return (first.val_ids or first.test_ids)[0], first.test_ids[0]

    def describe(self) -> str:
        """One line: which corpus, where, and which settings the notebooks will use."""
        try:
            where = self.root.resolve().relative_to(self.data.resolve().parent)
        except ValueError:
            where = self.root
        what = "synthetic corpus in IEMOCAP's layout" if self.corpus == "synthetic" else \
            self.corpus
        settings = "the thesis's full settings" if self.full else "quick CPU settings"
        return f"{what} at {where}; notebooks use {settings}"

    def index(self, preset: str | None = None, *, progress: bool = False) -> CorpusIndex:
        """The utterance table under ``preset`` (the corpus's default: ``improvised-4`` for
        IEMOCAP, ``emodb-7`` for emoDB)."""
        return index_corpus(self.layout, self.root, preset, progress=progress)

    def features(self, features: str = "logspec", *, progress: bool = True,
                 **params) -> FeatureStore:
        """The feature store of ``features`` with ``params`` (any :class:`FeatureConfig`
        field), extracted on first use into ``data/course/features-NAME``."""
        from .extract import extract_features
        from .features import load_features

        config = FeatureConfig(features=features, **params)
        name = "-".join([features, *(f"{k}{v}" for k, v in sorted(params.items()))])
        # The course's own folder: a store of another corpus (the course switched) is
        # replaced; extract_features still refuses anything that is not a store.
        out = extract_features(self.index(), config, self.work / f"features-{name}",
                               progress=progress, overwrite=True)
        return load_features(out)

    def baselines(self, store: FeatureStore, val_id: str | None = None,
                  test_id: str | None = None) -> dict:
        """The majority and acoustic baselines (:mod:`serlib.baselines`) trained on the same
        speakers as a notebook's model and scored on its test speaker (default:
        :attr:`fold`): ``{"majority": Evaluation, "acoustic (eGeMAPS)": Evaluation}``."""
        from .baselines import fit_baseline
        from .train import check_speakers

        val_id, test_id = (val_id, test_id) if test_id else self.fold
        val_ids = [val_id] if val_id else []
        train_ids = check_speakers(store, val_ids, [test_id])
        return {name: fit_baseline(store, TrainConfig(ser_model=model), train_ids, val_ids,
                                   [test_id])[1]
                for name, model in (("majority", "majority"),
                                    ("acoustic (eGeMAPS)", "acoustic"))}

    def keep_fold(self, result: FoldResult, store: FeatureStore) -> Path | None:
        """Keep a fold trained in a notebook as the same fold of the 5-fold
        cross-validation in ``work/cv/<run label>`` (:func:`serlib.cv.save_fold`), so that
        notebooks 7 and 9 do not train it again. Prints where, and returns the folder; or
        prints why not and returns ``None`` (another fold, another configuration)."""
        from .cv import run_label, save_fold

        out = self.work / "cv" / run_label(result.config)
        try:
            path = save_fold(result, store, out)
        except SerlibError as error:
            print(f"not kept for cross-validation: {error}")
            return None
        print(f"kept as {path.relative_to(self.data.parent)}: a cross-validation there "
              "skips this fold")
        return out

    def examples(self, speaker: str | None = None) -> pd.DataFrame:
        """One utterance of each class (rows in class order), 2 to 6 s long where the corpus
        has one, from ``speaker`` (default: the test speaker of :attr:`fold`)."""
        table = self.index().table
        table = table[table["speaker"] == (speaker or self.fold[1])]
        table = table.assign(fit=~table["duration_s"].between(2, 6))
        rows = [group.sort_values(["fit", "utt_id"]).iloc[0]
                for _, group in table.groupby("label_id", sort=True)]
        return pd.DataFrame(rows).drop(columns="fit").reset_index(drop=True)

    def save(self) -> Path:
        """Remember this choice in ``data/course.json`` for the later notebooks."""
        path = self.data / "course.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}
        path.write_text(json.dumps(state, indent=1) + "\n")
        return path


def use(corpus: str = "auto", root: str | os.PathLike | None = None, *, utterances: int = 1500,
        seed: int = 0, progress: bool = True) -> Course:
    """Choose the course's corpus and remember it.

    ``auto`` takes the first corpus whose variable is set (``IEMOCAP_DIR``,
    ``EMODB_DIR``, ``RAVDESS_DIR``, ``CREMAD_DIR``, ``TESS_DIR``, ``SERLIB_FOLDER_DIR``),
    else the synthetic corpus, which is generated into ``data/synth-iemocap`` on
    first use (the corpus ``make demo`` uses).
    """
    data = data_dir()
    if corpus == "auto":
        corpus, found = corpus_from_environment() or ("synthetic", None)
        root = root if root is not None else found
    if corpus not in CORPORA:
        raise SerlibError(f"unknown corpus {corpus!r}; choose one of {['auto', *CORPORA]}")
    if corpus == "synthetic":
        root = synthesize(Path(root or data / "synth-iemocap"), "iemocap", utterances, seed,
                          progress=progress)
    elif root is None:
        raise SerlibError(f"give the folder of {corpus} (or set {REGISTRY[corpus].env_var})")
    course = Course(corpus, Path(root), data, utterances, seed)
    course.index()  # a wrong folder is explained now, not three notebooks later
    course.save()
    return course


def load() -> Course:
    """The course chosen in notebook 0 (``data/course.json``); the default when there is none."""
    path = data_dir() / "course.json"
    if not path.is_file():
        return use(progress=False)
    state = json.loads(path.read_text())
    course = Course(state["corpus"], Path(state["root"]), data_dir(), state["utterances"],
                    state["seed"])
    if course.corpus == "synthetic":  # cheap when it exists; remade after `make clean`
        synthesize(course.root, "iemocap", course.utterances, course.seed, progress=False)
    return course


def versions() -> pd.DataFrame:
    """Python, the course's packages and the compute device, one row each."""
    rows = [("python", platform.python_version())]
    for name in PACKAGES:
        try:
            rows.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            rows.append((name, "missing"))
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else \
        ("mps" if torch.backends.mps.is_available() else f"cpu ({os.cpu_count()} cores)")
    rows.append(("device", device))
    return pd.DataFrame(rows, columns=["package", "version"]).set_index("package")


def check_environment(min_python: tuple[int, int] = (3, 10)) -> pd.DataFrame:
    """Raise :class:`SerlibError` naming what is missing or too old; else the versions."""
    if sys.version_info < min_python:
        raise SerlibError(f"Python {'.'.join(map(str, min_python))} or newer is needed, "
                          f"not {platform.python_version()}")
    table = versions()
    missing = list(table.index[table["version"] == "missing"])
    if missing:
        raise SerlibError(f"missing packages: {', '.join(missing)}; run: pip install -e .")
    return table


def settings(full: bool, **changes) -> TrainConfig:
    """The training settings of a notebook's marked settings cell: the thesis's
    (:data:`serlib.config.THESIS`) when ``full``, else the course's quick ones
    (:data:`serlib.config.QUICK`, the same in every notebook), with ``changes`` (any
    :class:`TrainConfig` field, e.g. ``ser_model="alexnet"``); prints which."""
    from dataclasses import replace

    from .config import QUICK, THESIS

    config = replace(THESIS if full else QUICK, **changes)
    which = "the thesis's full settings" if full else "quick CPU settings"
    print(f"{which}: {config.ser_model}, {config.num_epochs} epochs, batch {config.batch_size}, "
          f"{config.image_size}-pixel images, lr {config.lr:g}, "
          f"{'ImageNet weights' if config.pretrained else 'random initialisation'}, "
          f"best epoch by validation {config.select_by.upper()}"
          + (", class-balanced loss" if config.class_weight == "balanced" else ""))
    return config
