"""The corpus registry and the protocol registry: RAVDESS, CREMA-D, TESS and your own folder in
their real layouts, native speaker ids, kfold and loso-speaker, and one run end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import write_wav

from serlib.cli import build_parser, main
from serlib.corpora import (
    CORPORA,
    ENV_VARS,
    PRESETS,
    corpus_from_environment,
    get_preset,
    index_corpus,
    synthesize,
)
from serlib.cv import PROTOCOLS, make_folds
from serlib.errors import CorpusLayoutError, SerlibError
from serlib.store import parse_speaker_id, speaker_info

TEN = [f"{s}{g}" for s in range(1, 6) for g in "FM"]


def name_of(problem) -> str:
    return Path(problem.path).name


# --- the registry ------------------------------------------------------------------------------

def test_the_registry_is_the_single_source():
    # The thesis's corpus first, your own folder last (its variable is looked at last);
    # a corpus added between them is picked up by every test that reads the registry.
    assert list(CORPORA)[:2] == ["iemocap", "emodb"] and list(CORPORA)[-1] == "folder"
    assert {"ravdess", "cremad", "tess"} <= set(CORPORA)
    assert {k: ENV_VARS[k] for k in ("iemocap", "emodb", "ravdess", "cremad", "tess",
                                     "folder")} == {
        "iemocap": "IEMOCAP_DIR", "emodb": "EMODB_DIR", "ravdess": "RAVDESS_DIR",
        "cremad": "CREMAD_DIR", "tess": "TESS_DIR", "folder": "SERLIB_FOLDER_DIR"}
    assert len(set(ENV_VARS.values())) == len(CORPORA)
    assert all(v.endswith("_DIR") for v in ENV_VARS.values())
    for name, spec in CORPORA.items():
        assert spec.name == name and spec.synth is not None and spec.expected
        assert spec.default_preset is None or spec.default_preset in spec.presets
        assert all(p.corpus == name for p in spec.presets.values())
    assert {"improvised-4", "emodb-7", "ravdess-8", "ravdess-7", "ravdess-4", "cremad-6",
            "cremad-4", "tess-7", "tess-4"} <= set(PRESETS)
    # The command line's choices are the registry's.
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices
    choices = {cmd: {a.dest: a.choices for a in sub[cmd]._actions}
               for cmd in ("synth", "index", "extract", "cv")}
    assert choices["synth"]["layout"] == list(CORPORA)
    assert choices["index"]["corpus"] == choices["extract"]["corpus"] == list(CORPORA)
    assert list(PROTOCOLS) == ["5fold", "10fold", "loso", "kfold", "loso-speaker"]
    helps = {a.dest: a.help for a in sub["cv"]._actions}
    assert all(f"{name}:" in helps["protocol"] for name in PROTOCOLS)
    from serlib.course import CORPORA as COURSE_CORPORA

    assert COURSE_CORPORA == ("synthetic", *CORPORA)


def test_environment_and_options(monkeypatch, tmp_path):
    for var in ENV_VARS.values():
        monkeypatch.delenv(var, raising=False)
    assert corpus_from_environment() is None
    monkeypatch.setenv("TESS_DIR", str(tmp_path / "t"))
    monkeypatch.setenv("RAVDESS_DIR", str(tmp_path / "r"))
    assert corpus_from_environment() == ("ravdess", tmp_path / "r")  # the registry's order
    with pytest.raises(SerlibError, match="speaker_ids does not apply to ravdess "
                                          r"\(only to emodb\)"):
        index_corpus("ravdess", tmp_path, speaker_ids="native")
    with pytest.raises(SerlibError, match="unknown corpus 'timit'; choose one of"):
        index_corpus("timit", tmp_path)
    with pytest.raises(SerlibError, match="is for cremad, not ravdess"):
        get_preset("ravdess", "cremad-4")
    with pytest.raises(SerlibError, match="'09' is not a ravdess emotion code"):
        get_preset("ravdess", "09=anger")
    assert get_preset("ravdess", "05=anger,02=calm").classes == ("anger", "calm")


# --- RAVDESS -----------------------------------------------------------------------------------

def ravdess_name(emo: str, intensity: str = "01", statement: str = "01", rep: str = "01",
                 actor: str = "01", modality: str = "03", channel: str = "01") -> str:
    return f"{modality}-{channel}-{emo}-{intensity}-{statement}-{rep}-{actor}.wav"


@pytest.fixture
def ravdess_root(tmp_path: Path) -> Path:
    """Three actors as the speech zip unpacks, with song and video files, litter and strays."""
    root = tmp_path / "Audio_Speech_Actors_01-24"
    files = {"01": ["01", "02", "03", "05", "05"], "02": ["04", "05", "06", "07", "08", "02"],
             "03": ["01", "01"]}
    for actor, emotions in files.items():
        for k, emo in enumerate(emotions):
            name = ravdess_name(emo, "02" if emo != "01" and k % 2 else "01", actor=actor,
                                rep=f"{k % 2 + 1:02d}", statement=f"{k // 2 % 2 + 1:02d}")
            write_wav(root / f"Actor_{actor}" / name, seconds=0.3, sr=48000)
    a1 = root / "Actor_01"
    write_wav(a1 / ravdess_name("03", channel="02"), sr=48000)   # a song file: left out
    write_wav(a1 / ravdess_name("03", modality="01"), sr=48000)  # a video file: reported
    write_wav(a1 / ravdess_name("03", actor="07"), sr=48000)     # in the wrong folder
    (a1 / "readme.wav").write_bytes(b"RIFF")
    (a1 / f"._{ravdess_name('01')}").write_bytes(b"\x00\x05")    # macOS litter: silent
    (a1 / ".DS_Store").write_bytes(b"\x00")
    (root / "Actor_03" / ravdess_name("08", "02", actor="03")).write_bytes(b"RIFF\x00corrupt")
    (root / "notes.txt").write_text("not an actor")
    return root


def test_ravdess_is_indexed_exactly(ravdess_root):
    index = index_corpus("ravdess", ravdess_root, progress=False)
    t = index.table
    assert index.classes == ("neutral", "calm", "happiness", "sadness", "anger", "fear",
                             "disgust", "surprise")
    counts = index.counts()
    assert counts.loc["01"].tolist() == [1, 1, 1, 0, 2, 0, 0, 0, 5]
    assert counts.loc["02"].tolist() == [0, 1, 0, 1, 1, 1, 1, 1, 6]
    assert counts.loc["03"].tolist() == [2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert dict(t.groupby("speaker")["gender"].first()) == {"01": "M", "02": "F", "03": "M"}
    assert t["session"].isna().all() and str(t["session"].dtype) == "Int64"
    assert set(t["sample_rate"]) == {48000}
    row = t.set_index("utt_id").loc["03-01-05-02-02-02-01"]
    assert (row["speaker"], row["label"], row["intensity"], row["statement"],
            row["repetition"]) == ("01", "anger", "strong", "02", 2)
    reasons = {name_of(p): p.reason for p in index.problems}
    assert reasons == {
        "01-01-03-01-01-01-01.wav": "modality 01: not an audio-only file (03)",
        "03-01-03-01-01-01-07.wav": "actor 07 in the name, but in Actor_01/",
        "readme.wav": "name does not follow RAVDESS's pattern (03-01-05-02-01-01-01.wav)",
        "03-01-08-02-01-01-03.wav": reasons["03-01-08-02-01-01-03.wav"]}
    assert reasons["03-01-08-02-01-01-03.wav"].startswith("not a readable audio file")
    assert index.excluded == 1  # the song file


def test_ravdess_presets(ravdess_root):
    seven = index_corpus("ravdess", ravdess_root, "ravdess-7", progress=False)
    assert seven.classes == ("neutral", "happiness", "sadness", "anger", "fear", "disgust",
                             "surprise")
    assert Counter(seven.table["label"])["neutral"] == 5  # 3 neutral + 2 calm
    four = index_corpus("ravdess", ravdess_root, "ravdess-4", progress=False)
    assert four.classes == ("anger", "sadness", "happiness", "neutral")
    assert Counter(four.table["label"]) == {"anger": 3, "neutral": 3, "happiness": 1,
                                            "sadness": 1}
    # The song, calm x2, fear, disgust, surprise x2 (the corrupt file is left out before its
    # audio is read).
    assert four.excluded == 1 + 6


def test_ravdess_wrong_root(ravdess_root, tmp_path):
    with pytest.raises(CorpusLayoutError, match=r"did you mean its Audio_Speech_Actors_01-24/"):
        index_corpus("ravdess", tmp_path, progress=False)
    with pytest.raises(CorpusLayoutError, match=r"expected: Actor_01/ \.\. Actor_24/ folders"):
        index_corpus("ravdess", tmp_path / "nowhere", progress=False)


# --- CREMA-D -----------------------------------------------------------------------------------

@pytest.fixture
def cremad_root(tmp_path: Path) -> Path:
    root = tmp_path / "CREMA-D"
    names = ["1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1001_IEO_NEU_XX", "1002_TIE_SAD_XX",
             "1002_DFA_DIS_XX", "1002_ITS_FEA_XX", "1091_WSI_ANG_LO", "1091_MTI_NEU_XX"]
    for k, name in enumerate(names):
        write_wav(root / "AudioWAV" / f"{name}.wav", seconds=0.3 + 0.1 * k)
    wav = root / "AudioWAV"
    (wav / "1076_MTI_SAD_XX.wav").write_bytes(b"")        # the release's empty file
    write_wav(wav / "1001_DFA_BOR_XX.wav")                 # no such emotion
    write_wav(wav / "1001_DFA_ANG_ZZ.wav")                 # no such level
    write_wav(wav / "1001-DFA-ANG-XX.wav")                 # a stray name
    (wav / "._1001_DFA_ANG_XX.wav").write_bytes(b"\x00")
    (root / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
        "1002,21,Female,Caucasian,Not Hispanic\n1076,25,Female,Asian,Not Hispanic\n")
    return root


def test_cremad_is_indexed_exactly(cremad_root):
    index = index_corpus("cremad", cremad_root, progress=False)
    t = index.table
    assert index.classes == ("anger", "disgust", "fear", "happiness", "neutral", "sadness")
    assert index.counts()["total"].to_dict() == {"1001": 3, "1002": 3, "1091": 2, "total": 8}
    # Genders from VideoDemographics.csv; an actor it does not list is unknown.
    assert dict(t.groupby("speaker")["gender"].first()) == {"1001": "M", "1002": "F",
                                                            "1091": "U"}
    row = t.set_index("utt_id").loc["1001_IEO_HAP_HI"]
    assert (row["label"], row["sentence"], row["level"]) == ("happiness", "IEO", "HI")
    assert {name_of(p): p.reason for p in index.problems} == {
        "1076_MTI_SAD_XX.wav": "empty file (0 bytes)",
        "1001_DFA_BOR_XX.wav": "unknown emotion 'BOR'",
        "1001_DFA_ANG_ZZ.wav": "unknown level 'ZZ'",
        "1001-DFA-ANG-XX.wav": "name does not follow CREMA-D's pattern (actor, sentence, "
                               "emotion, level: 1001_DFA_ANG_XX.wav)"}
    four = index_corpus("cremad", cremad_root / "AudioWAV", "cremad-4", progress=False)
    assert four.classes == ("anger", "sadness", "happiness", "neutral")
    assert len(four.table) == 6 and four.excluded == 2
    assert set(four.table["gender"]) == {"M", "F", "U"}  # the CSV beside AudioWAV/ is found


def test_cremad_without_demographics_and_wrong_root(cremad_root, tmp_path):
    (cremad_root / "VideoDemographics.csv").unlink()
    assert set(index_corpus("cremad", cremad_root, progress=False).table["gender"]) == {"U"}
    (cremad_root / "VideoDemographics.csv").write_text("id,gender\n1001,Male\n")
    with pytest.raises(SerlibError, match="VideoDemographics.csv: expected the columns "
                                          "ActorID and Sex, found id, gender"):
        index_corpus("cremad", cremad_root, progress=False)
    with pytest.raises(CorpusLayoutError, match="expected: an AudioWAV/ folder of files named "
                                                "like 1001_DFA_ANG_XX.wav"):
        index_corpus("cremad", tmp_path, progress=False)


# --- TESS --------------------------------------------------------------------------------------

@pytest.fixture
def tess_root(tmp_path: Path) -> Path:
    """The release's inconsistent folder names and file-name cases."""
    root = tmp_path / "TESS Toronto emotional speech set data"
    files = {"OAF_angry": ["OAF_back_angry", "OAF_bar_angry"],
             "OAF_Pleasant_surprise": ["OAF_back_ps"], "OAF_Fear": ["OAF_bath_fear"],
             "OAF_neutral": ["OAF_back_neutral", "OAF_dog_neutral"],
             "YAF_pleasant_surprised": ["YAF_dog_ps", "YAF_youth_ps"],
             "YAF_fear": ["YAF_youth_Fear"], "YAF_sad": ["YAF_base_sad"],
             "YAF_happy": ["YAF_base_happy"], "YAF_disgust": ["YAF_germ_disgust"]}
    for folder, stems in files.items():
        for stem in stems:
            write_wav(root / folder / f"{stem}.wav", seconds=0.3, sr=24414)
    write_wav(root / "OAF_angry" / "OAF_back_bored.wav", sr=24414)
    write_wav(root / "OAF_angry" / "XYZ_back_angry.wav", sr=24414)
    write_wav(root / "OAF_angry" / "OAF back angry.wav", sr=24414)
    (root / "OAF_angry" / "._OAF_back_angry.wav").write_bytes(b"\x00")
    return root


