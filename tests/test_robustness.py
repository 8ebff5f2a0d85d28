"""Bad input and interruptions: nothing crashes, nothing is lost, nothing runs code it shouldn't.

Real processes are killed with SIGKILL (the whole process group, workers included)
at random moments, drawn from a fixed seed so a failure can be replayed. Each test
adds its figures to the "robustness" section printed at the end of the run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import ROBUSTNESS, write_wav

from serlib.checkpoints import load_checkpoint
from serlib.corpora import index_emodb, synthesize
from serlib.errors import SerlibError
from serlib.features import load_features

pytestmark = pytest.mark.slow  # make test-fast leaves these out

KILLS = np.random.default_rng(20261124)


def serlib_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "serlib", *args]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return synthesize(tmp_path_factory.mktemp("r") / "emodb", "emodb", 120, seed=11, jobs=2,
                      progress=False)


SALT = {  # file name -> (how it is made, the reason serlib must give, or None: kept)
    "03a02Fa.wav": ("zero bytes", "empty"),
    "03a02Fb.wav": ("truncated header", "not a readable audio file"),
    "03a02Fc.wav": ("not audio at all", "not a readable audio file"),
    "03a02Fd.wav": ("NaN samples", "NaN or infinite"),
    "03a02Fe.wav": ("infinite samples", "NaN or infinite"),
    "03a02Ff.wav": ("silence", "silent"),
    "03a02Fg.wav": ("10 ms long", "too short"),
    "03a02Fh.wav": ("a directory named like a wav", "directory"),
    "03a02Wa.wav": ("8-bit PCM", None),
    "03a02Wb.wav": ("24-bit PCM", None),
    "03a02Wc.wav": ("48 kHz stereo", None),
}


def salt(folder: Path) -> None:
    wav = folder / "wav"
    (wav / "03a02Fa.wav").write_bytes(b"")
    good = next(p for p in sorted(wav.iterdir()) if p.name not in SALT)
    (wav / "03a02Fb.wav").write_bytes(good.read_bytes()[:30])
    (wav / "03a02Fc.wav").write_text("this is a text file, not a recording\n")
    sf.write(wav / "03a02Fd.wav", np.full(8000, np.nan, np.float32), 16000, subtype="FLOAT")
    inf = np.full(8000, 0.1, np.float32)
    inf[100] = np.inf
    sf.write(wav / "03a02Fe.wav", inf, 16000, subtype="FLOAT")
    sf.write(wav / "03a02Ff.wav", np.zeros(8000), 16000)
    write_wav(wav / "03a02Fg.wav", seconds=0.01)
    (wav / "03a02Fh.wav").mkdir()
    write_wav(wav / "03a02Wa.wav", seconds=0.6, subtype="PCM_U8")
    write_wav(wav / "03a02Wb.wav", seconds=0.6, subtype="PCM_24")
    write_wav(wav / "03a02Wc.wav", seconds=0.6, sr=48000, channels=2)


def test_a_salted_corpus_is_indexed_and_extracted(corpus, tmp_path):
    root = tmp_path / "salted"
    (root / "wav").mkdir(parents=True)
    for p in (corpus / "wav").iterdir():
        (root / "wav" / p.name).write_bytes(p.read_bytes())
    salt(root)
    r = subprocess.run(serlib_cmd("extract", "--corpus", "emodb", "--root", str(root),
                                  "--segment_size", "100", "--out", str(tmp_path / "store")),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    store = load_features(tmp_path / "store")
    index = index_emodb(root, progress=False)
    problems = {Path(p.path).name: p.reason for p in index.problems}
    problems |= {Path(p["path"]).name: p["reason"] for p in store.meta["problems"]}
    kept = {u for s in store for u in store.utt_ids[s]}
    good = {p.stem for p in (corpus / "wav").iterdir()}
    for name, (what, reason) in SALT.items():
        if reason is None:
            assert Path(name).stem in kept, what
        else:
            assert reason in problems.get(name, ""), (what, problems.get(name))
            assert name in r.stdout, f"{what}: not reported by serlib extract"
    assert good <= kept  # every good file is kept
    bad = sum(reason is not None for _, reason in SALT.values())
    ROBUSTNESS.append(f"salted corpus: {len(good) + len(SALT)} files, {bad} bad ones reported "
                      f"with their reason, {len(kept)} kept (all {len(good)} good ones and "
                      f"the 8-bit, 24-bit and 48 kHz stereo files)")


def times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def chunk_records(partial: Path) -> dict[str, int]:
    """The batches an extraction has finished: record name -> modification time."""
    return {p.name: p.stat().st_mtime_ns for p in partial.glob("chunk-*.json")}


def kill_after_batches(cmd: list[str], cwd: Path, partial: Path, batches: int) -> int | None:
    """Start ``cmd`` in its own process group and SIGKILL the group as soon as ``batches``
    batch records exist in ``partial``; returns the exit status when it finished first."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    while proc.poll() is None and not (
            (partial / "job.json").exists() and len(chunk_records(partial)) >= batches):
        time.sleep(0.002)
    if proc.poll() is not None:
        return proc.returncode
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return None


