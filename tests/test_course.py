"""The course's helpers: the corpus switch, cached stages, prediction from a fold, figures."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from matplotlib.figure import Figure

import serlib
from serlib import course as course_mod
from serlib import plots
from serlib.checkpoints import save_checkpoint
from serlib.corpora import index_emodb, synthesize
from serlib.errors import CorpusLayoutError, SerlibError
from serlib.extract import extract_features
from serlib.features import FeatureConfig, load_features, segment, segment_starts
from serlib.predict import Predictor, accuracy_vs_snr
from serlib.train import TrainConfig, train_fold

TINY = TrainConfig(ser_model="alexnet_gap", num_epochs=1, batch_size=16, image_size=64)


@pytest.fixture
def tiny_tier(monkeypatch):
    """The quick tier (what a course without a GPU uses) with TINY's settings."""
    from dataclasses import replace

    monkeypatch.setitem(serlib.tiers.TIERS, "quick",
                        replace(serlib.tiers.TIERS["quick"], config=TINY))


@pytest.fixture
def data(tmp_path, monkeypatch):
    from serlib.corpora import ENV_VARS

    for var in (*ENV_VARS.values(), "SERLIB_SETTINGS", "SERLIB_COLAB_CONTENT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SERLIB_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def test_data_dir_is_found_from_the_notebooks_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SERLIB_DATA", raising=False)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "README.md").write_text("data\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert course_mod.data_dir() == tmp_path / "data"
    monkeypatch.setenv("SERLIB_DATA", str(tmp_path / "elsewhere"))
    assert course_mod.data_dir() == tmp_path / "elsewhere"


def test_the_switch_is_remembered_and_defaults_to_synthetic(data):
    chosen = course_mod.use("auto", utterances=40, progress=False)
    assert chosen.corpus == "synthetic" and chosen.root == data / "synth-iemocap-40-seed0"
    assert chosen.tier == serlib.tiers.propose("synthetic")
    saved = json.loads((data / "course.json").read_text())
    assert saved["corpus"] == "synthetic" and saved["utterances"] == 40
    assert saved["tier"] == chosen.tier and "proposed in notebook 0" in saved["tier_origin"]
    loaded = course_mod.load()
    assert loaded == chosen
    assert "synthetic corpus" in loaded.describe()
    assert set(loaded.index().table["speaker"]) <= {f"{s}{g}" for s in range(1, 6) for g in "FM"}


def test_auto_follows_the_environment_and_bad_choices_are_explained(data, iemocap_root,
                                                                    monkeypatch, tmp_path):
    monkeypatch.setenv("IEMOCAP_DIR", str(iemocap_root))
    chosen = course_mod.use("auto", tier="thesis", progress=False)
    assert (chosen.corpus, chosen.root, chosen.tier) == ("iemocap", iemocap_root, "thesis")
    assert chosen.work == data / "course-iemocap"
    assert course_mod.load().corpus == "iemocap"
    with pytest.raises(SerlibError, match="unknown corpus 'timit'"):
        course_mod.use("timit")
    with pytest.raises(SerlibError, match="give the folder of emodb"):
        course_mod.use("emodb")
    with pytest.raises(CorpusLayoutError):  # explained now, not three notebooks later
        course_mod.use("iemocap", tmp_path)


def test_features_are_extracted_once_and_named_by_their_parameters(data, monkeypatch):
    chosen = course_mod.use("synthetic", utterances=40, progress=False)
    store = chosen.features("logspec", progress=False, segment_size=100)
    assert store.path.name == "features-logspec-segment_size100"
    assert store.config.segment_size == 100
    import serlib.extract as ex

    monkeypatch.setattr(ex, "_extract_batch", lambda task: pytest.fail("extracted again"))
    again = chosen.features("logspec", progress=False, segment_size=100)
    assert again.path == store.path


def test_examples_give_one_utterance_per_class_of_one_speaker(data):
    chosen = course_mod.use("synthetic", utterances=100, progress=False)
    table = chosen.index().table
    lacking = 0
    for speaker in sorted(set(table["speaker"])):
        examples = chosen.examples(speaker)
        assert list(examples["label_id"]) == sorted(set(table["label_id"]))  # every class
        own = set(table.query("speaker == @speaker")["label_id"])
        # From that speaker where it has the class; from another speaker where it has not.
        assert all((row.speaker == speaker) == (row.label_id in own)
                   for row in examples.itertuples())
        lacking += len(own) < len(set(table["label_id"]))
    assert lacking  # a small corpus: some speaker lacks a class


def test_one_set_of_settings_per_tier_and_the_environment_check(data, capsys):
    from serlib.config import QUICK, THESIS

    course = course_mod.use("synthetic", utterances=40, tier="quick", progress=False)
    assert course.settings() == QUICK
    alexnet = course.settings(3, ser_model="alexnet")
    assert alexnet.ser_model == "alexnet" and alexnet.num_epochs == QUICK.num_epochs
    out = capsys.readouterr().out
    assert "settings tier: quick (chosen in notebook 0): alexnet_gap, 15 epochs" in out
    assert "expected time of notebook 3 on " in out
    assert serlib.demo.QUICK is QUICK and serlib.demo.FULL is THESIS
    table = course_mod.check_environment()
    assert table.loc["serlib", "version"] == serlib.__version__
    with pytest.raises(SerlibError, match="Python 9.0 or newer"):
        course_mod.check_environment((9, 0))


def test_import_serlib_is_light_and_names_are_lazy():
    code = "import sys, serlib; print('torch' in sys.modules, 'librosa' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert serlib.TrainConfig is serlib.config.TrainConfig
    assert serlib.train_fold is serlib.train.train_fold
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        serlib.nope  # noqa: B018


@pytest.fixture(scope="module")
def fold(tmp_path_factory):
    root = synthesize(tmp_path_factory.mktemp("c") / "emodb", "emodb", 60, seed=3, jobs=2,
                      progress=False)
    index = index_emodb(root, "emodb-4", progress=False)
    store = load_features(extract_features(index, FeatureConfig(segment_size=100),
                                           root.parent / "store", jobs=2, progress=False))
    result = train_fold(store, TINY, "1F", "1M", progress=False, log=lambda line: None)
    return store, index, result, save_checkpoint(result, root.parent / "m.pth")


def test_segments_of_and_segment_starts(fold):
    store, *_ = fold
    data = store["1M"]
    second = store.utt_ids["1M"][1]
    n0, n1 = int(data.num_segs[0]), int(data.num_segs[1])
    assert np.array_equal(store.segments_of("1M", second), data.segments[n0:n0 + n1])
    with pytest.raises(KeyError, match="no utterance"):
        store.segments_of("1M", "nope")
    x = np.random.default_rng(0).normal(size=(1, 3, 250)).astype(np.float32)
    starts = segment_starts(250, 100)
    assert starts == [0, 100, 150]
    assert all(np.array_equal(s[..., :], x[..., a:a + 100])
               for s, a in zip(segment(x, 100, np.zeros(1)), starts, strict=True))


@pytest.mark.slow  # over 5 s: the whole suite only, for a fast inner loop
def test_a_predictor_from_the_fold_equals_one_from_its_checkpoint(fold, tmp_path):
    store, index, result, path = fold
    wav = index.table.query("speaker == '1M'")["path"].iloc[0]
    a, b = Predictor(result).predict(wav), Predictor(path).predict(wav)
    assert np.allclose(a.probs, b.probs) and a.emotion == b.emotion
    y, sr = sf.read(wav, dtype="float32")
    assert np.allclose(Predictor(result).predict_signal(y).probs, a.probs, atol=1e-6)
    segments = store.segments_of("1M", store.utt_ids["1M"][0])[:1]
    maps = Predictor(result).class_maps(segments, np.array([0]))
    assert maps.ndim == 3 and maps.shape[0] == 1
    with pytest.raises(ValueError, match="1 segments but 2 classes"):
        Predictor(result).class_maps(segments, np.array([0, 1]))
    alex = train_fold(store, TrainConfig(ser_model="alexnet", num_epochs=1, batch_size=32,
                                         image_size=64), "1F", "1M", progress=False,
                      log=lambda line: None)
    with pytest.raises(SerlibError, match="no class activation maps"):
        Predictor(alex).class_maps(store["1M"].segments[:1], np.array([0]))


@pytest.mark.parametrize("scaler", ["training", "speaker"])
def test_answers_are_the_evaluations_answers_utterance_by_utterance(fold, scaler):
    """The error-analysis table gives, file by file, the answers the fold's test score
    counted: its confusion matrix is the evaluation's, under either scaling."""
    from dataclasses import replace

    from sklearn.metrics import confusion_matrix

    store, index, result, _ = fold
    if scaler != result.config.scaler:
        result = train_fold(store, replace(TINY, scaler=scaler), "1F", "1M", progress=False,
                            log=lambda line: None)
    table = Predictor(result).answers(store, "1M", batch_size=5)  # batches split utterances
    assert np.array_equal(confusion_matrix(table["label"], table["answer"],
                                           labels=list(store.classes)), result.test.confusion)
    files = set(index.table.query("speaker == '1M'")["path"].map(str))
    assert set(table["path"].map(str)) == files and len(table) == len(files)
    assert (table["correct"] == (table["label"] == table["answer"])).all()
    assert table["vote"].between(100 / len(store.classes), 100).all()
    assert table["segments"].sum() == len(store["1M"].segments)
    # The vote itself, from the images training's own splits made (its scaler, its uint8)
    import torch

    from serlib.images import to_images
    from serlib.metrics import utterance_scores
    from serlib.train import check_speakers, make_splits

    *_, test, _ = make_splits(store, check_speakers(store, ["1F"], ["1M"]), ["1F"], ["1M"],
                              False, by_speaker=scaler == "speaker")
    model = Predictor(result).model
    with torch.no_grad():
        logits = model(to_images(torch.from_numpy(test.x), result.config.image_size)).float()
    scores = utterance_scores(torch.log_softmax(logits, 1).numpy(), test.num_segs)
    vote = 100 * torch.softmax(torch.from_numpy(scores), 1).numpy().max(axis=1)
    assert np.allclose(table["vote"], vote, atol=1e-3)
    other = Predictor(result)
    other.classes = other.classes[::-1]
    with pytest.raises(SerlibError, match="are not the store's"):
        other.answers(store, "1M")


def test_accuracy_vs_snr_scores_every_model_on_the_same_noisy_signals(fold):
    store, index, result, _ = fold
    table = index.table.query("speaker == '1M'")
    p = Predictor(result)
    curve = accuracy_vs_snr({"a": p, "b": p}, table, [None, 10, -20], progress=False)
    assert list(curve.columns) == ["model", "snr_db", "WA", "UA", "most predicted",
                                   "collapsed"] and len(curve) == 6
    # At -20 dB the noise drowns the speech: whatever is answered, the flag follows the rule.
    loud = curve[curve["snr_db"] == -20].iloc[0]
    share = float(loud["most predicted"].split("(")[1].rstrip(" %)"))
    assert loud["collapsed"] == (share >= 90 or loud["UA"] <= 100 / 4 + 5)
    a, b = (curve[curve["model"] == m].reset_index(drop=True) for m in ("a", "b"))
    assert a[["WA", "UA"]].equals(b[["WA", "UA"]])  # same model, same noise: same scores
    clean = curve[curve["snr_db"].isna() & (curve["model"] == "a")]
    preds = [p.predict(path).probs.argmax() for path in table["path"]]
    assert clean["WA"].iloc[0] == pytest.approx(
        100 * np.mean(np.array(preds) == table["label_id"].to_numpy()))
    again = accuracy_vs_snr({"a": p}, table, [10], progress=False)
    assert again["WA"].iloc[0] == a["WA"].iloc[1]  # seeded: the same noise every time


def test_speaker_scalers_show_a_few_segments_as_the_evaluation_did():
    """A speaker-normalised model's answers on a few stored segments of two speakers: scaled
    with Predictor.speaker_scalers (fitted on all of each one's segments) they are the fold
    evaluation's, its images those of make_splits; fitted on the few alone, the default,
    they differ."""
    from dataclasses import asdict, replace
    from types import SimpleNamespace

    from serlib.models import build_model
    from serlib.scaling import fit_scaler
    from serlib.train import make_splits

    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    features = FeatureConfig(segment_size=100)
    rng = np.random.default_rng(0)
    labels = np.arange(12) % 4
    store = {}
    for speaker, level in (("1F", 0.4), ("1M", 1.0)):  # one quiet speaker, one loud one
        segments = (rng.uniform(-80, 0, (12, 1, features.nfreq, 100))
                    * rng.uniform(0.3, 1.0, (12, 1, 1, 1)) * level).astype(np.float32)
        store[speaker] = SimpleNamespace(segments=segments, seg_labels=labels,
                                         utt_labels=labels, num_segs=np.ones(12, int))
    config = replace(TINY, scaler="speaker")
    predictor = Predictor({"classes": ["anger", "sadness", "happiness", "neutral"],
                           "config": asdict(config), "feature_config": features.to_dict(),
                           "scaler": fit_scaler(s.segments for s in store.values()).to_dict(),
                           "state_dict": build_model(config.ser_model, 4).state_dict()})
    evaluated = make_splits(store, ["1F", "1M"], [], ["1F", "1M"], with_noisy=False,
                            by_speaker=True)[2].x  # the test set, scaled: 1F's then 1M's
    picks = [("1M", 0), ("1F", 5), ("1M", 10)]
    few = np.stack([store[s].segments[i] for s, i in picks])
    rows = [12 * (s == "1M") + i for s, i in picks]
    scalers = predictor.speaker_scalers(store, [s for s, _ in picks])
    assert scalers[0] is scalers[2]  # fitted once per speaker
    assert np.array_equal(np.concatenate([sc.transform(x[None]) for sc, x in
                                          zip(scalers, few, strict=True)]), evaluated[rows])
    probs = predictor.segment_probs(few, scaler=scalers)
    whole = {s: predictor.segment_probs(store[s].segments) for s in store}
    assert np.allclose(probs, [whole[s][i] for s, i in picks], atol=1e-6)
    assert not np.allclose(predictor.segment_probs(few), probs, atol=1e-4)
    maps = predictor.class_maps(few, labels[[i for _, i in picks]], scaler=scalers)
    assert np.allclose(maps[0], predictor.class_maps(store["1M"].segments, labels)[0],
                       atol=1e-5)
    with pytest.raises(ValueError, match="3 segments but 2 scalers"):
        predictor.segment_probs(few, scaler=scalers[:2])


def _labelled(fig: Figure) -> bool:
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.axison]
    return bool(fig.get_suptitle() or all(ax.get_title() for ax in axes)) and \
        all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)


