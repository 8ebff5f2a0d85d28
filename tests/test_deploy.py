"""ONNX export and torch-free prediction: the same probabilities as torch, the metadata,
and clear errors for files that are not serlib's."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from conftest import small_emodb_store

from serlib.checkpoints import save_checkpoint
from serlib.cli import main
from serlib.config import TrainConfig
from serlib.deploy import OnnxPredictor, export_onnx
from serlib.errors import SerlibError
from serlib.predict import Predictor
from serlib.train import train_fold


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    store, index = small_emodb_store(tmp_path_factory.mktemp("d"), seed=8)
    wavs = index.table.query("speaker == '1M'")["path"].tolist()[:2]
    long = index.table.sort_values("duration_s")["path"].iloc[-1]  # several segments
    return store, [*wavs, long]


@pytest.mark.parametrize("name, scaler", [("alexnet", "training"), ("alexnet_gap", "speaker"),
                                          ("alexnet_att", "training"),
                                          ("resnet18_gap", "speaker"),
                                          ("mobilenet_v3_large", "training")])
@pytest.mark.slow
def test_onnxruntime_gives_torchs_probabilities(corpus, tmp_path, name, scaler):
    store, wavs = corpus
    config = TrainConfig(ser_model=name, num_epochs=1, batch_size=16, image_size=64,
                         scaler=scaler)
    result = train_fold(store, config, "1F", "1M", progress=False, log=lambda line: None)
    path = export_onnx(save_checkpoint(result, tmp_path / "m.pth"), tmp_path / "m.onnx")
    onnx_predictor, torch_predictor = OnnxPredictor(path), Predictor(result)
    assert onnx_predictor.classes == tuple(store.classes)
    assert onnx_predictor.features == store.config
    for wav in wavs:
        a, b = onnx_predictor.predict(wav), torch_predictor.predict(wav)
        assert a.segment_probs.shape == b.segment_probs.shape
        assert np.abs(a.segment_probs - b.segment_probs).max() < 1e-4
        assert np.abs(a.probs - b.probs).max() < 1e-4 and a.emotion == b.emotion
        assert np.allclose(a.segment_starts_s, b.segment_starts_s)
    assert len(b.segment_probs) > 1  # the longest file has several segments


@pytest.fixture(scope="module")
def exported(corpus, tmp_path_factory):
    store, wavs = corpus
    tmp = tmp_path_factory.mktemp("e")
    result = train_fold(store, TrainConfig(num_epochs=1, batch_size=16, image_size=64), "1F",
                        "1M", progress=False, log=lambda line: None)
    checkpoint = save_checkpoint(result, tmp / "model.pth")
    assert main(["export", "--checkpoint", str(checkpoint), "--onnx", str(tmp / "m.onnx")]) == 0
    return checkpoint, tmp / "m.onnx", wavs


def test_the_command_line_predicts_the_same_with_either_model(exported, capsys):
    checkpoint, model, wavs = exported
    capsys.readouterr()
    assert main(["predict", "--checkpoint", str(checkpoint), "--segments", *wavs]) == 0
    with_torch = capsys.readouterr().out
    assert main(["predict", "--onnx", str(model), "--segments", *wavs]) == 0
    assert capsys.readouterr().out == with_torch  # every printed probability, to 3 decimals
    with pytest.raises(SystemExit) as e:  # one model or the other, as argparse says
        main(["predict", "--checkpoint", str(checkpoint), "--onnx", str(model), wavs[0]])
    assert e.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_prediction_needs_no_torch(exported):
    _, model, wavs = exported
    code = ("import sys\n"
            "class NoTorch:  # any import of torch or torchvision fails\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('torch', 'torchvision'):\n"
            "            raise ImportError(f'{name} is blocked')\n"
            "sys.meta_path.insert(0, NoTorch())\n"
            "from serlib.deploy import OnnxPredictor\n"
            f"p = OnnxPredictor({str(model)!r}).predict({wavs[0]!r})\n"
            "assert 'torch' not in [m.split('.')[0] for m in sys.modules if sys.modules[m]]\n"
            "print(p.emotion, round(float(p.probs.sum()), 4))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[1] == "1.0"


def test_foreign_or_broken_models_are_refused(exported, tmp_path):
    _, model, _ = exported
    bare = onnx.load(str(model))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    with pytest.raises(SerlibError, match="not a serlib ONNX model"):
        OnnxPredictor(tmp_path / "bare.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(SerlibError, match="not a loadable ONNX model"):
        OnnxPredictor(tmp_path / "junk.onnx")
    with pytest.raises(SerlibError, match="ONNX model not found"):
        OnnxPredictor(tmp_path / "missing.onnx")
    meta = onnx.load(str(model))
    meta.metadata_props[0].value = meta.metadata_props[0].value.replace('"version": 1',
                                                                        '"version": 99')
    onnx.save(meta, str(tmp_path / "future.onnx"))
    with pytest.raises(SerlibError, match="format version 99"):
        OnnxPredictor(tmp_path / "future.onnx")
