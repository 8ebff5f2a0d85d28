"""Nothing lost, nothing silent: every output option against a user's files, read-only and
full disks, damaged fold files, two runners on one folder, an interrupted training, and
one line for every bad argument.

Each test here fails on serlib 0.1.0 as it was before these guarantees (issue 20): the
user's file was deleted or replaced, a traceback was printed, or the work was done twice.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROBUSTNESS, small_emodb_store

from serlib.checkpoints import load_checkpoint, save_checkpoint
from serlib.cli import main
from serlib.config import TrainConfig
from serlib.runs import fold_path, read_fold
from serlib.train import train_fold

TINY = ["--num_epochs", "2", "--batch_size", "16", "--image_size", "64", "--no-progress"]


def serlib(*args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "serlib", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def one_error_line(stderr: str) -> str:
    """The single ``serlib: error:`` line a refused command prints (asserted)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("serlib: error: "), stderr
    assert "Traceback" not in stderr and "weights_only" not in stderr
    return lines[0]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A small emoDB store, a checkpoint trained on it, its corpus, and a finished run."""
    tmp = tmp_path_factory.mktemp("outputs")
    store, index = small_emodb_store(tmp, seed=8)
    result = train_fold(store, TrainConfig(num_epochs=1, batch_size=16, image_size=64), "1F",
                        "1M", progress=False, log=lambda line: None)
    checkpoint = save_checkpoint(result, tmp / "model.pth")
    assert main(["cv", str(store.path), "--ser_model", "majority", "--out",
                 str(tmp / "run")]) == 0
    return {"store": store.path, "corpus": tmp / "emodb", "checkpoint": checkpoint,
            "run": tmp / "run", "wav": index.table["path"].iloc[0]}


def users_folder(path: Path) -> dict[Path, bytes]:
    """A folder of the user's: a document and a sub-folder with a file in it."""
    (path / "sub").mkdir(parents=True)
    (path / "thesis.docx").write_bytes(b"PK\x03\x04 my thesis")
    (path / "sub" / "notes.txt").write_text("do not lose")
    return {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}


def users_file(path: Path) -> dict[Path, bytes]:
    path.write_bytes(b"the user's own bytes")
    return {path: path.read_bytes()}


def unchanged(files: dict[Path, bytes]) -> bool:
    return all(p.is_file() and p.read_bytes() == b for p, b in files.items())


def output_commands(made, target: Path) -> dict[str, list[str]]:
    """Every command with an output, writing it at ``target``."""
    return {
        "synth": ["synth", "--layout", "emodb", "--utterances", "3", "--jobs", "1", "--out",
                  target],
        "index": ["index", "--corpus", "emodb", "--root", made["corpus"], "--out", target],
        "download": ["download", "--url", "http://127.0.0.1:9/none.zip", "--out", target],
        "extract": ["extract", "--corpus", "emodb", "--root", made["corpus"], "--segment_size",
                    "100", "--jobs", "1", "--out", target],
        "train": ["train", made["store"], *TINY, "--val_id", "1F", "--test_id", "1M",
                  "--save_label", target.with_suffix("")],
        "cv": ["cv", made["store"], "--ser_model", "majority", "--out", target],
        "evaluate": ["evaluate", made["store"], "--checkpoint", made["checkpoint"], "--out",
                     target],
        "report": ["report", made["run"], "--out", target],
        "export": ["export", "--checkpoint", made["checkpoint"], "--onnx", target],
        "demo": ["demo", "--utterances", "120", "--num_epochs", "1", "--data",
                 target.parent if target.name == "demo-120-seed0" else target],
    }