def test_tess_is_indexed_exactly(tess_root):
    index = index_corpus("tess", tess_root, progress=False)
    t = index.table
    assert index.classes == ("anger", "disgust", "fear", "happiness", "neutral", "surprise",
                             "sadness")
    counts = index.counts()
    assert counts.loc["OAF"].tolist() == [2, 0, 1, 0, 2, 1, 0, 6]
    assert counts.loc["YAF"].tolist() == [0, 1, 1, 1, 0, 2, 1, 6]
    assert set(t["gender"]) == {"F"} and set(t["sample_rate"]) == {24414}
    row = t.set_index("utt_id").loc["YAF_youth_Fear"]
    assert (row["speaker"], row["emotion"], row["label"], row["word"]) == \
        ("YAF", "fear", "fear", "youth")
    assert {name_of(p): p.reason for p in index.problems} == {
        "OAF_back_bored.wav": "unknown emotion 'bored'",
        "XYZ_back_angry.wav": "unknown TESS speaker 'XYZ'",
        "OAF back angry.wav": "name does not follow TESS's pattern (speaker, word, emotion: "
                              "OAF_back_angry.wav)"}
    four = index_corpus("tess", tess_root, "tess-4", progress=False)
    assert Counter(four.table["label"]) == {"anger": 2, "neutral": 2, "sadness": 1,
                                            "happiness": 1}