def test_course_figures_have_titles_and_axis_labels(fold):
    store, index, result, _ = fold
    config = store.config
    x = np.full((config.nfreq, 250), -40.0)
    figs = [plots.spectrogram_grid({"anger": {"logspec": x, "logmelspec Δ": x}}, config, "t"),
            plots.segments_figure(x, config, segment_starts(250, 100), "segments"),
            plots.panels_figure([x, x], ["a", "b"], "steps", cbar_label="dB"),
            plots.cam_figure(np.stack([x[:, :100]]), np.ones((1, 3, 5)), ["anger"], config)]
    prediction = Predictor(result).predict(index.table["path"].iloc[0])
    figs.append(plots.prediction_figure(prediction, store.classes, 1.0))
    import pandas as pd

    curve = pd.DataFrame({"model": ["a", "a"], "snr_db": [np.nan, 10.0], "WA": [50, 40],
                          "UA": [40, 30]})
    figs.append(plots.snr_figure(curve, "noise"))
    for fig in figs:
        assert isinstance(fig, Figure) and _labelled(fig), fig


def test_a_notebooks_fold_is_kept_for_the_cross_validation(fold, tmp_path, capsys, tiny_tier):
    from dataclasses import replace

    store, _, result, _ = fold
    course = course_mod.Course("emodb", tmp_path / "emodb", tmp_path / "data", 60, 3)
    out = course.keep_fold(result, store)
    assert out == tmp_path / "data" / "course-emodb" / "cv" / "alexnet_gap"
    kept = json.loads((out / "fold-r0-1M.json").read_text())
    assert kept["test"]["ua"] == pytest.approx(result.test.ua) and kept["seed"] == TINY.seed
    assert capsys.readouterr().out == ("kept as data/course-emodb/cv/alexnet_gap/fold-r0-1M.json: "
                                       "a cross-validation there skips this fold\n")
    swapped = replace(result, val_ids=["1M"], test_ids=["1F"])
    assert course.keep_fold(swapped, store) is None
    assert "not kept for cross-validation: test 1F with validation 1M is not a fold of 5fold" \
        in capsys.readouterr().out
    # A learner's changed setting (an exercise) is not kept: it would block the tier's
    # cross-validation of alexnet_gap+mixup in notebook 9 ("another configuration").
    changed = replace(result, config=replace(TINY, mixup=True, num_epochs=3))
    assert course.keep_fold(changed, store) is None
    assert capsys.readouterr().out == (
        "not kept for cross-validation: trained with num_epochs=3, where the quick tier has "
        "num_epochs=1; the cross-validations of notebooks 7 and 9 use the tier's settings\n")
    assert not (out.parent / "alexnet_gap+mixup").exists()


