"""Batch transforms: SpecAugment's masks where the seeded generator puts them, the same masks
on the stability twin, the registry's order, and evaluation never masked."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch
from conftest import small_emodb_store

import serlib.transforms as transforms
from serlib.config import EXECUTION_ONLY, TrainConfig
from serlib.cv import run_label
from serlib.errors import SerlibError
from serlib.metrics import utterance_scores
from serlib.predict import Predictor
from serlib.runs import prepare_out
from serlib.train import train_fold
from serlib.transforms import (
    BATCH_TRANSFORMS,
    RandomState,
    SpecAugment,
    StabilityTwin,
    TrainBatch,
    make_transforms,
    spec_masks,
)


def test_masks_fall_where_the_seeded_generator_says():
    shape = (3, 2, 40, 60)
    masked = spec_masks(shape, 2, 10, 1, 25, np.random.default_rng(4))
    assert masked.shape == (3, 40, 60)
    rng = np.random.default_rng(4)  # the same draws, in SpecAugment's order
    for i in range(3):
        expected = np.zeros((40, 60), dtype=bool)
        for _ in range(2):
            width = rng.integers(0, 11)
            start = rng.integers(0, 40 - width + 1)
            assert width <= 10 and start + width <= 40
            expected[start:start + width, :] = True
        width = rng.integers(0, 26)
        start = rng.integers(0, 60 - width + 1)
        expected[:, start:start + width] = True
        assert np.array_equal(masked[i], expected)
    # Whole rows (bins) and whole columns (frames): a masked cell's row or column is masked.
    rows, cols = masked.all(axis=2), masked.all(axis=1)
    assert np.array_equal(masked, rows[:, :, None] | cols[:, None, :])
    assert not spec_masks(shape, 2, 0, 2, 0, np.random.default_rng(0)).any()


def test_specaugment_masks_segment_and_twin_alike_with_the_segments_mean():
    config = TrainConfig(specaugment=True, specaugment_freq_masks=1, specaugment_freq_width=8,
                         specaugment_time_masks=1, specaugment_time_width=12)
    x = torch.randint(0, 256, (4, 3, 20, 30), dtype=torch.uint8)
    twin = (x.float() + 3).clamp(0, 255)
    batch = TrainBatch(x.clone(), torch.zeros(4, dtype=torch.long), torch.zeros(4, 2),
                       twin=twin.clone())
    out = SpecAugment(config, RandomState.from_seed(9))(batch)
    masked = spec_masks(tuple(x.shape), 1, 8, 1, 12, np.random.default_rng([9, 1]))
    m = torch.from_numpy(masked).unsqueeze(1).expand_as(x)
    assert m.any()
    assert torch.equal(out.x[~m], x[~m]) and torch.equal(out.twin[~m], twin[~m])
    means = x.float().mean(dim=(2, 3), keepdim=True).round().to(torch.uint8).expand_as(x)
    assert torch.equal(out.x[m], means[m])
    twin_means = twin.mean(dim=(2, 3), keepdim=True).expand_as(x)
    assert torch.allclose(out.twin[m], twin_means[m])


def test_the_registry_applies_twin_then_masks_then_mixup():
    # The twin is made before the masks (which it shares), and every transform of the
    # segments before any of the images, whatever else is registered.
    thesis = ["stability", "specaugment", "mixup"]
    assert [name for name in BATCH_TRANSFORMS if name in thesis] == thesis
    config = TrainConfig(mixup=True, stability=True, specaugment=True)
    made = make_transforms(config, RandomState.from_seed(0))
    assert [type(t).__name__ for t in made] == ["StabilityTwin", "SpecAugment", "Mixup"]
    everything = make_transforms(TrainConfig(**dict.fromkeys(BATCH_TRANSFORMS, True)),
                                 RandomState.from_seed(0))
    stages = [t.stage for t in everything]
    assert stages == sorted(stages, key=["segments", "images"].index)
    assert make_transforms(TrainConfig(), RandomState.from_seed(0)) == []
    assert isinstance(make_transforms(TrainConfig(stability=True), RandomState.from_seed(0),
                                      "noisy")[0], StabilityTwin)
    assert run_label(config) == "alexnet_gap+mixup+stability+specaugment"
    with pytest.raises(SerlibError, match="specaugment_time_width must be 0 or more"):
        TrainConfig(specaugment_time_width=-1)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return small_emodb_store(tmp_path_factory.mktemp("t"), seed=4)[0]


QUIET = {"progress": False, "log": lambda line: None}
BASE = TrainConfig(num_epochs=2, batch_size=8, image_size=64, mixup=True)


def test_masks_of_width_zero_change_nothing_else(store):
    """SpecAugment draws from its own generator: with empty masks, training is exactly
    training without it (same shuffling, same mixup draws)."""
    plain = train_fold(store, BASE, "1F", "1M", **QUIET)
    empty = train_fold(store, replace(BASE, specaugment=True, specaugment_freq_width=0,
                                      specaugment_time_width=0), "1F", "1M", **QUIET)
    assert all(torch.equal(plain.state_dict[k], empty.state_dict[k])
               for k in plain.state_dict)
    masked = train_fold(store, replace(BASE, specaugment=True), "1F", "1M", **QUIET)
    assert not all(torch.equal(plain.state_dict[k], masked.state_dict[k])
                   for k in plain.state_dict)


def test_evaluation_is_never_masked(store, monkeypatch):
    calls = []
    real = transforms.spec_masks
    monkeypatch.setattr(transforms, "spec_masks",
                        lambda shape, *a: calls.append(shape[0]) or real(shape, *a))
    config = replace(BASE, num_epochs=1, specaugment=True)
    result = train_fold(store, config, "1F", "1M", **QUIET)
    train_segments = sum(len(store[s].segments) for s in store if s not in ("1F", "1M"))
    assert sum(calls) == train_segments  # one mask per training segment, none at evaluation
    # The test speaker's scores are those of the unmasked model on unmasked segments.
    probs = Predictor(result).segment_probs(store["1M"].segments, result.scaler)
    pred = utterance_scores(np.log(probs), store["1M"].num_segs).argmax(axis=1)
    wa = float(np.mean(pred == store["1M"].utt_labels))
    assert wa == pytest.approx(result.test.wa)


def test_a_folder_of_an_older_version_still_resumes(store, tmp_path):
    """Folders written by the same version before the SpecAugment options existed resume:
    their identity lacks those options, which are at their defaults."""
    from serlib.runs import run_identity

    identity = run_identity(store, "5fold", TrainConfig(), False)
    old = json.loads(json.dumps(identity))
    for key in [k for k in old["train_config"] if k.startswith("specaugment")]:
        del old["train_config"][key]
    (tmp_path / "cv.json").write_text(json.dumps({"label": "x", "identity": old}))
    prepare_out(tmp_path, identity, "x")  # no error
    changed = run_identity(store, "5fold", TrainConfig(specaugment=True), False)
    with pytest.raises(SerlibError, match="differs in: train_config"):
        prepare_out(tmp_path, changed, "x")
    assert "fused" in EXECUTION_ONLY and "fused" not in identity["train_config"]
    assert set(asdict(TrainConfig())) - set(identity["train_config"]) == set(EXECUTION_ONLY)


def test_stability_twin_from_gaussian_noise_is_clamped():
    state = RandomState.from_seed(1)
    x = torch.full((2, 1, 4, 5), 250, dtype=torch.uint8)
    batch = StabilityTwin("gaussian", 0.5, state)(TrainBatch(x, torch.zeros(2), torch.zeros(2)))
    assert batch.twin.shape == x.shape and batch.twin.max() <= 255 and batch.twin.min() >= 0
    assert not torch.equal(batch.twin, x.float())


def test_every_batch_transform_names_its_runs():
    """A registered batch transform is a switch of TrainConfig that run labels name
    (config.ENHANCEMENTS): otherwise its runs would share the plain run's folder name."""
    from dataclasses import fields

    from serlib.config import ENHANCEMENTS
    from serlib.cv import run_label
    from serlib.transforms import BATCH_TRANSFORMS

    switches = {f.name: f for f in fields(TrainConfig)}
    for name, entry in BATCH_TRANSFORMS.items():
        assert name in ENHANCEMENTS and switches[name].default is False, name
        config = TrainConfig(**{name: True})
        assert entry.enabled(config) and not entry.enabled(TrainConfig())
        assert run_label(config) == f"{TrainConfig().ser_model}+{name}"