def test_tess_wrong_root(tess_root):
    with pytest.raises(CorpusLayoutError, match="did you mean its TESS Toronto emotional "
                                                "speech set data/"):
        index_corpus("tess", tess_root.parent, progress=False)


# --- your own folder ---------------------------------------------------------------------------

@pytest.fixture
def own_root(tmp_path: Path) -> Path:
    root = tmp_path / "mine"
    for rel in ["alice/a1.wav", "alice/a2.wav", "bob/b1.wav", "bob/b2.wav", "carol/c1.flac"]:
        write_wav(root / rel, seconds=0.4)
    (root / "bob" / "bad.wav").write_bytes(b"RIFF\x00")
    return root


def write_csv(root: Path, text: str, name: str = "labels.csv") -> Path:
    path = root / name
    path.write_text(text)
    return path


def test_own_folder_with_a_csv(own_root):
    write_csv(own_root, "Path,Speaker,Label,Gender,Session\n"
                        "alice/a1.wav,alice,happy,F,1\n"
                        "alice/a2.wav,alice,angry,,1\n"      # gender from another line
                        "bob/b1.wav,bob,angry,male,2\n"
                        "bob/b2.wav,bob,neutral,M,2\n"
                        "bob/missing.wav,bob,sad,M,2\n"
                        "bob/bad.wav,bob,sad,M,2\n"
                        "bob/b1.wav,bob,sad,M,2\n"
                        f"{own_root / 'carol' / 'c1.flac'},carol,happy,,\n")
    index = index_corpus("folder", own_root, progress=False)
    t = index.table.set_index("utt_id")
    assert index.classes == ("angry", "happy", "neutral")  # sorted labels of usable files
    assert list(t.index) == ["alice/a1", "alice/a2", "bob/b1", "bob/b2", "carol/c1"]
    assert t["gender"].tolist() == ["F", "F", "M", "M", "U"]
    assert t["session"].tolist()[:4] == [1, 1, 2, 2] and t["session"].isna().tolist()[4]
    assert t.loc["bob/b1", "source"] == "labels.csv:4"
    reasons = {name_of(p): p.reason for p in index.problems}
    assert reasons["missing.wav"] == "labels.csv line 6: the file is missing"
    assert reasons["b1.wav"] == "labels.csv line 8: listed again (first on line 4)"
    assert reasons["bad.wav"].startswith("not a readable audio file")
    mapped = index_corpus("folder", own_root, "angry=anger,happy=happiness,sad=sadness",
                          progress=False)
    assert mapped.classes == ("anger", "happiness", "sadness")
    assert len(mapped.table) == 4 and mapped.excluded == 1  # neutral
    with pytest.raises(SerlibError, match="'calm' is not a folder emotion code"):
        index_corpus("folder", own_root, "calm=neutral", progress=False)
    with pytest.raises(SerlibError, match="a folder has no named presets"):
        index_corpus("folder", own_root, "ravdess-4", progress=False)