@pytest.mark.slow  # notebooks' course flow: trains several folds
def test_a_fold_is_trained_once_and_read_back_by_later_notebooks(data, capsys, tiny_tier):
    from dataclasses import replace

    import torch

    chosen = course_mod.use("synthetic", utterances=150, progress=False)
    store = chosen.features("logspec", progress=False, segment_size=100)
    capsys.readouterr()
    first = chosen.train_fold(store, TINY, log=lambda line: None)
    assert "kept as" in capsys.readouterr().out  # and kept for the cross-validation

    def same(a, b) -> bool:
        return (a.test.ua == b.test.ua and np.array_equal(a.test.confusion, b.test.confusion)
                and a.best_epoch == b.best_epoch and a.history == b.history
                and all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict))

    again = chosen.train_fold(store, TINY, log=print)
    said = capsys.readouterr().out
    assert "read back from" in said and "epoch" not in said and same(again, first)
    assert again.config == first.config and again.scaler.low.tobytes() == \
        first.scaler.low.tobytes()
    # Without stability training the noisy copies are not read: a store with them trains the
    # very same fold (what lets notebook 6 read notebook 4's back), and it is read back.
    noisy = chosen.features("logspec", progress=False, segment_size=100, mixnoise=1)
    assert same(serlib.train_fold(noisy, TINY, *chosen.fold, log=lambda line: None), first)
    capsys.readouterr()
    chosen.train_fold(noisy, TINY)
    assert "read back from" in capsys.readouterr().out
    # Another configuration is trained; a damaged checkpoint is trained again, saying so.
    chosen.train_fold(store, replace(TINY, seed=112), log=lambda line: None)
    assert "read back" not in capsys.readouterr().out
    for path in (chosen.work / "folds").glob("alexnet_gap-*.pth"):
        path.write_bytes(b"")
    assert same(chosen.train_fold(store, TINY, log=lambda line: None), first)
    assert "training again" in capsys.readouterr().out


