"""Issue 20's probes of the command line, run as a new user would, one row each.

    python tools/probe_cli.py [--serlib "python -m serlib"] [--work DIR] [--only NAME,...]

Each probe runs exact ``serlib`` commands in a fresh folder on a small synthetic corpus
and prints one Markdown row: the probe, the exit status, whether a Python traceback
was printed, the last line of the error output and what the probe checked (a user's
file that must survive, say). Run it on two versions to compare them. Probes that need
a read-only or full disk mount a small tmpfs, and are reported as not run where mounting
is not allowed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

QUICK = ["--num_epochs", "2", "--batch_size", "16", "--image_size", "64", "--no-progress",
         "--no-tensorboard"]


class Probes:
    def __init__(self, serlib: list[str], work: Path) -> None:
        self.serlib, self.work, self.rows = serlib, work, []

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 900,
            env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([*self.serlib, *map(str, args)], capture_output=True, text=True,
                              cwd=cwd or self.work, timeout=timeout,
                              env={**os.environ, **(env or {})})

    def row(self, name: str, r: subprocess.CompletedProcess | None, check: str = "") -> None:
        if r is None:
            self.rows.append((name, "–", "–", "", check))
        else:
            err = [line for line in r.stderr.strip().splitlines() if line.strip()]
            last = err[-1] if err else ""
            self.rows.append((name, str(r.returncode), "yes" if "Traceback" in r.stderr else
                              "no", last[:150], check))
        print(self.format(self.rows[-1]), flush=True)

    @staticmethod
    def format(row) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"


def mount_tmpfs(path: Path, size: str, read_only: bool = False) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                        capture_output=True).returncode == 0
    if ok and read_only:
        ok = subprocess.run(["mount", "-o", "remount,ro", str(path)],
                            capture_output=True).returncode == 0
    return ok


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def tone(path: Path, seconds: float, sr: int = 16000, freqs=(440.0,), decay: float = 0.0,
         channels: int = 1) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    if decay:
        x = x * np.exp(-decay * t)
    x = 0.5 * x
    sf.write(path, np.stack([x] * channels, 1) if channels > 1 else x, sr)
    return path


def noise(path: Path, seconds: float, sr: int = 16000) -> Path:
    sf.write(path, np.random.default_rng(0).normal(0, 0.2, int(seconds * sr)), sr)
    return path


def probes(p: Probes, only: set[str] | None) -> None:  # noqa: C901 - a list of probes
    w = p.work

    def want(name: str) -> bool:
        return not only or name in only

    # A small corpus, its store, a trained checkpoint and its export, shared by the probes.
    r = p.run("synth", "--layout", "iemocap", "--out", "corpus", "--utterances", "200",
              "--jobs", "2")
    assert r.returncode == 0, r.stderr
    r = p.run("extract", "--corpus", "iemocap", "--root", "corpus", "--segment_size", "100",
              "--out", "store")
    assert r.returncode == 0, r.stderr
    r = p.run("train", "store", *QUICK, "--val_id", "1F", "--test_id", "1M", "--save_label",
              "m")
    assert r.returncode == 0, r.stderr
    r = p.run("export", "--checkpoint", "m.pth", "--onnx", "m.onnx")
    onnx_ok = r.returncode == 0
    utt = sorted((w / "corpus").rglob("*.wav"))[0]

    if want("extract-user-folder"):
        d = w / "d"
        d.mkdir()
        (d / "thesis.docx").write_text("x")
        r = p.run("extract", "--corpus", "iemocap", "--root", "corpus", "--segment_size", "100",
                  "--out", "d")
        p.row("extract into a folder holding thesis.docx", r,
              "thesis.docx " + ("survives" if (d / "thesis.docx").exists() else "DELETED"))
    if want("extract-user-file"):
        (w / "notes.txt").write_text("mine")
        r = p.run("extract", "--corpus", "iemocap", "--root", "corpus", "--segment_size", "100",
                  "--out", "notes.txt")
        p.row("extract --out onto a user's file", r,
              "notes.txt " + ("survives" if (w / "notes.txt").is_file() else "HIDDEN/GONE"))
    if want("extract-other-config"):
        before = (w / "store" / "meta.json").read_text()
        r = p.run("extract", "--corpus", "iemocap", "--root", "corpus", "--segment_size", "50",
                  "--out", "store")
        same = (w / "store" / "meta.json").read_text() == before
        p.row("extract onto a store of another configuration", r,
              "store " + ("kept" if same else "REPLACED"))
        if not same:  # put the probes' store back
            p.run("extract", "--corpus", "iemocap", "--root", "corpus", "--segment_size", "100",
                  "--out", "store", "--overwrite")
            if "segment_size\": 100" not in (w / "store" / "meta.json").read_text():
                p.run("extract", "--corpus", "iemocap", "--root", "corpus",
                      "--segment_size", "100", "--out", "store")
    if want("export-onto-checkpoint"):
        shutil.copy(w / "m.pth", w / "m2.pth")
        before = (w / "m2.pth").read_bytes()
        r = p.run("export", "--checkpoint", "m2.pth", "--onnx", "m2.pth")
        p.row("export --onnx onto its own checkpoint", r,
              "checkpoint " + ("kept" if (w / "m2.pth").read_bytes() == before else "REPLACED"))
    if want("train-overwrite"):
        shutil.copy(w / "m.pth", w / "keep.pth")
        before = (w / "keep.pth").read_bytes()
        r = p.run("train", "store", *QUICK, "--num_epochs", "1", "--val_id", "1F", "--test_id",
                  "1M", "--save_label", "keep", "--seed", "5")
        p.row("train --save_label onto an existing checkpoint", r,
              "checkpoint " + ("kept" if (w / "keep.pth").read_bytes() == before
                               else "REPLACED"))
    ro = w / "ro"
    ro_ok = mount_tmpfs(ro, "1m", read_only=True)
    if want("read-only"):
        if not ro_ok:
            p.row("read-only output folder", None, "tmpfs mount not allowed: not run")
        else:
            start = time.perf_counter()
            r = p.run("train", "store", *QUICK, "--val_id", "1F", "--test_id", "1M",
                      "--save_label", str(ro / "m"))
            took = time.perf_counter() - start
            p.row("train --save_label on a read-only disk", r,
                  f"{took:.0f} s; " + ("trained first" if "best epoch" in r.stdout + r.stderr
                                      or "epoch   2" in r.stdout else "refused before training"))
            cases = {
                "index": ("index", "--corpus", "iemocap", "--root", "corpus", "--out",
                          ro / "t.csv"),
                "extract": ("extract", "--corpus", "iemocap", "--root", "corpus",
                            "--segment_size", "100", "--out", ro / "s"),
                "cv": ("cv", "store", *QUICK, "--folds", "1M", "--out", ro / "cv"),
                "report": ("report", "store-cv-probe", "--out", ro / "rep"),
                "export": ("export", "--checkpoint", "m.pth", "--onnx", ro / "m.onnx"),
                "synth": ("synth", "--out", ro / "c", "--utterances", "20"),
                "demo": ("demo", "--data", ro / "data", "--utterances", "100"),
            }
            p.run("cv", "store", "--ser_model", "majority", "--out", "store-cv-probe")
            for name, args in cases.items():
                p.row(f"{name} onto a read-only disk", p.run(*args))
    if ro_ok:
        umount(ro)
    full = w / "full"
    if want("full-disk"):
        for label, args, size in (
                ("extract --jobs 2", ("--jobs", "2"), "3m"),
                ("extract --jobs 1", ("--jobs", "1"), "3m")):
            if not mount_tmpfs(full, size):
                p.row(f"{label} onto a full disk", None, "tmpfs mount not allowed: not run")
                continue
            r = p.run("extract", "--corpus", "iemocap", "--root", "corpus", "--segment_size",
                      "100", *args, "--out", full / "s")
            p.row(f"{label} onto a full disk", r)
            umount(full)
        if mount_tmpfs(full, "4k"):
            r = p.run("cv", "store", *QUICK, "--folds", "1M", "--out", full / "cv")
            p.row("cv onto a full disk", r)
            umount(full)
        if mount_tmpfs(full, "1m") and onnx_ok:
            r = p.run("export", "--checkpoint", "m.pth", "--onnx", full / "m.onnx")
            p.row("export onto a full disk", r)
            umount(full)
    if want("damaged-fold"):
        r = p.run("cv", "store", "--ser_model", "majority", "--out", "cvd")
        fold = sorted((w / "cvd").glob("fold-*.json"))[0]
        fold.write_text(fold.read_text()[:40])
        r = p.run("report", "cvd", "--out", "rep-d")
        p.row("report with a truncated fold file", r)
        r = p.run("cv", "store", "--ser_model", "majority", "--out", "cvd")
        p.row("cv again after the truncation", r,
              "redone" if fold.read_text().rstrip().endswith("}") and
              "done already" not in r.stdout.split(fold.stem.removeprefix("fold-"))[-1][:40]
              else "skipped as done")
        (w / "cvd" / "cv.json").write_text("{}")
        r = p.run("cv", "store", "--ser_model", "majority", "--out", "cvd")
        p.row("cv with a damaged cv.json", r)
    if want("concurrent"):
        cmd = [*p.serlib, "cv", "store", *QUICK[:-1], "--out", "cc"]
        a = subprocess.Popen(cmd, cwd=w, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
        time.sleep(1.0)
        b = subprocess.Popen(cmd, cwd=w, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
        out_a, out_b = a.communicate()[0], b.communicate()[0]
        trained = out_a.count("best epoch") + out_b.count("best epoch")
        runs = len(list((w / "cc" / "tensorboard").glob("*"))) if (w / "cc").exists() else 0
        p.row("two cv processes on one folder", subprocess.CompletedProcess(
            cmd, max(a.returncode, b.returncode), "", ""),
            f"{trained} fold trainings for 5 folds; {runs} TensorBoard runs")
    if want("image-size"):
        r = p.run("demo", "--data", "dd", "--utterances", "200", "--num_epochs", "1",
                  "--image_size", "32")
        p.row("demo --image_size 32", r,
              "baselines ran first" if "[5/6]" in r.stdout else "refused before any work")
        r = p.run("demo", "--data", "dd", "--utterances", "200", "--num_epochs", "1",
                  "--image_size", "64")
        p.row("then demo --image_size 64", r)
    if want("encodings"):
        (w / "latin").mkdir(exist_ok=True)
        shutil.copy(utt, w / "latin" / "a.wav")
        (w / "latin" / "labels.csv").write_bytes(
            "path,speaker,label\na.wav,J\xfcrgen,w\xfctend\n".encode("latin-1"))
        r = p.run("index", "--corpus", "folder", "--root", "latin", "--out", "latin.csv")
        p.row("labels CSV in Latin-1", r)
        (w / "sweep-latin.toml").write_bytes('# M\xfcller\nout = "x"\n'.encode("latin-1"))
        p.row("sweep file in Latin-1", p.run("sweep", "sweep-latin.toml"))
        (w / "sweep5.toml").write_text('store = "store"\nout = "x"\ntrain = 5\n'
                                       '[runs.a]\nser_model = "majority"\n')
        p.row("sweep with train = 5", p.run("sweep", "sweep5.toml"))
    if want("checkpoints"):
        (w / "empty.pth").write_bytes(b"")
        p.row("predict with a 0-byte checkpoint", p.run("predict", "--checkpoint", "empty.pth",
                                                        utt))
        (w / "garbage.pth").write_bytes(os.urandom(2000))
        r = p.run("predict", "--checkpoint", "garbage.pth", utt)
        p.row("predict with a garbage checkpoint", r,
              "quotes weights_only=False" if "weights_only" in r.stderr else "no torch advice")
        import pickle

        (w / "pickle.pth").write_bytes(pickle.dumps({"a": object()}))
        r = p.run("predict", "--checkpoint", "pickle.pth", utt)
        p.row("predict with a pickle checkpoint", r,
              "quotes weights_only=False" if "weights_only" in r.stderr else "no torch advice")
    if want("onnx") and onnx_ok:
        import onnx

        model = onnx.load(str(w / "m.onnx"))
        meta = json.loads(next(e.value for e in model.metadata_props if e.key == "serlib"))
        del meta["classes"]
        for e in model.metadata_props:
            if e.key == "serlib":
                e.value = json.dumps(meta)
        onnx.save(model, str(w / "partial.onnx"))
        p.row("predict --onnx with partial metadata", p.run("predict", "--onnx",
                                                            "partial.onnx", utt))
        from onnx import TensorProto, helper

        graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        other = helper.make_model(graph)
        entry = other.metadata_props.add()
        entry.key, entry.value = "serlib", next(e.value for e in onnx.load(
            str(w / "m.onnx")).metadata_props if e.key == "serlib")
        onnx.save(other, str(w / "other.onnx"))
        p.row("predict --onnx with another graph", p.run("predict", "--onnx", "other.onnx", utt))
    if want("label"):
        r = p.run("cv", "store", "--ser_model", "majority", "--label", "fcn/gap: v2",
                  "--out", "cvl")
        p.row('cv --label "fcn/gap: v2"', r)
        r = p.run("report", "cvl", "--out", "rep-l")
        p.row('report of the run labelled "fcn/gap: v2"', r)
    if want("numbers"):
        for flag, value in (("--sample_rate", "0"), ("--top_db", "-5"), ("--preemphasis", "5")):
            r = p.run("extract", "--corpus", "iemocap", "--root", "corpus", flag, value,
                      "--out", f"s{flag}")
            p.row(f"extract {flag} {value}", r)
    if want("existing-file"):
        (w / "afile").write_text("mine")
        p.run("cv", "store", "--ser_model", "majority", "--out", "cvm")
        p.row("report --out onto an existing file", p.run("report", "cvm", "--out", "afile"),
              "afile " + ("kept" if (w / "afile").read_text() == "mine" else "CHANGED"))
        p.row("cv --out onto an existing file", p.run("cv", "store", "--ser_model", "majority",
                                                      "--out", "afile"),
              "afile " + ("kept" if (w / "afile").read_text() == "mine" else "CHANGED"))
    if want("predict"):
        sounds = w / "sounds"
        sounds.mkdir(exist_ok=True)
        cases = {
            "white noise": noise(sounds / "noise.wav", 3),
            "a 440 Hz tone": tone(sounds / "tone.wav", 3),
            "a plucked chord": tone(sounds / "chord.wav", 3, freqs=(196, 247, 294, 392),
                                    decay=1.5),
            "a 10-minute recording": None,
            "a truncated wav (header 4 s, 0.15 s of data)": None,
        }
        alsa = Path("/usr/share/sounds/alsa/Noise.wav")
        if alsa.exists():
            cases["ALSA's Noise.wav"] = alsa
        long = [sf.read(f)[0] for f in sorted((w / "corpus").rglob("*.wav"))[:200]]
        y = np.concatenate(long)
        reps = int(np.ceil(600 * 16000 / len(y)))
        sf.write(sounds / "long.wav", np.tile(y, reps)[:600 * 16000], 16000)
        cases["a 10-minute recording"] = sounds / "long.wav"
        sf.write(sounds / "four.wav", np.random.default_rng(1).normal(0, 0.1, 64000), 16000)
        data = (sounds / "four.wav").read_bytes()
        (sounds / "trunc.wav").write_bytes(data[:44 + 2 * int(0.15 * 16000)])
        cases["a truncated wav (header 4 s, 0.15 s of data)"] = sounds / "trunc.wav"
        for name, path in cases.items():
            r = p.run("predict", "--checkpoint", "m.pth", path)
            first = r.stdout.strip().splitlines()[0] if r.stdout.strip() else ""
            warn = [line for line in r.stderr.splitlines() if "warning" in line.lower()]
            r.stderr = "\n".join(warn) or r.stderr
            p.row(f"predict on {name}", r, f"printed {first[:80]!r}")
        try:
            y, sr = sf.read(utt)
            sf.write(sounds / "utt.mp3", y, sr, format="MP3")
            r1 = p.run("predict", "--checkpoint", "m.pth", utt)
            r2 = p.run("predict", "--checkpoint", "m.pth", sounds / "utt.mp3")
            p.row("predict the same utterance as wav, then mp3", r2,
                  f"wav: {r1.stdout.splitlines()[0].split(': ')[-1] if r1.stdout else '-'}; "
                  f"mp3: {r2.stdout.splitlines()[0].split(': ')[-1] if r2.stdout else '-'}")
        except Exception as e:  # noqa: BLE001
            p.row("predict the same utterance as wav, then mp3", None, f"no mp3 writer: {e}")
        (sounds / "bad.wav").write_text("not audio")
        r = p.run("predict", "--checkpoint", "m.pth", utt, sounds / "bad.wav")
        p.row("predict of a good and an unreadable file", r)
    if want("typo"):
        (w / "typo").mkdir(exist_ok=True)
        wavs = sorted((w / "corpus").rglob("*.wav"))[:30]
        lines = ["path,speaker,label"]
        for i, f in enumerate(wavs):
            shutil.copy(f, w / "typo" / f"{i}.wav")
            label = ["neutral", "anger", "sadness"][i % 3] if i != 7 else "nuetral"
            lines.append(f"{i}.wav,s{i % 4},{label}")
        (w / "typo" / "labels.csv").write_text("\n".join(lines) + "\n")
        r = p.run("index", "--corpus", "folder", "--root", "typo", "--out", "typo.csv")
        p.row('labels CSV with the typo "nuetral"', r,
              "warned" if "nuetral" in r.stdout + r.stderr and "warning" in
              (r.stdout + r.stderr).lower() else "silent")
        (w / "mp3s" / "anger").mkdir(parents=True, exist_ok=True)
        y, sr = sf.read(utt)
        sf.write(w / "mp3s" / "anger" / "bob_1.wav", y, sr)
        try:
            sf.write(w / "mp3s" / "anger" / "bob_2.mp3", y, sr, format="MP3")
        except Exception:  # noqa: BLE001
            pass
        r = p.run("index", "--corpus", "folder", "--root", "mp3s", "--out", "mp3s.csv")
        rows = len(open(w / "mp3s.csv").read().splitlines()) - 1 if (w / "mp3s.csv").exists() \
            else 0
        p.row("folder corpus with a wav and an mp3", r,
              f"{rows} utterances indexed" + ("; the mp3 named" if "bob_2.mp3" in
                                              r.stdout + r.stderr else ""))
        r = p.run("cv", "store", "--ser_model", "majority", "--folds", ",,", "--out", "cvf")
        n = len(list((w / "cvf").glob("fold-*.json"))) if (w / "cvf").exists() else 0
        p.row("cv --folds ,,", r, f"{n} folds run")
    if want("same-label"):
        p.run("cv", "store", *QUICK, "--folds", "1M", "--out", "sa")
        p.run("cv", "store", *QUICK, "--folds", "1M", "--seed", "7", "--out", "sb")
        r = p.run("report", "sa", "sb", "--out", "rep-s")
        p.row("report of two runs with the default label", r,
              "two rows 'alexnet_gap'" if "alexnet_gap vs alexnet_gap" in r.stdout or
              r.stdout.count("| alexnet_gap | alexnet_gap |") == 2 else "distinct")
    if want("status"):
        r = p.run("status", "cvm")
        p.row("status of a finished run", r, f"printed {r.stdout.strip()[:90]!r}")
        r = p.run("status", "no-such-run")
        p.row("status of a path that does not exist", r, f"printed {r.stdout.strip()[:60]!r}")
    if want("help"):
        r = p.run("cv", "--help")
        p.row("cv --help", r, "shows defaults" if "(default: 100)" in " ".join(
            r.stdout.split()) else "defaults hidden")
        r = p.run("--version")
        p.row("serlib --version", r, f"printed {r.stdout.strip()[:40]!r}")
    if want("ctrl-c"):
        cmd = [*p.serlib, "train", "store", *QUICK, "--num_epochs", "30", "--val_id", "1F",
               "--test_id", "1M", "--save_label", "cc"]
        proc = subprocess.Popen(cmd, cwd=w, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("epoch   3/"):
                proc.send_signal(signal.SIGINT)
                break
        rest = proc.communicate()[0]
        p.row("Ctrl-C during train (after epoch 3)", subprocess.CompletedProcess(
            cmd, proc.returncode, "", rest),
            "cc.pth " + ("kept" if (w / "cc.pth").exists() else "not written"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serlib", default=f"{sys.executable} -m serlib")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="probes-"))
    work.mkdir(parents=True, exist_ok=True)
    p = Probes(shlex.split(args.serlib), work)
    print("| probe | rc | traceback | last line of stderr | checked |\n|---|---|---|---|---|")
    probes(p, set(filter(None, args.only.split(","))) or None)


if __name__ == "__main__":
    main()