@pytest.mark.parametrize("overwrite", [False, True])
def test_no_command_removes_or_replaces_what_it_did_not_make(made, tmp_path, capsys,
                                                             overwrite):
    refused = []
    for name, args in output_commands(made, tmp_path / "x").items():
        for kind, make in (("folder", users_folder), ("file", users_file)):
            target = tmp_path / f"{name}-{kind}"
            if name == "train":  # LABEL.pth is the file, LABEL-tensorboard the folder
                target = tmp_path / ("t.pth" if kind == "file" else "t-tensorboard")
            if name == "demo":  # the demo's own folder inside --data
                target = tmp_path / f"d-{kind}" / "demo-120-seed0"
                target.parent.mkdir()
            files = make(target)
            args = output_commands(made, target)[name]
            if name == "train":
                args = [*args[:-1], tmp_path / "t"]
            if name == "index" and kind == "folder":
                args = [*args[:-1], target]
            extra = ["--overwrite"] if overwrite and name in (
                "index", "extract", "train", "cv", "export") else []
            if name == "demo" and kind == "file":
                continue  # --data is a folder: a file of the user's there is shown below
            status = main([str(a) for a in [*args, *extra]])
            err = capsys.readouterr().err
            assert status == 2, (name, kind, err)
            line = one_error_line(err)
            assert unchanged(files), f"{name} changed the user's {kind}: {line}"
            refused.append(name)
    # The demo with --data onto a user's file, and export onto its own checkpoint.
    users_file(tmp_path / "datafile")
    assert main(["demo", "--data", str(tmp_path / "datafile")]) == 2
    assert "is a file" in one_error_line(capsys.readouterr().err)
    before = made["checkpoint"].read_bytes()
    assert main(["export", "--checkpoint", str(made["checkpoint"]), "--onnx",
                 str(made["checkpoint"]), "--overwrite"]) == 2
    assert "the checkpoint itself" in one_error_line(capsys.readouterr().err)
    assert made["checkpoint"].read_bytes() == before
    if not overwrite:
        ROBUSTNESS.append(f"a user's folder and file at each output option of "
                          f"{len(set(refused))} commands ({', '.join(sorted(set(refused)))}), "
                          "with and without --overwrite: refused with one line, nothing of "
                          "theirs changed")