@pytest.mark.slow  # notebooks' course flow: trains several folds
def test_a_plain_fold_kept_from_the_noisy_store_serves_the_plain_cross_validation(
        data, tiny_tier):
    """Notebook 6 before notebook 4: its plain model, trained on the store with noisy copies
    (which it does not read), is kept, and notebook 9's cross-validation on the plain store
    reads it back instead of refusing the run folder as another configuration's. A run
    that does read the copies (stability training) keeps its own identity."""
    from dataclasses import replace

    from serlib.runs import run_identity

    chosen = course_mod.use("synthetic", utterances=150, progress=False)
    plain = chosen.features("logspec", progress=False, segment_size=100)
    noisy = chosen.features("logspec", progress=False, segment_size=100, mixnoise=1)
    assert run_identity(plain, "5fold", TINY) == run_identity(noisy, "5fold", TINY)
    stable = replace(TINY, stability=True)
    assert run_identity(plain, "5fold", replace(stable, stability_source="gaussian")) == \
        run_identity(noisy, "5fold", replace(stable, stability_source="gaussian"))
    assert run_identity(noisy, "5fold", stable) != \
        run_identity(noisy, "5fold", replace(stable, stability_source="gaussian"))
    kept = chosen.train_fold(noisy, TINY, log=lambda line: None)
    lines = []
    serlib.run_cv(plain, "5fold", TINY, chosen.work / "cv" / "alexnet_gap",
                  folds=[chosen.fold[1]], progress=False, log=lines.append)
    assert any("done already" in line for line in lines), lines
    record = json.loads((chosen.work / "cv" / "alexnet_gap" /
                         f"fold-r0-{chosen.fold[1]}.json").read_text())
    assert record["test"]["ua"] == kept.test.ua


def test_the_texts_claims_are_asserted_only_for_the_course_they_describe(tmp_path, monkeypatch):
    """The notebooks assert their text's claims about training only on the default synthetic
    corpus in the quick tier, where the thresholds were measured over training seeds."""
    course = course_mod.Course("synthetic", tmp_path / "synth", tmp_path / "data", tier="quick")
    assert course.text_applies
    assert not course_mod.Course("synthetic", tmp_path, tmp_path, 3000, 0, "quick").text_applies
    assert not course_mod.Course("emodb", tmp_path, tmp_path, tier="quick").text_applies
    monkeypatch.setenv("SERLIB_SETTINGS", "check")  # nbval's tier for most notebooks
    assert not course.text_applies
    monkeypatch.setenv("SERLIB_SETTINGS", "quick")  # notebook 7's under nbval
    assert course.text_applies