def test_killing_extract_never_leaves_a_store_that_loads(corpus, tmp_path):
    cmd = serlib_cmd("extract", "--corpus", "emodb", "--root", str(corpus), "--segment_size",
                     "100", "--jobs", "2", "--out", "store")
    fresh = subprocess.run([*cmd[:-1], "fresh"], cwd=tmp_path, capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr
    b = load_features(tmp_path / "fresh")
    num_batches = -(-sum(len(b.utt_ids[s]) for s in b) // b.meta["job"]["batch_size"])

    def same(a) -> bool:
        return all(np.array_equal(a[s].segments, b[s].segments)
                   and np.array_equal(a.utt_ids[s], b.utt_ids[s]) for s in b)

    partial, kills = tmp_path / "store.partial", []
    # Kill points are drawn in units of progress, not seconds: start-up (imports) is most
    # of a small extraction's time, so a kill drawn in seconds rarely lands mid-work. Each
    # run gets at least one batch further, and is killed while a batch is still to do.
    for _ in range(4):
        done = chunk_records(partial)
        if len(done) + 1 > num_batches - 2:
            break
        target = int(KILLS.integers(len(done) + 1, num_batches - 1))
        if kill_after_batches(cmd, tmp_path, partial, target) is not None:
            assert same(load_features(tmp_path / "store"))  # finished first (a starved
            shutil.rmtree(tmp_path / "store")  # poller): whole, so again from the start
            continue
        kills.append(target)
        with pytest.raises(SerlibError):  # interrupted: nothing loads
            load_features(tmp_path / "store")
        now = chunk_records(partial)
        assert all(now.get(name) == stamp for name, stamp in done.items()), \
            "a finished batch was extracted again"
    # Once every batch is recorded the store is being assembled: a kill now may land
    # before the atomic rename (nothing loads) or after it (the whole store loads).
    assembly = "finished before the kill"
    if kill_after_batches(cmd, tmp_path, partial, num_batches) is None:
        try:
            assert same(load_features(tmp_path / "store")), "a partial store loads"
            assembly = "left the whole store"
        except SerlibError:
            assembly = "left nothing that loads"
    assert subprocess.run(cmd, cwd=tmp_path, capture_output=True).returncode == 0
    assert same(load_features(tmp_path / "store"))
    assert not partial.exists()
    assert kills, "no kill landed during the extraction"
    ROBUSTNESS.append(f"serlib extract ({num_batches} batches): SIGKILLed {times(len(kills))}, "
                      f"with [{', '.join(map(str, kills))}] batches done; no kill left a store "
                      "that loads, no finished batch was extracted again; a kill once all "
                      f"were done (assembling the store) {assembly}; the resumed store equals "
                      "an uninterrupted one")


CV = ("--ser_model", "alexnet_gap", "--num_epochs", "2", "--batch_size", "16",
      "--image_size", "64", "--no-progress")


@pytest.fixture(scope="module")
def store_path(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("s") / "store"
    r = subprocess.run(serlib_cmd("extract", "--corpus", "emodb", "--root", str(corpus),
                                  "--preset", "emodb-4", "--segment_size", "100",
                                  "--out", str(out)), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def fold_files(folder: Path) -> dict[str, tuple[int, str]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_text()) for p in folder.glob("fold-*.json")}


def test_killing_cv_loses_nothing_and_retrains_nothing(store_path, tmp_path):
    cmd = serlib_cmd("cv", str(store_path), *CV, "--out")
    start = time.perf_counter()
    r = subprocess.run([*cmd, "whole"], cwd=tmp_path, capture_output=True, text=True)
    duration = time.perf_counter() - start
    assert r.returncode == 0, r.stderr
    seen: dict[str, tuple[int, str]] = {}
    kills = []
    fold_s = max(duration - 3.0, 1.0) / 5  # start-up takes about 3 s here
    out = tmp_path / "killed"
    for attempt in range(5):  # four kills at random moments, then a run to the end
        proc = subprocess.Popen([*cmd, "killed"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        if attempt < 4:  # once a random number of folds is done, at a random moment of the next
            # in this run (not in start-up), before the last fold while two are left, so
            # that the first kill always lands
            target = int(KILLS.integers(len(seen) + 1, 4)) if len(seen) < 3 else 4
            while proc.poll() is None and len(list(out.glob("fold-*.json"))) < target:
                time.sleep(0.02)
            time.sleep(float(KILLS.uniform(0.05, 0.9)) * fold_s)
        if attempt < 4 and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        status = proc.wait()
        now = fold_files(out)
        for name, stamp in seen.items():  # a finished fold is never written again
            assert now[name] == stamp, f"{name} was trained twice"
        seen = now
        if status == 0:
            break
        assert status == -signal.SIGKILL
        kills.append(len(now))
    assert len(seen) == 5
    assert any(k < 5 for k in kills), "no kill landed during the cross-validation"
    whole, killed = fold_files(tmp_path / "whole"), fold_files(tmp_path / "killed")
    assert {k: v[1] for k, v in whole.items()} == {k: v[1] for k, v in killed.items()}
    reports = []
    for folder in ("whole", "killed"):
        out = subprocess.run(serlib_cmd("report", folder, "--out", f"report-{folder}"),
                             cwd=tmp_path, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        reports.append((tmp_path / f"report-{folder}" / "folds.csv").read_text())
    assert reports[0] == reports[1]
    ROBUSTNESS.append(f"serlib cv: SIGKILLed {times(len(kills))} (after {kills} of 5 folds "
                      "had finished); no finished fold was written twice; the fold results "
                      "and the report equal those of an uninterrupted run")


def test_the_same_seed_gives_bit_identical_cross_validation(store_path, tmp_path):
    from serlib.config import TrainConfig
    from serlib.cv import run_cv

    store = load_features(store_path)
    config = TrainConfig(ser_model="alexnet_gap", num_epochs=2, batch_size=16, image_size=64)
    for out in ("a", "b"):
        run_cv(store, "5fold", config, tmp_path / out, folds=["1M", "2F"], progress=False,
               log=lambda line: None)
    a, b = fold_files(tmp_path / "a"), fold_files(tmp_path / "b")
    assert len(a) == 2 and {k: v[1] for k, v in a.items()} == {k: v[1] for k, v in b.items()}
    ROBUSTNESS.append("cross-validation on CPU, same seed, twice: fold results byte-identical "
                      "(scores, confusions, per-epoch losses)")


class Payload:
    """Unpickling this would create a file: the proof that a loader ran foreign code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_payloads_are_refused_without_running(store_path, tmp_path):
    marker = tmp_path / "pwned"
    store = tmp_path / "store"
    shutil.copytree(store_path, store)
    np.save(store / "utt_ids.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(SerlibError, match="utt_ids.npy: refused"):
        load_features(store)
    checkpoint = tmp_path / "model.pth"
    torch.save({"format": "serlib-checkpoint", "state_dict": Payload(marker)}, checkpoint)
    with pytest.raises(SerlibError, match="model.pth: refused"):
        load_checkpoint(checkpoint)
    r = subprocess.run(serlib_cmd("predict", "--checkpoint", str(checkpoint),
                                  str(next(store_path.parent.glob("**/*.wav"), checkpoint))),
                       capture_output=True, text=True)
    assert r.returncode == 2 and "refused" in r.stderr and "Traceback" not in r.stderr
    assert not marker.exists()
    ROBUSTNESS.append("pickle payloads in a store and in a checkpoint: refused with the file "
                      "named, and the payload never ran")


def test_unsafe_archives_are_refused(tmp_path):
    import zipfile

    from serlib.corpora import safe_extract
    from serlib.errors import UnsafeArchiveError

    for member in ("../evil.wav", "/etc/evil.wav", "wav/../../evil.wav", "C:/evil.wav"):
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.zip"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("wav/03a01Fa.wav", b"RIFF")
            z.writestr(member, b"x")
        with pytest.raises(UnsafeArchiveError):
            safe_extract(path, tmp_path / "out")
        assert not (tmp_path / "evil.wav").exists() and not (tmp_path / "out").exists()
    ROBUSTNESS.append("zip archives with members outside the target (.., absolute, drive "
                      "letter): refused whole, nothing unpacked")


def test_killed_runs_leave_no_stray_processes():
    time.sleep(0.5)
    r = subprocess.run(["pgrep", "-f", "-a", "serlib (extract|cv) "], capture_output=True,
                       text=True)
    stray = [line for line in r.stdout.splitlines() if "pgrep" not in line]
    assert not stray, stray
    ROBUSTNESS.append("no serlib extract or cv process left running after the kills")
