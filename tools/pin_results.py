"""One small run's results, pinned: what ``tests/test_pinned.py`` holds later code to.

``python tools/pin_results.py tests/data/pinned.json`` writes them with the serlib it
imports: run it with the code from before a refactor (``PYTHONPATH=<old checkout>``), so
that the test shows the refactor left the scores, confusion matrices and predictions as
they were. Feature statistics and the majority baseline hold on any machine; the trained
CNN's figures are the CPU's that pinned them (another CPU sums in another order, and
training amplifies it: ../shared/NOTES.md), so the test checks them on that CPU only.
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

#: The run: a small synthetic IEMOCAP in 1-second segments, its fold 1M (validation 2F), two epochs.
UTTERANCES, CORPUS_SEED, SEGMENT_SIZE, VAL, TEST = 200, 5, 100, "2F", "1M"
TRAIN = {"num_epochs": 2, "batch_size": 16, "image_size": 64, "select_by": "ua",
         "scaler": "speaker", "tensorboard": False}
BASELINES = ("majority", "acoustic")


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else the platform's word for it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pinned_results(work: Path) -> dict:
    """The run's feature statistics per speaker, the test WA, UA and confusion matrix of the
    two baselines and of FCN+GAP, and FCN+GAP's utterance probabilities for three test
    files."""
    import torch

    import serlib
    from serlib.baselines import fit_baseline
    from serlib.config import FeatureConfig, TrainConfig
    from serlib.train import check_speakers

    corpus = serlib.synthesize(work / "corpus", "iemocap", UTTERANCES, CORPUS_SEED, jobs=1,
                               progress=False)
    index = serlib.index_corpus("iemocap", corpus, progress=False)
    store = serlib.load_features(serlib.extract_features(
        index, FeatureConfig(segment_size=SEGMENT_SIZE), work / "store", jobs=1,
        progress=False))
    out = {"cpu": cpu_name(), "torch": torch.__version__, "features": {}, "models": {}}
    for speaker in store:
        x = np.asarray(store[speaker].segments, np.float64)
        out["features"][speaker] = [len(x), float(x.mean()), float(x.std())]
    train_ids = check_speakers(store, VAL, TEST)
    tests = {name: fit_baseline(store, TrainConfig(ser_model=name), train_ids, [VAL],
                                [TEST])[1] for name in BASELINES}
    result = serlib.train_fold(store, TrainConfig(ser_model="alexnet_gap", **TRAIN), VAL, TEST,
                               progress=False, log=lambda line: None)
    tests["alexnet_gap"] = result.test
    for name, test in tests.items():
        out["models"][name] = {"wa": test.wa, "ua": test.ua,
                               "confusion": np.asarray(test.confusion).tolist()}
    predictor = serlib.Predictor(result)
    files = index.table.query("speaker == @TEST")["path"].sort_values().iloc[:3]
    out["predictions"] = {Path(p).name: predictor.predict(p).probs.tolist() for p in files}
    return out


def main(path: str) -> None:
    with tempfile.TemporaryDirectory() as work:
        results = pinned_results(Path(work))
    Path(path).write_text(json.dumps(results, indent=1) + "\n")
    print(f"pinned on {results['cpu']} in {path}")


if __name__ == "__main__":
    main(sys.argv[1])