@pytest.mark.parametrize("text, message", [
    ("path,speaker\nalice/a1.wav,alice\n", r"labels.csv line 1: missing column\(s\) label; "
                                           "found path, speaker"),
    ("path,speaker,label\nalice/a1.wav,alice,happy\nalice/a2.wav,alice,\n",
     "labels.csv line 3: empty label"),
    ("path,speaker,label\nalice/a1.wav,,happy\n", "labels.csv line 2: empty speaker"),
    ("path,speaker,label,gender\nalice/a1.wav,alice,happy,x\n",
     "labels.csv line 2: gender 'x' is not one of M, F"),
    ("path,speaker,label,gender\nalice/a1.wav,alice,happy,F\nalice/a2.wav,alice,sad,M\n",
     "labels.csv line 3: speaker 'alice' is M here but F on line 2"),
    ("path,speaker,label,session\nalice/a1.wav,alice,happy,one\n",
     "labels.csv line 2: session 'one' is not a whole number"),
])
def test_own_folder_csv_errors_name_the_file_and_line(own_root, text, message):
    csv = write_csv(own_root, text, "my labels.csv")
    with pytest.raises(SerlibError, match=message) as e:
        index_corpus("folder", own_root, labels=csv, progress=False)
    assert str(csv) in str(e.value)


