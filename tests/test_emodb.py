"""The emoDB parser: file names, the thesis's speaker ids, presets, bad files."""

from __future__ import annotations

import pytest
from conftest import EMODB_FILES, write_wav

from serlib.corpora import index_emodb
from serlib.errors import CorpusLayoutError


def test_file_names_are_parsed(emodb_root):
    index = index_emodb(emodb_root, progress=False)
    t = index.table.set_index("utt_id")
    assert len(t) == len(EMODB_FILES)  # counted, not assumed to be 535
    assert t.loc["03a01Fa", ["speaker", "native_speaker", "text", "emotion", "label",
                             "version", "gender", "session"]].tolist() == \
        ["1M", "03", "a01", "F", "happiness", "a", "M", 1]
    assert t.loc["08b02Tb", ["speaker", "label"]].tolist() == ["1F", "sadness"]
    assert t.loc["16b10Lb", ["speaker", "label"]].tolist() == ["5F", "boredom"]
    assert t.loc["13a05Ea", "label"] == "disgust" and t.loc["14a07Aa", "label"] == "fear"
    assert index.classes == ("anger", "boredom", "disgust", "fear", "happiness", "sadness",
                             "neutral")


def test_the_seeds_speaker_mapping():
    from serlib.corpora.emodb import SPEAKER_IDS

    assert SPEAKER_IDS == {"03": "1M", "08": "1F", "09": "2F", "10": "2M", "11": "3M",
                           "12": "4M", "13": "3F", "14": "4F", "15": "5M", "16": "5F"}


def test_emodb_4_preset(emodb_root):
    index = index_emodb(emodb_root, "emodb-4", progress=False)
    assert sorted(index.table["emotion"]) == ["F", "N", "T", "W", "W"]
    assert index.excluded == 3


def test_root_may_be_the_wav_folder_itself(emodb_root):
    assert len(index_emodb(emodb_root / "wav", progress=False).table) == len(EMODB_FILES)


def test_bad_files_are_reported(emodb_root):
    wav = emodb_root / "wav"
    (wav / "readme.wav").write_bytes(b"RIFF")
    (wav / "99a01Wa.wav").write_bytes((wav / "03a01Fa.wav").read_bytes())
    (wav / "03a01Wa.wav").write_bytes(b"")
    (wav / "._03a01Fa.wav").write_bytes(b"\x00")  # macOS litter is skipped silently
    write_wav(wav / "11a01Na.wav", 0.3, sr=48000, channels=2)  # fine: other rate, stereo
    index = index_emodb(emodb_root, progress=False)
    reasons = {p.path.rsplit("/", 1)[-1]: p.reason for p in index.problems}
    assert set(reasons) == {"readme.wav", "99a01Wa.wav", "03a01Wa.wav"}
    assert "pattern" in reasons["readme.wav"]
    assert reasons["99a01Wa.wav"] == "unknown emoDB speaker '99'"
    assert reasons["03a01Wa.wav"] == "empty file (0 bytes)"
    row = index.table.set_index("utt_id").loc["11a01Na"]
    assert (row["sample_rate"], row["channels"]) == (48000, 2)


def test_wrong_root(tmp_path):
    (tmp_path / "Session1").mkdir()
    with pytest.raises(CorpusLayoutError, match="this looks like IEMOCAP"):
        index_emodb(tmp_path, progress=False)


def test_native_speaker_ids_on_request(emodb_root, tmp_path):
    from serlib.cli import main
    from serlib.corpora import index_corpus
    from serlib.errors import SerlibError

    thesis = index_emodb(emodb_root, progress=False).table.set_index("utt_id")
    native = index_corpus("emodb", emodb_root, speaker_ids="native",
                          progress=False).table.set_index("utt_id")
    assert native.loc["03a01Fa", ["speaker", "gender", "native_speaker"]].tolist() == \
        ["03", "M", "03"]
    assert dict(native.groupby("speaker")["gender"].first()) == {
        "03": "M", "08": "F", "10": "M", "13": "F", "14": "F", "15": "M", "16": "F"}
    assert native["session"].isna().all()
    # The thesis's ids stay the default, with the same genders.
    assert (thesis["gender"] == native["gender"]).all()
    assert thesis["speaker"].tolist() == ["1M", "1M", "1F", "2M", "3F", "4F", "5M", "5F"]
    with pytest.raises(SerlibError, match="speaker_ids 'own'"):
        index_emodb(emodb_root, speaker_ids="own", progress=False)
    out = tmp_path / "t.csv"
    assert main(["index", "--corpus", "emodb", "--root", str(emodb_root), "--speaker-ids",
                 "native", "--out", str(out)]) == 0
    assert sorted(set(out.read_text().split("\n")[1].split(",")[2:3])) == ["03"]