@pytest.mark.slow
def test_serlibs_own_outputs_are_replaced_only_when_asked(made, tmp_path, capsys):
    corpus, store = str(made["corpus"]), str(tmp_path / "store")
    assert main(["extract", "--corpus", "emodb", "--root", corpus, "--segment_size", "100",
                 "--jobs", "1", "--out", store]) == 0
    meta = (tmp_path / "store" / "meta.json").read_text()
    capsys.readouterr()
    assert main(["extract", "--corpus", "emodb", "--root", corpus, "--segment_size", "50",
                 "--jobs", "1", "--out", store]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "another extraction (differs in: segment_size)" in line and "--overwrite" in line
    assert (tmp_path / "store" / "meta.json").read_text() == meta
    assert main(["extract", "--corpus", "emodb", "--root", corpus, "--segment_size", "50",
                 "--jobs", "1", "--out", store, "--overwrite"]) == 0
    assert json.loads((tmp_path / "store" / "meta.json").read_text())["config"][
        "segment_size"] == 50
    assert [p.name for p in tmp_path.iterdir()] == ["store"]  # no .old or .writing left
    # A checkpoint: refused, then replaced with --overwrite; an ONNX export likewise.
    shutil.copy(made["checkpoint"], tmp_path / "m.pth")
    train = ["train", str(made["store"]), *TINY, "--num_epochs", "1", "--no-tensorboard",
             "--val_id", "1F", "--test_id", "1M", "--save_label", str(tmp_path / "m")]
    capsys.readouterr()
    assert main(train) == 2
    captured = capsys.readouterr()
    assert "holds a checkpoint already: add --overwrite" in one_error_line(captured.err)
    assert "epoch" not in captured.out  # refused before the first epoch
    assert main([*train, "--seed", "7", "--overwrite"]) == 0
    assert load_checkpoint(tmp_path / "m.pth")["config"]["seed"] == 7
    onnx = ["export", "--checkpoint", str(tmp_path / "m.pth"), "--onnx", str(tmp_path / "m.onnx")]
    assert main(onnx) == 0 and main(onnx) == 2
    assert "--overwrite" in one_error_line(capsys.readouterr().err)
    assert main([*onnx, "--overwrite"]) == 0
    # A report replaces its own report whole, and nothing else.
    assert main(["report", str(made["run"]), "--out", str(tmp_path / "rep")]) == 0
    (tmp_path / "rep" / "curves-99-stale.png").write_bytes(b"x")  # as if an older report's
    marker = json.loads((tmp_path / "rep" / "report.json").read_text())
    marker["files"].append("curves-99-stale.png")
    (tmp_path / "rep" / "report.json").write_text(json.dumps(marker))
    assert main(["report", str(made["run"]), "--out", str(tmp_path / "rep")]) == 0
    assert not (tmp_path / "rep" / "curves-99-stale.png").exists()


def mount_tmpfs(path: Path, size: str, read_only: bool = False) -> bool:
    """A small tmpfs at ``path`` (read-only if asked); False where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                      capture_output=True).returncode:
        return False
    if read_only:
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
    return True


@pytest.fixture
def read_only_disk(tmp_path):
    disk = tmp_path / "ro"
    if not mount_tmpfs(disk, "1m", read_only=True):
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.slow
def test_a_read_only_disk_is_one_line_before_any_work(made, read_only_disk):
    commands = output_commands(made, read_only_disk / "out")
    commands.pop("download")  # its error is the network's here: tested in test_download
    for name, args in commands.items():
        if name == "index":
            args = [*args[:-1], read_only_disk / "t.csv"]
        start = time.perf_counter()
        r = serlib(*args, cwd=made["store"].parent)
        line = one_error_line(r.stderr)
        assert r.returncode == 2 and ("read-only" in line or "cannot write" in line), \
            (name, line)
        assert "epoch" not in r.stdout and "[1/6]" not in r.stdout, name  # refused first
        if name == "train":
            train_s = time.perf_counter() - start
    ROBUSTNESS.append(f"a read-only disk under {len(commands)} commands' outputs: one line "
                      f"each, before any work (train refused after {train_s:.1f} s, "
                      "before its first epoch)")


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_the_work_resumes(made, tmp_path):
    disk = tmp_path / "full"
    if not mount_tmpfs(disk, "2m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        outcomes = []
        for jobs in ("1", "2"):  # --jobs 1 died of SIGBUS, --jobs 2 of a broken pool
            r = serlib("extract", "--corpus", "emodb", "--root", made["corpus"],
                       "--segment_size", "100", "--mixnoise", "--jobs", jobs, "--out",
                       disk / "store")
            line = one_error_line(r.stderr)
            assert r.returncode == 2 and "free" in line, line
            outcomes.append(line)
        # Room made: the same command finishes, and the store equals one made elsewhere.
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        args = ["extract", "--corpus", "emodb", "--root", made["corpus"], "--segment_size",
                "100", "--mixnoise", "--jobs", "2"]
        assert serlib(*args, "--out", disk / "store").returncode == 0
        assert serlib(*args, "--out", tmp_path / "elsewhere").returncode == 0
        for name in ("segments.npy", "noisy.npy", "utt_ids.npy"):
            assert (disk / "store" / name).read_bytes() == \
                (tmp_path / "elsewhere" / name).read_bytes()
        # A cross-validation and an export onto a disk that fills up midway.
        subprocess.run(["umount", "-l", str(disk)], check=True)
        assert mount_tmpfs(disk, "8k")
        r = serlib("cv", made["store"], "--ser_model", "majority", "--out", disk / "cv")
        line = one_error_line(r.stderr)
        assert r.returncode == 2 and "disk is full" in line, line
        for path in (disk / "cv").glob("fold-*.json"):
            read_fold(path)  # what was written is whole
        r = serlib("export", "--checkpoint", made["checkpoint"], "--onnx", disk / "m.onnx")
        assert r.returncode == 2 and "disk is full" in one_error_line(r.stderr)
        assert not list(disk.glob("*.onnx"))
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    ROBUSTNESS.append("a full disk under extract (--jobs 1 and 2), cv and export: one line "
                      "each, no SIGBUS or traceback; with room made, the same extract command "
                      "finished a store byte-identical to one made elsewhere")


def test_damaged_fold_files_are_reported_and_redone(made, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(made["run"], run)
    fold = fold_path(run, "r0-2F")
    good = fold.read_text()
    fold.write_text(good[:40])  # a write cut short
    assert main(["report", str(run), "--out", str(tmp_path / "rep")]) == 0
    captured = capsys.readouterr()
    assert "fold-r0-2F.json: damaged fold file" in captured.err and "left out" in captured.err
    assert "| majority | majority | – | 5fold | 4 |" in captured.out
    assert main(["status", str(run)]) == 0
    assert "r0-2F                    damaged" in capsys.readouterr().out
    assert main(["cv", str(made["store"]), "--ser_model", "majority", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "r0-2F: " in out and "damaged fold file" in out and "training it again" in out
    assert out.count("done already, skipped") == 4
    assert fold.read_text() == good  # redone: the same result as before
    (run / "cv.json").write_text('{"label": "majority"')
    assert main(["cv", str(made["store"]), "--ser_model", "majority", "--out", str(run)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "cv.json is damaged" in line and "5 fold file(s)" in line and "--overwrite" in line
    assert main(["report", str(run), "--out", str(tmp_path / "rep2")]) == 2
    assert "cv.json is damaged" in one_error_line(capsys.readouterr().err)
    assert main(["cv", str(made["store"]), "--ser_model", "majority", "--out", str(run),
                 "--overwrite"]) == 0
    assert len(list(run.glob("fold-*.json"))) == 5 and fold.read_text() == good


@pytest.mark.slow
def test_two_cv_processes_share_the_folds_instead_of_duplicating_them(made, tmp_path):
    cmd = [sys.executable, "-m", "serlib", "cv", str(made["store"]), *TINY, "--out", "run"]
    first = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    lock = tmp_path / "run" / ".fold-r0-1M.lock"
    deadline = time.time() + 120
    while not lock.exists() and time.time() < deadline:  # the first has taken fold 1
        time.sleep(0.05)
    second = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    out_a, out_b = first.communicate(timeout=600)[0], second.communicate(timeout=600)[0]
    assert first.returncode == 0 and second.returncode == 0, out_a + out_b
    trained = out_a.count("best epoch") + out_b.count("best epoch")
    assert trained == 5, out_a + out_b  # each fold once
    # Which fold the second finds locked depends on how long it took to start (on a busy
    # CPU the first may have finished fold 1 by then); that it skipped one does not.
    assert re.search(r"r0-\w+: being trained by another process; taking the next fold",
                     out_b), out_b
    assert len(list((tmp_path / "run").glob("fold-*.json"))) == 5
    assert len(list((tmp_path / "run" / "tensorboard").iterdir())) == 5
    ROBUSTNESS.append(f"two serlib cv on one folder: 5 folds trained once each "
                      f"({out_a.count('best epoch')} by the first, "
                      f"{out_b.count('best epoch')} by the second)")


@pytest.mark.slow
def test_ctrl_c_during_train_keeps_the_best_epoch_so_far(made, tmp_path):
    cmd = [sys.executable, "-m", "serlib", "train", str(made["store"]), *TINY,
           "--num_epochs", "50", "--val_id", "1F", "--test_id", "1M", "--save_label", "m"]
    # A child inherits an ignored SIGINT (an earlier test or a background shell may have
    # left it so), and Python then never raises KeyboardInterrupt: Ctrl-C's default first.
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in proc.stdout:
        if line.startswith("epoch   3/"):
            proc.send_signal(signal.SIGINT)
            break
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "interrupted; the best epoch so far (epoch" in err and "kept in m.pth" in err
    assert "Traceback" not in err
    ckpt = load_checkpoint(tmp_path / "m.pth")
    assert ckpt["complete"] is False and ckpt["test"] is None
    assert 1 <= ckpt["best_epoch"] <= 3 and len(ckpt["history"]["train_loss"]) >= 1
    assert main(["predict", "--checkpoint", str(tmp_path / "m.pth"), str(made["wav"])]) == 0
    ROBUSTNESS.append(f"Ctrl-C during serlib train after epoch 3: the best epoch so far "
                      f"(epoch {ckpt['best_epoch']}) is kept in its checkpoint, which predicts")


def test_status_lists_each_fold_and_refuses_what_is_no_run(made, tmp_path, capsys):
    assert main(["cv", str(made["store"]), "--ser_model", "majority", "--folds", "1M,2F",
                 "--out", str(tmp_path / "run")]) == 0
    assert main(["cv", str(made["store"]), "--ser_model", "majority", "--folds", "3M",
                 "--out", str(tmp_path / "run")]) == 0
    fold_path(tmp_path / "run", "r0-3M").unlink()
    capsys.readouterr()
    assert main(["status", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "run 'majority', 3 folds: 2 done, 1 pending" in out
    assert "r0-1M                    done  test WA" in out
    assert "r0-3M                    pending" in out
    assert main(["status", str(tmp_path / "nowhere")]) == 2
    assert "no such run folder" in one_error_line(capsys.readouterr().err)
    (tmp_path / "plain").mkdir()
    assert main(["status", str(tmp_path / "plain")]) == 2
    assert "not a 'serlib cv' run folder" in one_error_line(capsys.readouterr().err)


def test_every_help_shows_its_defaults_and_the_version(capsys):
    from serlib.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        text = sub.format_help()
        for action in sub._actions:
            if action.option_strings and action.help != "==SUPPRESS==" and \
                    action.dest != "help":
                assert action.help, f"serlib {name} {action.option_strings[0]}: no help"
        if any(a.default not in (None, False) and a.option_strings and a.dest != "help"
               for a in sub._actions):
            assert "(default: " in text, name
    cv_help = " ".join(commands["cv"].format_help().split())
    assert "the thesis's settings, sized for a GPU" in cv_help
    assert "epochs (passes over the training speakers) (default: 100)" in cv_help
    with pytest.raises(SystemExit):
        main(["--version"])
    from serlib import __version__

    assert capsys.readouterr().out.strip() == f"serlib {__version__}"


def bad_checkpoints(folder: Path, made) -> dict[str, Path]:
    import pickle

    import torch

    (folder / "empty.pth").write_bytes(b"")
    (folder / "garbage.pth").write_bytes(os.urandom(3000))
    (folder / "pickle.pth").write_bytes(pickle.dumps({"a": object()}))

    class Runs:  # unpickling this would run print: never
        def __reduce__(self):
            return (print, ("payload ran",))

    torch.save({"format": "serlib-checkpoint", "x": Runs()}, folder / "global.pth")
    ckpt = load_checkpoint(made["checkpoint"])
    del ckpt["scaler"]
    torch.save(ckpt, folder / "partial.pth")
    return {name: folder / f"{name}.pth" for name in
            ("empty", "garbage", "pickle", "global", "partial")}


@pytest.fixture(scope="module")
def bad_inputs(made, tmp_path_factory):
    """Files a user may hand serlib by mistake."""
    tmp = tmp_path_factory.mktemp("bad")
    checkpoints = bad_checkpoints(tmp, made)
    (tmp / "latin1.toml").write_bytes('# M\xfcller\nout = "x"\n'.encode("latin-1"))
    (tmp / "train5.toml").write_text('store = "s"\nout = "x"\ntrain = 5\n'
                                     '[runs.a]\nser_model = "majority"\n')
    (tmp / "afile").write_text("mine")
    return {"tmp": tmp, **{f"ckpt_{k}": v for k, v in checkpoints.items()}}


BAD_ARGUMENTS = {  # name -> (arguments, words of the one line)
    "sample rate 0": (["extract", "--corpus", "emodb", "--root", "{corpus}", "--sample_rate",
                       "0", "--out", "{tmp}/s"], "--sample_rate 0"),
    "negative top_db": (["extract", "--corpus", "emodb", "--root", "{corpus}", "--top_db", "-5",
                         "--out", "{tmp}/s"], "--top_db -5"),
    "pre-emphasis 5": (["extract", "--corpus", "emodb", "--root", "{corpus}", "--preemphasis",
                        "5", "--out", "{tmp}/s"], "--preemphasis 5"),
    "even delta width": (["extract", "--corpus", "emodb", "--root", "{corpus}",
                          "--delta_width", "4", "--out", "{tmp}/s"], "--delta_width 4"),
    "image size below AlexNet's": (["cv", "{store}", "--image_size", "32", "--out", "{tmp}/c"],
                                   "at least 63 pixels"),
    "demo image size 32": (["demo", "--data", "{tmp}/d", "--image_size", "32"],
                           "--image_size 32"),
    "empty fold list": (["cv", "{store}", "--ser_model", "majority", "--folds", ",,", "--out",
                         "{tmp}/c"], "no fold named"),
    "not an int": (["cv", "{store}", "--num_epochs", "many", "--out", "{tmp}/c"],
                   "invalid int value"),
    "cv onto a file": (["cv", "{store}", "--ser_model", "majority", "--out", "{tmp}/afile"],
                       "is a file"),
    "report onto a file": (["report", "{run}", "--out", "{tmp}/afile"], "is a file"),
    "report of no run": (["report", "{tmp}", "--out", "{tmp}/r"], "not a 'serlib cv'"),
    "sweep in Latin-1": (["sweep", "{tmp}/latin1.toml"], "save the sweep file as UTF-8"),
    "sweep train = 5": (["sweep", "{tmp}/train5.toml"], "[train] must be a table"),
    "0-byte checkpoint": (["predict", "--checkpoint", "{ckpt_empty}", "{wav}"], "empty file"),
    "garbage checkpoint": (["predict", "--checkpoint", "{ckpt_garbage}", "{wav}"], "refused"),
    "pickle checkpoint": (["predict", "--checkpoint", "{ckpt_pickle}", "{wav}"], "refused"),
    "checkpoint with code": (["predict", "--checkpoint", "{ckpt_global}", "{wav}"],
                             "could run code"),
    "checkpoint without its scaler": (["predict", "--checkpoint", "{ckpt_partial}", "{wav}"],
                                      "lacks scaler"),
    "folder as checkpoint": (["export", "--checkpoint", "{tmp}", "--onnx", "{tmp}/m.onnx"],
                             "is a folder"),
    "unknown command": (["fly"], "invalid choice"),
}


@pytest.mark.parametrize("name", list(BAD_ARGUMENTS))
def test_every_bad_argument_is_one_line(made, bad_inputs, capsys, name):
    args, words = BAD_ARGUMENTS[name]
    values = {k: str(v) for k, v in {**made, **bad_inputs}.items()}
    try:
        status = main([a.format(**values) for a in args])
    except SystemExit as e:  # argparse's own errors exit from parse_args
        status = e.code
    captured = capsys.readouterr()
    assert status == 2, captured
    assert words in one_error_line(captured.err)
    assert "payload ran" not in captured.out


def test_runs_that_share_a_label_are_told_apart_and_any_label_names_files(made, tmp_path,
                                                                          capsys):
    store = str(made["store"])
    for out, seed in (("a", "1"), ("b", "2")):  # two runs, both labelled "majority"
        assert main(["cv", store, "--ser_model", "majority", "--seed", seed, "--folds", "1M",
                     "--out", str(tmp_path / out)]) == 0
    assert main(["cv", store, "--ser_model", "majority", "--seed", "3", "--folds", "1M",
                 "--label", "fcn/gap: v2", "--out", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    assert main(["report", *(str(tmp_path / f) for f in "abc"), "--out",
                 str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    assert "| majority (a) | majority |" in out and "| majority (b) | majority |" in out
    assert "| fcn/gap: v2 | majority |" in out
    names = {p.name for p in (tmp_path / "rep").iterdir()}
    assert {"confusion-00-majority_a.png", "confusion-01-majority_b.png",
            "confusion-02-fcn_gap_v2.png"} <= names