def test_own_folder_csv_with_wrong_paths_and_a_wrong_labels_file(own_root, tmp_path):
    write_csv(own_root, "path,speaker,label\nnope/a.wav,x,happy\nnope/b.wav,x,sad\n")
    with pytest.raises(CorpusLayoutError, match="lists 2 file"):
        index_corpus("folder", own_root, progress=False)
    with pytest.raises(SerlibError, match="no such labels file"):
        index_corpus("folder", own_root, labels=tmp_path / "none.csv", progress=False)


def test_own_folder_one_subfolder_per_label(tmp_path):
    root = tmp_path / "bylabel"
    for rel in ["happy/ann_001.wav", "happy/bo-take2.wav", "happy/more/ann_002.wav",
                "sad/ann_003.wav", "sad/bo_x.flac"]:
        write_wav(root / rel)
    write_wav(root / "sad" / "nospeaker.wav")
    (root / "sad" / "._ann_003.wav").write_bytes(b"\x00")
    (root / ".hidden").mkdir()
    write_wav(root / ".hidden" / "x_1.wav")
    index = index_corpus("folder", root, progress=False)
    assert index.classes == ("happy", "sad")
    assert index.counts()["total"].to_dict() == {"ann": 3, "bo": 2, "total": 5}
    assert set(index.table["gender"]) == {"U"}
    assert [name_of(p) for p in index.problems] == ["nospeaker.wav"]
    assert "no speaker in the file name" in index.problems[0].reason
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusLayoutError, match="expected: labels.csv"):
        index_corpus("folder", empty, progress=False)


def test_own_folder_label_typo_is_a_warning_with_every_count(tmp_path, capsys):
    root = tmp_path / "typo"
    lines = ["path,speaker,label"]
    for k, label in enumerate(["anger"] * 10 + ["neutral"] * 9 + ["nuetral"] + ["sadness"] * 10):
        write_wav(root / f"s{k % 3}" / f"{k}.wav", seconds=0.1)
        lines.append(f"s{k % 3}/{k}.wav,s{k % 3},{label}")
    write_csv(root, "\n".join(lines) + "\n")
    index = index_corpus("folder", root, progress=False)
    warning = ("class 'nuetral' has 1 utterance; did you mean 'neutral'? classes: anger 10, "
               "neutral 9, nuetral 1, sadness 10")
    assert index.warnings == [warning] and index.classes[2] == "nuetral"  # kept, and said
    assert index.summary().splitlines()[-1] == f"warning: {warning}"
    assert main(["index", "--corpus", "folder", "--root", str(root), "--out",
                 str(tmp_path / "t.csv")]) == 0
    assert f"warning: {warning}" in capsys.readouterr().out
    mapped = index_corpus("folder", root, "anger=anger,neutral=neutral,sadness=sadness",
                          progress=False)  # the typo would be left out without a word
    assert mapped.excluded == 1 and mapped.warnings == [
        "label 'nuetral' has 1 utterance; did you mean 'neutral'? labels: anger 10, "
        "neutral 9, nuetral 1, sadness 10"]


