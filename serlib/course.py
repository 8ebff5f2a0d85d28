"""The course's helpers: one switch between the synthetic and a real corpus, settings tiers,
and cached stages.

Notebook 0 chooses the corpus and the settings tier with :func:`use`, which remembers the
choice in ``course.json`` in the course folder (:func:`data_dir`: the project's ``data/``,
or on Colab ``/content/drive/MyDrive/serlib-course`` on Google Drive, which outlives the
runtime); every later notebook calls :func:`load` and gets the same :class:`Course`, or
stops saying what to do. Its methods run a stage only when its output is missing (the
corpus, a feature store, a trained model), so each notebook can be run on its own, in its
own runtime, and running them in order does each piece of work once.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import re
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .config import FeatureConfig, TrainConfig
from .corpora import CorpusIndex, corpus_from_environment, index_corpus, synthesize
from .corpora.registry import CORPORA as REGISTRY
from .errors import SerlibError
from .tiers import TIERS, Tier, device, expected_minutes, propose, resolve, say_minutes

if TYPE_CHECKING:
    from .checkpoints import FoldResult
    from .store import FeatureStore

#: Where the course is published; the notebooks' Colab badges and install cells point here.
REPOSITORY = "https://github.com/serlib-course/serlib"
#: ``synthetic`` (IEMOCAP's layout, generated), then every corpus of the registry.
CORPORA = ("synthetic", *REGISTRY)
#: The synthetic corpus of the course and of ``make demo``: 1,500 turns, seed 0.
DEFAULT_SYNTHETIC = (1500, 0)
#: The file in the course folder that remembers notebook 0's choice.
COURSE_FILE = "course.json"
PACKAGES = ("serlib", "torch", "torchvision", "librosa", "numpy", "pandas", "scikit-learn",
            "matplotlib", "seaborn", "ipywidgets", "audiomentations", "pyroomacoustics")


#: Where Colab mounts Google Drive, and the course folder on it (``SERLIB_COLAB_CONTENT``
#: stands in for ``/content`` in the tests that walk the Colab path).
DRIVE = "drive"
COLAB_FOLDER = "drive/MyDrive/serlib-course"


def on_colab() -> bool:
    """Whether this is a Colab kernel (``google.colab`` is imported from the start there)."""
    return "google.colab" in sys.modules


def colab_content() -> Path:
    """Colab's working folder, ``/content`` (``$SERLIB_COLAB_CONTENT`` in tests)."""
    return Path(os.environ.get("SERLIB_COLAB_CONTENT", "/content"))


def data_dir() -> Path:
    """The course folder: ``$SERLIB_DATA``; on Colab ``/content/drive/MyDrive/serlib-course``
    (an error if Google Drive is not mounted); else the nearest ``data/`` with a README above
    the working directory (notebooks run in ``notebooks/``), else ``./data``."""
    if os.environ.get("SERLIB_DATA"):
        return Path(os.environ["SERLIB_DATA"])
    if on_colab():
        folder = colab_content() / COLAB_FOLDER
        if not folder.parent.is_dir():
            raise SerlibError(
                f"Google Drive is not mounted at {colab_content() / DRIVE}, where the course "
                "keeps its folder: run the notebook's first cell (it mounts Drive) and allow "
                "access, or set SERLIB_DATA to another folder")
        return folder
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "data" / "README.md").is_file():
            return folder / "data"
    return here / "data"


def _fold_key(store: FeatureStore, config: TrainConfig) -> str:
    """A short hash of the fold's run identity (:func:`serlib.runs.run_identity`: the code,
    the store's contents, the settings but not how fast they run). Without stability
    training the noisy copies are not read, so a store with them gives the same fold."""
    from .runs import run_identity

    identity = run_identity(store, "5fold", config)
    if not config.stability:
        identity["feature_config"] = {k: v for k, v in identity["feature_config"].items()
                                      if k not in ("noise", "mixnoise")}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()
                          ).hexdigest()[:12]


