"""Notebook 3, AlexNet finetuning."""

from __future__ import annotations

import time
from dataclasses import replace

import serlib


def _train(course, config, val_id=None, test_id=None):
    store = course.features("logspec", progress=False)
    default_val, default_test = course.fold
    start = time.perf_counter()
    result = serlib.train_fold(store, config, val_id or default_val, test_id or default_test,
                               log=lambda line: None)
    return result, (time.perf_counter() - start) / max(result.epochs_done or 1, 1)


def exercise_1(course, **changes) -> dict:
    """AlexNet at the thesis's 256-pixel images against the tier's size: seconds per epoch
    (an image has (256 / size)² as many pixels) and test UA, one seed each: a difference of
    a few points on one test speaker is within noise."""
    config = course.settings(3, ser_model="alexnet", **changes)
    rows = {}
    for size in (config.image_size, 256):
        result, epoch_s = _train(course, replace(config, image_size=size))
        rows[size] = {"s per epoch": round(epoch_s, 1),
                      "test UA (%)": round(100 * result.test.ua, 1)}
        print(f"{size} px: {epoch_s:.1f} s per epoch, test UA {100 * result.test.ua:.1f} %")
    return rows


def exercise_2(course, **changes) -> dict:
    """Swapped roles: validate on the test speaker and test on the validation speaker.
    Each direction's test UA, beside the majority baseline of the same test speaker."""
    config = course.settings(3, ser_model="alexnet", **changes)
    store = course.features("logspec", progress=False)
    val_id, test_id = course.fold
    out = {}
    for v, t in ((val_id, test_id), (test_id, val_id)):
        result, _ = _train(course, config, v, t)
        majority = course.baselines(store, v, t)["majority"]
        out[t] = {"UA": result.test.ua, "majority UA": majority.ua}
        print(f"test {t} (validation {v}): UA {100 * result.test.ua:.1f} % "
              f"(majority {100 * majority.ua:.1f} %)")
    return out


def exercise_3(course) -> float:
    """The first fully connected layer's share of AlexNet's parameters: 9216 x 4096 weights
    and 4096 biases, of about 57 million."""
    model = serlib.build_model("alexnet", num_classes=4)
    first = model.classifier[1]  # Dropout, Linear(9216, 4096), ...
    count = serlib.models.count_parameters
    share = count(first) / count(model)
    print(f"{first}: {count(first):,} of {count(model):,} parameters ({100 * share:.1f} %)")
    return share


def exercise_4(course, weights: str | None = None, **changes) -> dict:
    """The same fold from ImageNet weights and from random ones (``weights``: a local copy of
    torchvision's ``alexnet-owt-7be5be79.pth``, offline), each beside the baselines. Meant
    for the gpu tier; on a CPU it runs too, slowly."""
    config = course.settings(3, ser_model="alexnet", **changes)
    store = course.features("logspec", progress=False)
    out = {}
    for name, start in (("ImageNet", {"pretrained": True, "weights": weights}),
                        ("random", {"pretrained": False, "weights": None})):
        result, _ = _train(course, replace(config, **start))
        out[name] = result
    table = serlib.report.scores_table({**course.baselines(store), **out}, store.classes)
    print(table.to_string())
    return {name: r.test.ua for name, r in out.items()}