def test_own_folder_labels_that_are_not_utf8_are_one_error_line(own_root, tmp_path):
    csv = own_root / "labels.csv"
    csv.write_bytes("path,speaker,label\nalice/a1.wav,alice,happy\nalice/a2.wav,Zoë,fâché\n"
                    .encode("latin-1"))
    with pytest.raises(SerlibError, match=r"labels.csv line 3: byte 59 \(0xeb, character 16 of "
                                          r"the line\) is not UTF-8; save the file as UTF-8"):
        index_corpus("folder", own_root, progress=False)
    r = subprocess.run([sys.executable, "-m", "serlib", "index", "--corpus", "folder",
                        "--root", str(own_root), "--out", str(tmp_path / "t.csv")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line.startswith(f"serlib: error: {csv} line 3: byte 59")


def test_own_folder_reads_the_formats_predict_reads(tmp_path):
    """The same formats as prediction (mp3 too, where libsndfile reads it); audio it cannot
    read is reported, not silently skipped; in a corpus of .wav files, other audio too."""
    from serlib.audio import AUDIO_SUFFIXES
    from serlib.corpora import folder

    assert folder.AUDIO_SUFFIXES is AUDIO_SUFFIXES
    root = tmp_path / "formats"
    write_wav(root / "happy" / "ann_1.wav")
    write_wav(root / "happy" / "ann_2.flac")
    write_wav(root / "sad" / "bo_1.wav")
    y = 0.3 * np.sin(2 * np.pi * 220 * np.arange(8000) / 16000)
    sf.write(root / "sad" / "bo_2.ogg", y, 16000, format="OGG")
    if ".mp3" in AUDIO_SUFFIXES:
        sf.write(root / "sad" / "bo_3.mp3", y, 16000, format="MP3")
    (root / "sad" / "bo_4.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A ")
    (root / "sad" / "notes.txt").write_text("not audio")
    index = index_corpus("folder", root, progress=False)
    names = sorted(Path(p).name for p in index.table["path"])
    assert names == sorted(["ann_1.wav", "ann_2.flac", "bo_1.wav", "bo_2.ogg"]
                           + (["bo_3.mp3"] if ".mp3" in AUDIO_SUFFIXES else []))
    assert [(name_of(p), p.reason.split(";")[0]) for p in index.problems] == \
        [("bo_4.m4a", f".m4a audio cannot be read here (serlib reads {', '.join(AUDIO_SUFFIXES)})")]
    emodb = tmp_path / "emodb"
    write_wav(emodb / "wav" / "03a01Fa.wav")
    write_wav(emodb / "wav" / "03a01Wa.flac")
    index = index_corpus("emodb", emodb, progress=False)
    assert len(index.table) == 1 and [str(p) for p in index.problems] == [
        f"{emodb / 'wav' / '03a01Wa.flac'}: emoDB's files are .wav; this .flac file is left "
        "out (convert it to wav, e.g. ffmpeg -i 03a01Wa.flac 03a01Wa.wav)"]


# --- protocols ---------------------------------------------------------------------------------

def folds_of(protocol, speakers, **kw):
    return [(f.name, f.test_ids, f.val_ids) for f in make_folds(protocol, speakers, **kw)]


def test_the_thesis_protocols_are_unchanged():
    assert folds_of("5fold", TEN) == [("1M", ("1M",), ("1F",)), ("2F", ("2F",), ("2M",)),
                                      ("3M", ("3M",), ("3F",)), ("4F", ("4F",), ("4M",)),
                                      ("5F", ("5F",), ("5M",))]
    assert folds_of("10fold", TEN) == [(s, (s,), (s[0] + ("M" if s[1] == "F" else "F"),))
                                       for s in sorted(TEN)]
    assert folds_of("loso", TEN) == [(f"S{i}", (f"{i}F", f"{i}M"), ()) for i in range(1, 6)]
    assert folds_of("loso", TEN, loso_val=True)[2] == ("S3", ("3F", "3M"), ("4F", "4M"))
    # speaker_info does not change them.
    info = {s: {"gender": "U", "session": None} for s in TEN}
    assert folds_of("5fold", TEN, speaker_info=info) == folds_of("5fold", TEN)
    assert [f.seed for f in make_folds("10fold", TEN, repeats=2, seed=5)][::10] == [5, 6]


def ravdess_ids():
    ids = [f"{a:02d}" for a in range(1, 25)]
    return ids, {s: {"gender": "M" if int(s) % 2 else "F", "session": None} for s in ids}


def test_kfold_is_gender_balanced_and_deterministic():
    ids, info = ravdess_ids()
    folds = make_folds("kfold", ids, speaker_info=info)
    assert [f.name for f in folds] == ["k1", "k2", "k3", "k4", "k5"]
    assert folds[0].test_ids == ("02", "07", "12", "17", "22")
    tested = [s for f in folds for s in f.test_ids]
    assert sorted(tested) == ids  # every speaker tested once
    for f in folds:
        genders = Counter(info[s]["gender"] for s in f.test_ids)
        assert abs(genders["F"] - genders["M"]) <= 1 and len(f.test_ids) in (4, 5)
        assert len(f.val_ids) == 1 and f.val_ids[0] not in f.test_ids
        assert info[f.val_ids[0]]["gender"] in genders  # the gender of a test speaker
    assert [f.val_ids for f in folds] == [("04",), ("06",), ("08",), ("10",), ("02",)]
    assert make_folds("kfold", list(reversed(ids)), speaker_info=info) == folds
    # Fewer speakers than folds: one fold each; numbers sort as numbers.
    small = folds_of("kfold", ["spk10", "spk2", "spk1"])
    assert small == [("k1", ("spk1",), ("spk2",)), ("k2", ("spk2",), ("spk10",)),
                     ("k3", ("spk10",), ("spk1",))]


@pytest.mark.parametrize("k", [2, 3, 10])
def test_kfold_takes_its_k_in_the_protocols_name(k):
    """A protocol with a parameter, given where the protocol is named (``kfold:k=10``), so
    that run_cv, sweeps and the CLI take it without a signature of its own."""
    ids, info = ravdess_ids()
    folds = make_folds(f"kfold:k={k}", ids, speaker_info=info)
    assert [f.name for f in folds] == [f"k{i + 1}" for i in range(k)]
    assert sorted(s for f in folds for s in f.test_ids) == ids  # every speaker tested once
    assert max(len(f.test_ids) for f in folds) - min(len(f.test_ids) for f in folds) <= 1
    assert make_folds("kfold:k=5", ids, speaker_info=info) == \
        make_folds("kfold", ids, speaker_info=info)


@pytest.mark.parametrize("protocol, message", [
    ("kfold:k=1", "k must be 2 or more"),
    ("kfold:k=ten", "k must be a whole number"),
    ("kfold:n=3", "kfold takes k=..."),
    ("5fold:k=3", "5fold takes no parameters"),
    ("6fold", "unknown protocol '6fold'"),
])
def test_protocol_parameters_are_checked(protocol, message):
    ids, info = ravdess_ids()
    with pytest.raises(SerlibError, match=re.escape(message)):
        make_folds(protocol, [f"{s}M" for s in "12345"] if protocol.startswith("5") else ids,
                   speaker_info=None if protocol.startswith("5") else info)


def test_leave_one_speaker_out():
    ids, info = ravdess_ids()
    folds = make_folds("loso-speaker", ids, speaker_info=info)
    assert [f.test_ids for f in folds] == [(s,) for s in ids]
    assert [f.val_ids for f in folds][:3] == [("03",), ("04",), ("05",)]
    assert folds[-1].val_ids == ("02",) and folds[-2].val_ids == ("01",)  # wraps around
    # Names are safe in file names, and stay distinct.
    odd = make_folds("loso-speaker", ["a b/c", "a_b_c", "d"])
    assert {f.name for f in odd} == {"a_b_c-1", "a_b_c-2", "d-3"}


def test_session_protocols_on_native_ids_and_two_speakers():
    ids, info = ravdess_ids()
    with pytest.raises(SerlibError, match="protocol 5fold needs IEMOCAP-style speaker ids .* "
                                          "use --protocol kfold .* or loso-speaker"):
        make_folds("5fold", ids, speaker_info=info)
    with pytest.raises(SerlibError, match="protocol loso needs"):
        make_folds("loso", ["03", "08"])
    with pytest.warns(UserWarning, match="limited to training on one and testing on the other"):
        folds = folds_of("kfold", ["OAF", "YAF"])
    assert folds == [("k1", ("OAF",), ()), ("k2", ("YAF",), ())]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_folds("kfold", ["a", "b", "c"])  # three speakers: no warning


def test_speaker_info_of_old_and_new_stores():
    assert parse_speaker_id("3F") == {"gender": "F", "session": 3}
    assert parse_speaker_id("03") == {"gender": "U", "session": None}
    assert speaker_info({}, ["1M", "07"]) == {"1M": {"gender": "M", "session": 1},
                                              "07": {"gender": "U", "session": None}}
    recorded = {"speaker_info": {"07": {"gender": "M", "session": None}}}
    assert speaker_info(recorded, ["07"]) == {"07": {"gender": "M", "session": None}}


# --- synthetic layouts and one run end to end -------------------------------------------------

@pytest.mark.parametrize("layout", list(CORPORA))
def test_every_registered_corpus_indexes_its_synthetic_layout(tmp_path, layout):
    """Any corpus of the registry, a new one included: its synthetic layout is written at
    its sample rate, indexed without a problem, with its speakers, presets and genders."""
    spec = CORPORA[layout]
    n = 24
    root = synthesize(tmp_path / layout, layout, n, seed=3, jobs=1, progress=False)
    index = index_corpus(layout, root, progress=False)
    # Every file indexed, or left out by the default preset (IEMOCAP's scripted dialogs).
    assert index.problems == [] and len(index.table) + index.excluded == n
    assert set(index.table["sample_rate"]) == {spec.synth.sample_rate}
    assert index.table["speaker"].nunique() >= 2
    assert set(index.table["gender"]) <= {"F", "M", "U"}
    if spec.default_preset is not None:
        assert set(index.table["label"]) <= set(spec.presets[spec.default_preset].classes)


@pytest.mark.parametrize("layout, n, speakers, rate", [
    ("cremad", 12, ["1001", "1002", "1003", "1004"], 16000),
    ("tess", 6, ["OAF", "YAF"], 24414),
    ("folder", 12, [f"spk0{i}" for i in range(1, 7)], 16000),
])
def test_synthetic_layouts_index_cleanly(tmp_path, layout, n, speakers, rate):
    root = synthesize(tmp_path / layout, layout, n, seed=2, jobs=1, progress=False)
    index = index_corpus(layout, root, progress=False)
    assert index.problems == [] and len(index.table) == n
    assert sorted(index.table["speaker"].unique()) == speakers
    assert set(index.table["sample_rate"]) == {rate}
    if layout != "tess":  # genders recorded by the layout (CSV / demographics)
        genders = index.table.groupby("speaker")["gender"].first()
        assert sorted(genders.value_counts().to_dict().items()) == [("F", len(speakers) // 2),
                                                                    ("M", len(speakers) // 2)]


def test_ravdess_end_to_end(tmp_path):
    """serlib synth --layout ravdess, extract, kfold cross-validation of the majority class."""
    from serlib.config import FeatureConfig, TrainConfig
    from serlib.cv import run_cv
    from serlib.extract import extract_features
    from serlib.features import load_features

    root = tmp_path / "ravdess"
    assert main(["synth", "--layout", "ravdess", "--out", str(root), "--utterances", "24",
                 "--seed", "5", "--jobs", "1"]) == 0
    assert sorted(p.name for p in root.iterdir()) == ["Actor_01", "Actor_02", "Actor_03",
                                                      "Actor_04", "serlib-synth.json"]
    wavs = sorted(root.glob("Actor_*/*.wav"))
    assert len(wavs) == 24 and sf.info(str(wavs[0])).samplerate == 48000
    index = index_corpus("ravdess", root, progress=False)
    assert index.problems == [] and index.counts()["total"].tolist() == [6, 6, 6, 6, 24]
    config = FeatureConfig(segment_size=64, nfreq=64)
    store = load_features(extract_features(index, config, tmp_path / "store", jobs=1,
                                           progress=False))
    assert store.meta["speaker_info"] == {a: {"gender": "M" if int(a) % 2 else "F",
                                              "session": None}
                                          for a in ["01", "02", "03", "04"]}
    assert store.speaker_info == store.meta["speaker_info"]
    with pytest.raises(SerlibError, match="use --protocol kfold"):
        run_cv(store, "5fold", TrainConfig(ser_model="majority"), tmp_path / "no",
               log=lambda _: None)
    train = TrainConfig(ser_model="majority", num_epochs=1, image_size=32, batch_size=8)
    written = run_cv(store, "kfold", train, tmp_path / "runs", log=lambda _: None)
    assert [p.name for p in written] == [f"fold-r0-k{i}.json" for i in range(1, 5)]
    folds = [json.loads(p.read_text()) for p in written]
    # Four speakers, dealt F first (02, 04) then M (01, 03): one per fold.
    assert [(f["test_ids"], f["val_ids"]) for f in folds] == [
        (["02"], ["04"]), (["04"], ["02"]), (["01"], ["03"]), (["03"], ["01"])]
    for f in folds:
        train_ids = [s for s in store if s not in f["test_ids"] + f["val_ids"]]
        labels = np.concatenate([store[s].utt_labels for s in train_ids])
        majority = np.bincount(labels, minlength=len(store.classes)).argmax()
        test = store[f["test_ids"][0]].utt_labels
        assert f["test"]["wa"] == pytest.approx(np.mean(test == majority))
    # The protocol's parameter reaches the folds through run_cv and the command line alike.
    two = run_cv(store, "kfold:k=2", train, tmp_path / "k2", log=lambda _: None)
    assert [p.name for p in two] == ["fold-r0-k1.json", "fold-r0-k2.json"]
    assert main(["cv", str(store.path), "--ser_model", "majority", "--protocol", "kfold:k=2",
                 "--out", str(tmp_path / "k2-cli"), "--no-progress"]) == 0
    assert sorted(p.name for p in (tmp_path / "k2-cli").glob("fold-*.json")) == \
        [p.name for p in two]


@pytest.mark.parametrize("layout, n, model", [("cremad", 16, "majority"),
                                              ("tess", 8, "majority"),
                                              ("folder", 12, "alexnet_gap")])
def test_other_layouts_extract_and_cross_validate(tmp_path, layout, n, model):
    """Each new layout, synthetic: indexed, extracted, and a speaker-independent kfold run
    whose every fold tests speakers it did not train on."""
    import warnings

    from serlib.config import FeatureConfig, TrainConfig
    from serlib.cv import run_cv
    from serlib.extract import extract_features
    from serlib.features import load_features

    root = synthesize(tmp_path / layout, layout, n, seed=3, jobs=1, progress=False)
    index = index_corpus(layout, root, progress=False)
    store = load_features(extract_features(index, FeatureConfig(segment_size=64), tmp_path /
                                           "store", jobs=1, progress=False))
    assert sorted(store) == sorted(index.table["speaker"].astype(str).unique())
    train = TrainConfig(ser_model=model, num_epochs=1, image_size=64, batch_size=8)
    lines: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the run reports its warnings in its log instead
        written = run_cv(store, "kfold", train, tmp_path / "runs", progress=False,
                         log=lines.append)
    folds = [json.loads(p.read_text()) for p in written]
    assert sorted(s for f in folds for s in f["test_ids"]) == sorted(store)  # each once
    for f in folds:
        assert not set(f["test_ids"]) & set(f["val_ids"])
        assert sum(f["test"]["confusion"][i][j] for i in range(len(store.classes))
                   for j in range(len(store.classes))) == sum(
            len(store[s].utt_labels) for s in f["test_ids"])
    if layout == "tess":  # two speakers: train on one, test on the other, and say so
        assert [f["test_ids"] for f in folds] == [["OAF"], ["YAF"]]
        assert any("only two speakers" in line for line in lines)
