"""The IEMOCAP parser on a made-up tree with the real corpus's quirks."""

from __future__ import annotations

import pytest
from conftest import write_wav

from serlib.corpora import index_corpus, index_iemocap
from serlib.corpora.iemocap import read_label_file
from serlib.errors import CorpusLayoutError, SerlibError


def test_summary_lines_only(iemocap_root):
    rows = read_label_file(iemocap_root / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt")
    assert [r["utt_id"] for r in rows] == ["Ses01F_impro01_F000", "Ses01F_impro01_M000",
                                           "Ses01F_impro01_F001", "Ses01F_impro01_M001"]
    assert rows[1] == {"utt_id": "Ses01F_impro01_M000", "emotion": "ang", "start_s": 4.0,
                       "end_s": 6.0, "valence": 2.5, "arousal": 3.0, "dominance": 3.5}


def test_improvised_4_is_the_default(iemocap_root):
    index = index_iemocap(iemocap_root, progress=False)
    t = index.table.set_index("utt_id")
    # Scripted dialogs, exc, fru and xxx are all outside improvised-4.
    assert sorted(t.index) == ["Ses01F_impro01_F000", "Ses01F_impro01_M000",
                               "Ses03M_impro05b_F002", "Ses03M_impro05b_M001"]
    assert index.classes == ("anger", "sadness", "happiness", "neutral")
    assert t.loc["Ses01F_impro01_M000", ["emotion", "label", "label_id"]].tolist() == \
        ["ang", "anger", 0]
    assert index.excluded == 6
    assert index.problems == []


def test_speaker_comes_from_the_utterance_suffix(iemocap_root):
    t = index_iemocap(iemocap_root, "full-4", progress=False).table.set_index("utt_id")
    # The dialog Ses03M_... holds turns of both speakers of session 3.
    assert t.loc["Ses03M_impro05b_F002", "speaker"] == "3F"
    assert t.loc["Ses03M_impro05b_M001", "speaker"] == "3M"
    assert t.loc["Ses01F_impro01_M000", "speaker"] == "1M"
    assert t.loc["Ses01F_script01_1_M000", ["session", "gender", "dialog"]].tolist() == \
        [1, "M", "Ses01F_script01_1"]
    assert t.loc["Ses03M_impro05b_F002", "dialog"] == "Ses03M_impro05b"
    assert bool(t.loc["Ses03M_impro05b_F002", "improvised"])
    assert not bool(t.loc["Ses03M_script02_2_F000", "improvised"])


def test_full_4_merges_excitement_into_happiness(iemocap_root):
    t = index_iemocap(iemocap_root, "full-4", progress=False).table.set_index("utt_id")
    assert len(t) == 8  # all but fru and xxx
    assert t.loc["Ses01F_impro01_F001", ["emotion", "label"]].tolist() == ["exc", "happiness"]
    assert t.loc["Ses03M_script02_2_F000", "label"] == "happiness"


def test_custom_mapping_and_improvised_only(iemocap_root):
    index = index_corpus("iemocap", iemocap_root, "fru=frustration,ang=anger",
                         improvised_only=False, progress=False)
    assert index.classes == ("frustration", "anger")
    assert sorted(index.table["utt_id"]) == ["Ses01F_impro01_M000", "Ses03M_script02_2_M010"]
    only = index_corpus("iemocap", iemocap_root, "full-4", improvised_only=True, progress=False)
    assert only.table["improvised"].all() and len(only.table) == 5


def test_bad_presets_are_explained():
    from serlib.corpora import get_preset

    with pytest.raises(SerlibError, match="unknown preset"):
        get_preset("iemocap", "improvised-5")
    with pytest.raises(SerlibError, match="not a iemocap emotion code"):
        get_preset("iemocap", "zzz=anger")
    with pytest.raises(SerlibError, match="is for emodb"):
        get_preset("iemocap", "emodb-7")


def test_table_columns_and_durations(iemocap_root):
    t = index_iemocap(iemocap_root, "full-4", progress=False).table
    for col in ["utt_id", "path", "speaker", "session", "gender", "emotion", "label",
                "label_id", "duration_s", "valence", "arousal", "dominance", "improvised"]:
        assert col in t.columns
    row = t.set_index("utt_id").loc["Ses01F_impro01_M000"]
    assert row["duration_s"] == pytest.approx(0.75)
    assert row["sample_rate"] == 16000 and row["channels"] == 1


def test_missing_and_bad_wavs_are_reported_and_left_out(iemocap_root):
    wav = iemocap_root / "Session1/sentences/wav"
    (wav / "Ses01F_impro01/Ses01F_impro01_F000.wav").unlink()
    (wav / "Ses01F_impro01/Ses01F_impro01_M000.wav").write_bytes(b"")
    (wav / "Ses01F_script01_1/Ses01F_script01_1_F000.wav").write_text("not audio at all")
    good = write_wav(wav / "Ses01F_script01_1/Ses01F_script01_1_M000.wav", 1.0)
    (good.parent / "Ses01F_script01_1_M000.wav").write_bytes(good.read_bytes()[:30])  # truncated
    index = index_iemocap(iemocap_root, "full-4", progress=False)
    reasons = {p.path.rsplit("/", 1)[-1]: p.reason for p in index.problems}
    assert reasons["Ses01F_impro01_F000.wav"] == "labelled, but the wav file is missing"
    assert reasons["Ses01F_impro01_M000.wav"] == "empty file (0 bytes)"
    assert reasons["Ses01F_script01_1_F000.wav"].startswith("not a readable audio file")
    assert reasons["Ses01F_script01_1_M000.wav"].startswith("not a readable audio file")
    assert len(index.table) == 8 - 4
    assert "4 file(s) left out" in index.summary()


def test_a_directory_named_like_a_wav(iemocap_root):
    wav = iemocap_root / "Session3/sentences/wav/Ses03M_impro05b/Ses03M_impro05b_F002.wav"
    wav.unlink()
    wav.mkdir()
    index = index_iemocap(iemocap_root, progress=False)
    assert [p.reason for p in index.problems] == ["is a directory, not an audio file"]


@pytest.mark.parametrize("make, found", [
    (lambda p: None, "the folder does not exist"),
    (lambda p: p.mkdir(), "an empty folder"),
    (lambda p: (p / "wav").mkdir(parents=True), "this looks like emoDB"),
    (lambda p: (p / "IEMOCAP_full_release").mkdir(parents=True), "IEMOCAP_full_release/ sub"),
    (lambda p: (p / "Session1/dialog").mkdir(parents=True), "without label files"),
])
def test_wrong_root_says_what_was_expected_and_found(tmp_path, make, found):
    root = tmp_path / "corpus"
    make(root)
    with pytest.raises(CorpusLayoutError) as e:
        index_iemocap(root, progress=False)
    assert "SessionN/dialog/EmoEvaluation" in str(e.value) and found in str(e.value)
