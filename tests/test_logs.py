"""TensorBoard logs: every epoch's scalars, read back with TensorBoard's own reader."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import small_emodb_store
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from serlib.cli import main
from serlib.config import TrainConfig
from serlib.cv import run_cv
from serlib.train import train_fold

CONFIG = TrainConfig(num_epochs=3, batch_size=16, image_size=64, lr=5e-4)
QUIET = {"progress": False, "log": lambda line: None}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return small_emodb_store(tmp_path_factory.mktemp("l"), seed=7)[0]


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}


def test_every_epoch_is_logged(store, tmp_path):
    stale = tmp_path / "board" / "events.out.tfevents.stale"
    stale.parent.mkdir()
    stale.write_text("from an interrupted run")
    result = train_fold(store, CONFIG, "1F", "1M", log_dir=tmp_path / "board", **QUIET)
    assert not stale.exists()  # an interrupted run's log is replaced, not appended to
    logged = scalars(tmp_path / "board")
    history = result.history
    assert sorted(logged) == ["accuracy/validation UA", "accuracy/validation WA", "loss/train",
                              "loss/validation", "lr"]
    for tag, key in [("loss/train", "train_loss"), ("loss/validation", "val_loss"),
                     ("accuracy/validation WA", "val_wa"), ("accuracy/validation UA", "val_ua")]:
        assert [step for step, _ in logged[tag]] == [1, 2, 3]
        assert [v for _, v in logged[tag]] == pytest.approx(history[key], rel=1e-6)
    assert [v for _, v in logged["lr"]] == pytest.approx([5e-4] * 3)


def test_no_log_without_a_folder_or_when_switched_off(store, tmp_path):
    train_fold(store, replace(CONFIG, num_epochs=1, tensorboard=False), "1F", "1M",
               log_dir=tmp_path / "off", **QUIET)
    assert not (tmp_path / "off").exists()


def test_cv_logs_one_run_per_fold_and_the_switch_does_not_change_the_run(store, tmp_path):
    config = replace(CONFIG, num_epochs=1)
    out = tmp_path / "cv"
    run_cv(store, "5fold", config, out, folds=["1M", "2F"], **QUIET)
    runs = sorted(p.name for p in (out / "tensorboard").iterdir())
    assert runs == ["r0-1M", "r0-2F"]
    assert [step for step, _ in scalars(out / "tensorboard" / "r0-2F")["loss/train"]] == [1]
    # Logging is not part of what a run computes: the same folder resumes without it.
    run_cv(store, "5fold", replace(config, tensorboard=False), out, folds=["1M", "2F", "3M"],
           **QUIET)
    assert sorted(p.name for p in (out / "tensorboard").iterdir()) == runs
    assert (out / "fold-r0-3M.json").exists()


def test_serlib_train_logs_beside_the_checkpoint(store, tmp_path):
    label = tmp_path / "model"
    assert main(["train", str(store.path), "--num_epochs", "2", "--batch_size", "16",
                 "--image_size", "64", "--val_id", "1F", "--test_id", "1M",
                 "--save_label", str(label), "--no-progress"]) == 0
    assert [s for s, _ in scalars(f"{label}-tensorboard")["accuracy/validation UA"]] == [1, 2]
    assert main(["train", str(store.path), "--num_epochs", "1", "--image_size", "64",
                 "--val_id", "1F", "--test_id", "1M", "--save_label", str(tmp_path / "quiet"),
                 "--no-tensorboard", "--no-progress"]) == 0
    assert not (tmp_path / "quiet-tensorboard").exists()