@dataclass(frozen=True)
class Course:
    """The corpus every notebook uses, and where the course keeps what it makes.

    ``corpus`` is ``synthetic`` (IEMOCAP's layout, generated) or a corpus of the
    registry (``iemocap``, ``emodb``, ``ravdess``, ``cremad``, ``tess``, ``folder``);
    ``root`` is the corpus folder; ``data`` the course folder (:func:`data_dir`);
    ``tier`` the settings tier chosen in notebook 0 (:mod:`serlib.tiers`; ``None``:
    proposed for the device).
    """

    corpus: str
    root: Path
    data: Path
    utterances: int = 1500
    seed: int = 0
    tier: str | None = None
    tier_origin: str = "chosen in notebook 0"

    @property
    def layout(self) -> str:
        """How the folder is indexed: a corpus of the registry (``iemocap`` for synthetic)."""
        return "iemocap" if self.corpus == "synthetic" else self.corpus

    @property
    def work(self) -> Path:
        """Where feature stores, models and results of this course go: ``course`` for the
        default synthetic corpus, ``course-<corpus>`` (``course-synthetic-<turns>-seed<seed>``)
        for another, so that switching corpus and back loses nothing."""
        if self.corpus != "synthetic":
            return self.data / f"course-{self.corpus}"
        if (self.utterances, self.seed) == DEFAULT_SYNTHETIC:
            return self.data / "course"
        return self.data / f"course-synthetic-{self.utterances}-seed{self.seed}"

    @property
    def settings_tier(self) -> tuple[Tier, str]:
        """The tier in force and where it comes from (``$SERLIB_SETTINGS``, notebook 0, or
        proposed for the device): :func:`serlib.tiers.resolve`."""
        tier, origin = resolve(self.tier, self.corpus)
        return tier, (self.tier_origin if origin == "chosen in notebook 0" else origin)

    @property
    def tier_in_force(self) -> Tier:
        """The settings tier the notebooks use now (``.name``: quick, gpu or thesis)."""
        return self.settings_tier[0]

    @property
    def text_applies(self) -> bool:
        """Whether the notebooks' text describes this course's results: the default synthetic
        corpus in the quick tier, where their stored outputs come from. The cells that
        assert the text's claims about training (thresholds that held over training seeds,
        benchmarks/SEEDS.md) check them only then; another corpus or tier has its own."""
        return (self.corpus == "synthetic" and (self.utterances, self.seed) == DEFAULT_SYNTHETIC
                and self.tier_in_force.name == "quick")

    @property
    def repeats(self) -> int:
        """Repeats of each cross-validation in the tier (five in ``thesis``)."""
        return self.settings_tier[0].repeats

    def settings(self, notebook: int | None = None, **changes) -> TrainConfig:
        """The training settings of a notebook's marked settings cell: the tier's
        (:data:`serlib.tiers.TIERS`) with ``changes`` (any :class:`TrainConfig` field, e.g.
        ``ser_model="alexnet"``). Prints the tier, where it comes from, the settings, and
        ``notebook``'s expected time on this device."""
        tier, origin = self.settings_tier
        config = replace(tier.config, **changes)
        print(f"settings tier: {tier.name} ({origin}): {config.ser_model}, "
              f"{config.num_epochs} epochs, batch {config.batch_size}, "
              f"{config.image_size}-pixel images, lr {config.lr:g}, "
              f"{'ImageNet weights' if config.pretrained else 'random initialisation'}, "
              f"best epoch by validation {config.select_by.upper()}"
              + (", class-balanced loss" if config.class_weight == "balanced" else "")
              + (f", {tier.repeats} repeats" if tier.repeats > 1 else ""))
        if notebook is not None:
            on = device()
            minutes = expected_minutes(notebook, tier, on, speech_s=self.speech_s())
            print(f"expected time of notebook {notebook} on {on.name}: {say_minutes(minutes)}"
                  + ("" if on.measured else " (a model, not measured on this device)"))
        return config

    def speech_s(self) -> float:
        """Seconds of speech in the course's preset (what training time grows with)."""
        return float(self.index().table["duration_s"].sum())

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
        where, work = (self._shown(p) for p in (self.root, self.work))
        what = "synthetic corpus in IEMOCAP's layout" if self.corpus == "synthetic" else \
            self.corpus
        tier, origin = self.settings_tier
        return (f"{what} at {where}; settings tier {tier.name} ({origin}); "
                f"what the notebooks make goes to {work}")

    def _shown(self, path: Path) -> Path:
        """``path`` from the course folder's parent (``data/synth-iemocap``) when it lies in
        the course folder; else as recorded (a corpus elsewhere, on Drive say)."""
        try:
            return path.resolve().relative_to(self.data.resolve().parent) \
                if path.resolve().is_relative_to(self.data.resolve()) else path
        except ValueError:
            return path

    def index(self, preset: str | None = None, *, progress: bool = False) -> CorpusIndex:
        """The utterance table under ``preset`` (the corpus's default: ``improvised-4`` for
        IEMOCAP, ``emodb-7`` for emoDB).

        The corpus's audio is read once: the index is kept in the course folder
        (``index-PRESET.json``) with a fingerprint of the corpus folder's listing (every
        file's name, size and time), and reused while the listing is the same. A later
        notebook, in another runtime, then lists the folder instead of opening ten thousand
        files through a Google Drive mount."""
        name = preset or REGISTRY[self.layout].default_preset or "default"
        cache = self.work / f"index-{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}.json"
        fingerprint = _listing(self.root)
        try:
            state = json.loads(cache.read_text())
            if (state["fingerprint"], state["root"], state["asked"]) == \
                    (fingerprint, str(self.root), preset):
                return _index_from(state, self.root)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # none yet, or damaged: index again
        index = index_corpus(self.layout, self.root, preset, progress=progress)
        _keep_index(index, fingerprint, preset, cache)
        return index

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

    def train_fold(self, store: FeatureStore, config: TrainConfig, *,
                   log=print) -> FoldResult:
        """:attr:`fold` of ``store`` trained with ``config``, then kept: its checkpoint in
        ``work/folds/`` and the fold for cross-validation (:meth:`keep_fold`). When a notebook
        trained the same configuration on the same segments before, on this runtime or an
        earlier one, its checkpoint is read back instead (it says so): notebooks 5 and 6
        compare with notebook 4's FCN+GAP without training it again."""
        from .checkpoints import load_checkpoint, result_from_checkpoint, save_checkpoint
        from .cv import run_label
        from .train import train_fold as train

        path = self.work / "folds" / f"{run_label(config)}-{_fold_key(store, config)}.pth"
        if path.is_file():
            try:
                result = result_from_checkpoint(load_checkpoint(path))
            except SerlibError as error:
                print(f"training again: {path.name}: {error}")
            else:
                print(f"{run_label(config)}: read back from "
                      f"{path.relative_to(self.data.parent)} (trained in an earlier notebook)")
                return result
        val_id, test_id = self.fold
        result = train(store, config, val_id, test_id, log=log)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(result, path)
        self.keep_fold(result, store)
        return result

    def keep_fold(self, result: FoldResult, store: FeatureStore) -> Path | None:
        """Keep a fold trained in a notebook as the same fold of the 5-fold
        cross-validation in ``work/cv/<run label>`` (:func:`serlib.cv.save_fold`), so that
        notebooks 7 and 9 do not train it again. Prints where, and returns the folder; or
        prints why not and returns ``None`` (another fold; settings other than the tier's,
        which would later block the tier's cross-validation of that run label)."""
        from .config import ENHANCEMENTS, EXECUTION_ONLY
        from .cv import run_label, save_fold

        tier = self.tier_in_force
        ours, theirs = asdict(result.config), asdict(tier.config)
        changed = [k for k in ours if k not in (*ENHANCEMENTS, *EXECUTION_ONLY, "ser_model")
                   and ours[k] != theirs[k]]
        if changed:
            print("not kept for cross-validation: trained with "
                  + ", ".join(f"{k}={ours[k]!r}" for k in changed) + f", where the {tier.name} "
                  f"tier has {', '.join(f'{k}={theirs[k]!r}' for k in changed)}; the "
                  "cross-validations of notebooks 7 and 9 use the tier's settings")
            return None
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
        has one, from ``speaker`` (default: the test speaker of :attr:`fold`); a class that
        speaker lacks (a small corpus) is taken from the other speakers."""
        table = self.index().table
        table = table.assign(fit=~table["duration_s"].between(2, 6),
                             other=table["speaker"] != (speaker or self.fold[1]))
        rows = [group.sort_values(["other", "fit", "utt_id"]).iloc[0]
                for _, group in table.groupby("label_id", sort=True)]
        return pd.DataFrame(rows).drop(columns=["fit", "other"]).reset_index(drop=True)

    def save(self) -> Path:
        """Remember this choice in ``course.json`` in the course folder for the later
        notebooks (on Colab: on Google Drive, for their own runtimes)."""
        from .files import atomic_path

        state = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()
                 if k != "data"}
        path = self.data / COURSE_FILE
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(state, indent=1) + "\n")
        return path

    def timetable(self) -> pd.DataFrame:
        """Expected minutes of each notebook (rows) in each settings tier (columns) on this
        device for this corpus (:func:`serlib.tiers.timetable`)."""
        from .tiers import timetable

        return timetable(device(), speech_s=self.speech_s())

    def stand_in(self, corpus: str, utterances: int) -> Path:
        """The folder of ``corpus`` for a notebook that uses a second corpus: the real one
        when its variable is set (``RAVDESS_DIR``, ...), else a synthetic stand-in of
        ``utterances`` in its layout, generated into the course folder. Prints which."""
        var = REGISTRY[corpus].env_var
        if os.environ.get(var):
            root = Path(os.environ[var])
            print(f"{corpus}: the real corpus at {root} (from {var})")
            return root
        root = synthesize(self.data / f"synth-{corpus}", corpus, utterances, 0,
                          progress=False)
        print(f"{corpus}: a synthetic stand-in of {utterances} utterances in its layout "
              f"(set {var} to the real corpus's folder to use it)")
        return root


def _listing(root: Path) -> str:
    """A fingerprint of a corpus folder: each file's relative path, size and whole-second
    modification time (no file is opened)."""
    digest = hashlib.sha256()
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        for name in sorted(files):
            stat = os.stat(os.path.join(folder, name))
            digest.update(f"{os.path.relpath(os.path.join(folder, name), root)}\0"
                          f"{stat.st_size}\0{int(stat.st_mtime)}\n".encode())
    return digest.hexdigest()


def _keep_index(index: CorpusIndex, fingerprint: str, asked: str | None, path: Path) -> None:
    """Write ``index`` to ``path`` (JSON, atomically) with the corpus's ``fingerprint`` and
    the preset it was ``asked`` for."""
    from .files import atomic_path

    table = index.table
    state = {"fingerprint": fingerprint, "root": str(index.root), "asked": asked,
             "corpus": index.corpus,
             "preset": {**asdict(index.preset), "mapping": dict(index.preset.mapping)},
             "columns": list(table.columns),
             "dtypes": {c: str(t) for c, t in table.dtypes.items()},
             "rows": table.to_numpy().tolist(), "excluded": index.excluded,
             "problems": [[p.path, p.reason] for p in index.problems],
             "warnings": list(index.warnings)}
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(state, default=str))
    except OSError:  # a read-only course folder: index again next time
        pass


def _index_from(state: dict, root: Path) -> CorpusIndex:
    """The :class:`CorpusIndex` that :func:`_keep_index` wrote."""
    from .corpora.labels import LabelPreset
    from .corpora.table import Problem

    preset = LabelPreset(**{**state["preset"], "classes": tuple(state["preset"]["classes"])})
    table = pd.DataFrame(state["rows"], columns=state["columns"]).astype(state["dtypes"])
    return CorpusIndex(state["corpus"], root, preset, table,
                       [Problem(*p) for p in state["problems"]], state["excluded"],
                       list(state["warnings"]))


def use(corpus: str = "auto", root: str | os.PathLike | None = None, *, utterances: int = 1500,
        seed: int = 0, tier: str = "auto", progress: bool = True) -> Course:
    """Choose the course's corpus and settings tier, and remember them in the course folder.

    ``auto`` takes the first corpus whose variable is set (``IEMOCAP_DIR``,
    ``EMODB_DIR``, ``RAVDESS_DIR``, ``CREMAD_DIR``, ``TESS_DIR``, ``SERLIB_FOLDER_DIR``),
    else the synthetic corpus, which is generated into the course folder on first use
    (``synth-iemocap``, the corpus ``make demo`` uses; another size or seed gets its own
    folder). ``tier`` is ``quick``, ``gpu``, ``thesis`` or ``auto`` (proposed for this
    device: :func:`serlib.tiers.propose`).
    """
    data = data_dir()
    if corpus == "auto":
        corpus, found = corpus_from_environment() or ("synthetic", None)
        root = root if root is not None else found
    if corpus not in CORPORA:
        raise SerlibError(f"unknown corpus {corpus!r}; choose one of {['auto', *CORPORA]}")
    if tier != "auto" and tier not in TIERS:
        raise SerlibError(f"unknown settings tier {tier!r}; choose one of "
                          f"{['auto', *TIERS]}")
    if corpus == "synthetic":
        name = "synth-iemocap" if (utterances, seed) == DEFAULT_SYNTHETIC else \
            f"synth-iemocap-{utterances}-seed{seed}"
        root = synthesize(Path(root or data / name), "iemocap", utterances, seed,
                          progress=progress)
    elif root is None:
        raise SerlibError(f"give the folder of {corpus} (or set {REGISTRY[corpus].env_var})")
    origin = f"proposed in notebook 0 for {device().name}" if tier == "auto" else \
        "chosen in notebook 0"
    course = Course(corpus, Path(root), data, utterances, seed,
                    propose(corpus) if tier == "auto" else tier, origin)
    # A wrong folder is explained now, not notebooks later; a real corpus's files are read
    # here, once (a synthetic one was just made, with its own progress bar).
    course.index(progress=progress and corpus != "synthetic")
    course.save()
    return course


def load() -> Course:
    """The course chosen in notebook 0 (``course.json`` in the course folder). Stops, saying
    what to do, when there is none or its corpus is gone: a notebook never falls back to
    another corpus than the one chosen."""
    data = data_dir()
    path = data / COURSE_FILE
    if not path.is_file():
        where = "on your Google Drive " if on_colab() else ""
        raise SerlibError(
            f"no course chosen in {data} {where}(no {COURSE_FILE}): run notebook 0 first, "
            "which chooses the corpus and the settings tier and remembers them there"
            + (", with the same Google account" if on_colab() else ""))
    try:
        state = json.loads(path.read_text())
        course = Course(state["corpus"], Path(state["root"]), data, state["utterances"],
                        state["seed"], state.get("tier"),
                        state.get("tier_origin", "chosen in notebook 0"))
    except (ValueError, KeyError, TypeError) as error:
        raise SerlibError(f"{path} is damaged ({type(error).__name__}: {error}): run "
                          "notebook 0 again to choose the course") from None
    if course.corpus == "synthetic":  # cheap when it exists; remade after `make clean`
        synthesize(course.root, "iemocap", course.utterances, course.seed, progress=False)
    elif not course.root.is_dir():
        hint = " (is Google Drive mounted, and the corpus still there?)" if on_colab() else ""
        raise SerlibError(f"the course's corpus, {course.corpus} at {course.root}, is not "
                          f"there{hint}: put it back, or choose again in notebook 0")
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
        raise SerlibError(f"missing packages: {', '.join(missing)}; run: pip install -e "
                          "'.[course]' in a clone of the course (make demo does), or pip install "
                          "'serlib[course]'")
    return table


def save_uploads(value, folder: str | os.PathLike) -> list[Path]:
    """Write uploaded files into ``folder`` and return their paths, in upload order.

    ``value`` is Colab's ``google.colab.files.upload()`` result (``{name: bytes}``) or an
    ipywidgets ``FileUpload`` value: a tuple of ``{"name", "content", ...}`` dicts
    (ipywidgets 8) or ``{name: {"content": ...}}`` (ipywidgets 7, which Colab ships). Only
    a name's last part is kept, so an upload cannot write outside ``folder``.
    """
    if isinstance(value, dict):
        items = [(name, item["content"] if isinstance(item, dict) else item)
                 for name, item in value.items()]
    else:
        items = [(item["name"], item["content"]) for item in value]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in items:
        safe = Path(str(name).replace("\\", "/")).name
        if safe in ("", ".", ".."):
            raise SerlibError(f"upload {name!r}: not a file name")
        path = folder / safe
        path.write_bytes(bytes(content))
        paths.append(path)
    return paths


def restart_needed() -> list[str]:
    """Packages imported before an install changed their version (``numpy 1.26 -> 2.1``):
    until the runtime restarts, the old version stays loaded. Empty when nothing changed."""
    changed = []
    for name, module in (("numpy", "numpy"), ("pandas", "pandas"), ("scipy", "scipy"),
                         ("torch", "torch"), ("matplotlib", "matplotlib"),
                         ("ipywidgets", "ipywidgets")):
        loaded = getattr(sys.modules.get(module), "__version__", None)
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if loaded and installed.split("+")[0] != str(loaded).split("+")[0]:
            changed.append(f"{name} {loaded} -> {installed}")
    return changed
