"""Training one fold: train speakers, a validation speaker, a test speaker.

The scaler is fitted on the training speakers, every speaker's segments are
kept as uint8 at their native size, and each batch becomes images on the
device (:mod:`serlib.images`). AdamW trains the model; after every epoch the
validation speaker is evaluated at the utterance level, and the weights of
the best epoch (by WA, or UA) are kept and evaluated on the test speaker.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .checkpoints import FoldResult
from .config import BASELINES, TrainConfig, reads_noisy_copies, stability_source
from .errors import SerlibError
from .images import to_images
from .logs import EpochLog
from .losses import class_weights, oversample, soft_cross_entropy, stability_kl
from .metrics import Evaluation, evaluate_utterances
from .models import build_model, count_parameters, has_batch_norm
from .scaling import Scaler, fit_scaler, fit_speaker_scaler
from .store import FeatureStore
from .transforms import RandomState, TrainBatch, make_transforms, one_hot

#: Progress bars show the running loss every this many batches (each read waits for the GPU).
POSTFIX_EVERY = 10


def resolve_device(device: str = "auto", gpu: int | None = None) -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU. The thesis's ``--gpu 1`` asks for
    CUDA and falls back to the CPU with a warning when there is none."""
    if gpu is not None:
        if gpu and not torch.cuda.is_available():
            warnings.warn("--gpu 1: no CUDA device here, training on the CPU", stacklevel=2)
        device = "cuda" if gpu and torch.cuda.is_available() else "cpu"
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise SerlibError("--device cuda: no CUDA device is available")
    if device == "mps" and not torch.backends.mps.is_available():
        raise SerlibError("--device mps: Apple's MPS is not available")
    if device not in ("cpu", "cuda", "mps"):
        raise SerlibError(f"--device must be auto, cpu, cuda or mps, not {device!r}")
    return torch.device(device)


def amp_dtype(device: torch.device, amp: bool | None) -> torch.dtype | None:
    """The autocast dtype: bf16 on CUDA cards and CPUs that have it natively, fp16 on other
    CUDA cards; None (full precision) when switched off or not worth it."""
    if amp is False:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and torch.cpu._is_avx512_bf16_supported():
        return torch.bfloat16
    if amp:
        warnings.warn(f"--amp: no fast low precision on {device}; training in float32",
                      stacklevel=2)
    return None


@dataclass
class Split:
    """One set of a fold, compact: uint8 segments ``(N, C, F, T)`` and their labels."""

    x: np.ndarray
    seg_labels: np.ndarray
    utt_labels: np.ndarray
    num_segs: np.ndarray
    noisy: np.ndarray | None = None  # (K, N, C, F, T) uint8


def make_splits(store: FeatureStore, train_ids: list[str], val_ids: list[str],
                test_ids: list[str], with_noisy: bool, by_speaker: bool = False
                ) -> tuple[Split, Split | None, Split, Scaler]:
    """Fit the scaler on the training speakers only, then scale every set to uint8
    (no validation split when ``val_ids`` is empty). ``by_speaker``: every speaker is
    scaled by their own statistics instead (:func:`~serlib.scaling.fit_speaker_scaler`), and
    each noisy copy of a speaker by that copy's statistics, as noisy speech is scaled at
    test; the training speakers' scaler is still returned, for the checkpoint."""
    scaler = fit_scaler(store[s].segments for s in train_ids)
    own = {s: fit_speaker_scaler(store[s].segments)
           for s in [*train_ids, *val_ids, *test_ids]} if by_speaker else {}

    def twin_scaler(s: str, copy: np.ndarray) -> Scaler:
        # A speaker-normalised model meets noisy speech scaled by the noisy recordings' own
        # statistics (accuracy_vs_snr, prediction): its noisy twins are scaled the same way,
        # or stability training would teach agreement under a scaling never used at test.
        return fit_speaker_scaler(copy) if by_speaker else scaler

    def split(ids: list[str], noisy: bool) -> Split:
        parts = [store[s] for s in ids]
        twins = None
        if noisy:  # (K, N, C, F, T): each copy of each speaker scaled on its own, in chunks
            twins = np.concatenate([np.stack([twin_scaler(s, copy).transform(copy)
                                              for copy in store.noisy[s]]) for s in ids], axis=1)
        return Split(np.concatenate([own.get(s, scaler).transform(p.segments)
                                     for s, p in zip(ids, parts, strict=True)]),
                     np.concatenate([p.seg_labels for p in parts]),
                     np.concatenate([p.utt_labels for p in parts]),
                     np.concatenate([p.num_segs for p in parts]), twins)

    val = split(val_ids, False) if val_ids else None
    return split(train_ids, with_noisy), val, split(test_ids, False), scaler


def keep_resident(device: torch.device, nbytes: int, setting: bool | None) -> bool:
    """Whether the uint8 training set (``nbytes``) should live on ``device`` for the whole
    fold: as asked, or by default on an accelerator when it takes under half the free
    memory (an IEMOCAP fold's training set is about 0.5 GB)."""
    if setting is not None:
        return setting
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return nbytes < free // 2
    return device.type == "mps" and nbytes < 2 * 2**30


class Batches:
    """A split's uint8 segments ``(N, C, F, T)`` (and twins ``(K, N, C, F, T)``) with their
    labels, served batch by batch as tensors on the training device.

    Resident: segments and labels are copied to the device once, each epoch's batch
    indices once per epoch, and batches are gathered there, so a training step copies
    nothing from the host (a copy from ordinary host memory would make the host wait for
    the GPU). Otherwise each batch is gathered on the host, pinned when the device is a
    GPU, and copied without blocking so the copy overlaps the previous step's compute.
    """

    def __init__(self, split: Split, device: torch.device, resident: bool) -> None:
        self.device, self.resident = device, resident
        self.pin = device.type == "cuda" and not resident
        self._x = torch.from_numpy(split.x).to(device) if resident else split.x
        self._y = torch.from_numpy(split.seg_labels).to(device) if resident else \
            split.seg_labels
        noisy = split.noisy
        self._noisy = torch.from_numpy(noisy).to(device) if resident and noisy is not None \
            else noisy
        self._batches: list[np.ndarray] = []

    def _send(self, batch: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(batch)  # a fancy-indexed copy: contiguous already
        return x.pin_memory().to(self.device, non_blocking=True) if self.pin else \
            x.to(self.device)

    def start_epoch(self, batches: list[np.ndarray]) -> None:
        """The epoch's batches, as arrays of segment indices (one copy to the device)."""
        self._batches = batches
        self._bounds = np.cumsum([0, *map(len, batches)])
        if self.resident:
            self._idx = torch.from_numpy(np.concatenate(batches)).to(self.device)

    def __len__(self) -> int:
        """The number of batches of the epoch."""
        return len(self._batches)

    def _index(self, k: int) -> torch.Tensor:
        return self._idx[self._bounds[k]:self._bounds[k + 1]]

    def get(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``k``: segments ``(B, C, F, T)`` uint8 and labels ``(B,)`` on the device."""
        if self.resident:
            idx = self._index(k)
            return self._x[idx], self._y[idx]
        idx = self._batches[k]
        return self._send(self._x[idx]), self._send(self._y[idx])

    def noisy(self, copy: np.ndarray, k: int) -> torch.Tensor:
        """Twin ``copy[i]`` of the ``i``-th segment of batch ``k``: ``(B, C, F, T)`` uint8."""
        if self.resident:
            return self._noisy[torch.from_numpy(copy).to(self.device), self._index(k)]
        return self._send(self._noisy[copy, self._batches[k]])


def _ids(ids: str | Sequence[str] | None) -> list[str]:
    if ids is None:
        return []
    return [ids] if isinstance(ids, str) else list(ids)


def check_speakers(store: FeatureStore, val_ids: str | Sequence[str] | None,
                   test_ids: str | Sequence[str]) -> list[str]:
    """The training speakers: every speaker but the validation and test speakers, which
    must exist and differ."""
    speakers = sorted(store)
    val_ids, test_ids = _ids(val_ids), _ids(test_ids)
    if not test_ids:
        raise SerlibError("no test speaker given")
    for name, ids in (("--val_id", val_ids), ("--test_id", test_ids)):
        for spk in ids:
            if spk not in store:
                raise SerlibError(f"{name} {spk!r} is not a speaker of {store.path}; "
                                  f"speakers: {', '.join(speakers)}")
    both = set(val_ids) & set(test_ids)
    if both:
        raise SerlibError(f"--val_id and --test_id are both {', '.join(sorted(both))!r}: the "
                          "validation and test speakers must differ")
    train = [s for s in speakers if s not in val_ids and s not in test_ids]
    if not train:
        raise SerlibError(f"{store.path}: no speaker is left for training")
    return train


@dataclass
class Network:
    """A fold's model with everything a step needs: how segments become images on the
    device, the forward pass (autocast where asked), the optimizer, and the loss's class
    weights ``(K,)`` (None: unweighted)."""

    model: torch.nn.Module
    num_classes: int
    net: torch.nn.Module            # the model, or its torch.compile'd wrapper
    optimizer: torch.optim.Optimizer
    device: torch.device
    config: TrainConfig
    low_precision: torch.dtype | None = None
    amp_scaler: torch.amp.GradScaler | None = None
    class_weights: torch.Tensor | None = None

    def images(self, segments: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (or [0, 255] float) segments ``(B, C, F, T)`` -> images ``(B, 3, H, W)``."""
        x = segments if isinstance(segments, torch.Tensor) else \
            torch.from_numpy(segments).to(self.device)
        memory_format = torch.channels_last if self.config.channels_last else \
            torch.contiguous_format
        return to_images(x, self.config.image_size).contiguous(memory_format=memory_format)

    def to_images(self, batch: TrainBatch) -> None:
        """Turn a batch (and its twin) from segments into images, in place."""
        batch.x = self.images(batch.x)
        if batch.twin is not None:
            batch.twin = self.images(batch.twin)
        batch.stage = "images"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, 3, H, W)`` -> logits ``(B, K)``."""
        with torch.autocast(self.device.type, dtype=self.low_precision or torch.float32,
                            enabled=self.low_precision is not None):
            return self.net(x)


def make_network(config: TrainConfig, num_classes: int, device: torch.device,
                 class_weights: torch.Tensor | None = None) -> Network:
    """Build the model, put it on ``device`` and give it an AdamW optimizer."""
    model = build_model(config.ser_model, num_classes, in_channels=3,
                        pretrained=config.pretrained, weights=config.weights).to(device)
    model = model.to(memory_format=torch.channels_last if config.channels_last
                     else torch.contiguous_format)
    net = torch.compile(model) if config.compile else model  # shares model's parameters
    # The fused kernel updates every parameter in one pass instead of a chain of tensor ops:
    # for AlexNet's 57 M parameters on a 2-core CPU, a step takes about 0.09 s instead of 0.7.
    fused = config.fused and device.type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay, fused=fused or None)
    low_precision = amp_dtype(device, config.amp)
    amp_scaler = torch.amp.GradScaler("cuda") if low_precision == torch.float16 else None
    return Network(model, num_classes, net, optimizer, device, config, low_precision,
                   amp_scaler, class_weights)


def train_step(network: Network, batch: TrainBatch) -> torch.Tensor:
    """One optimizer step on a batch of images; returns the batch's loss (on the device):
    cross-entropy against the (soft) targets, plus the stability term where a twin is
    given."""
    logits = network.forward(batch.x)
    loss = soft_cross_entropy(logits, batch.targets, network.class_weights)
    if batch.twin is not None:
        loss = loss + network.config.stability_alpha * stability_kl(
            logits, network.forward(batch.twin))
    network.optimizer.zero_grad(set_to_none=True)
    if network.amp_scaler is not None:
        network.amp_scaler.scale(loss).backward()
        network.amp_scaler.step(network.optimizer)
        network.amp_scaler.update()
    else:
        loss.backward()
        network.optimizer.step()
    return loss.detach()


def epoch_batches(order: np.ndarray, batch_size: int, rng: np.random.Generator,
                  min_batch: int = 1) -> list[np.ndarray]:
    """One epoch's batches of segment indices, shuffled; a last batch smaller than
    ``min_batch`` joins the one before (BatchNorm cannot train on a batch of one)."""
    perm = order[rng.permutation(len(order))]
    batches = [np.sort(perm[start:start + batch_size])
               for start in range(0, len(perm), batch_size)]
    if len(batches) > 1 and len(batches[-1]) < min_batch:
        batches[-2] = np.sort(np.concatenate(batches[-2:]))
        batches.pop()
    return batches


def train_one_epoch(network: Network, batches: Batches, order: np.ndarray, transforms: list,
                    state: RandomState, num_copies: int, epoch: int,
                    progress: bool = True) -> float:
    """Train on every segment of ``order`` once (in shuffled batches, through the batch
    transforms); returns the mean training loss."""
    config, num_classes = network.config, network.num_classes
    network.model.train()
    min_batch = 2 if has_batch_norm(network.model) else 1
    batches.start_epoch(epoch_batches(order, config.batch_size, state.rng, min_batch))
    # The running loss stays on the device: reading it every batch would make the host
    # wait for the GPU each time; the progress bar reads it every POSTFIX_EVERY batches.
    total, seen = torch.zeros((), device=network.device), 0
    bar = tqdm(range(len(batches)), desc=f"epoch {epoch}", leave=False, unit="batch",
               disable=not progress)
    for k in bar:
        x, y = batches.get(k)
        batch = TrainBatch(x, y, one_hot(y, num_classes),
                           noisy=lambda copy, k=k: batches.noisy(copy, k))
        for transform in transforms:
            if transform.stage == "images" and batch.stage == "segments":
                network.to_images(batch)
            batch = transform(batch, num_copies)
        if batch.stage == "segments":
            network.to_images(batch)
        total += train_step(network, batch).float() * len(y)
        seen += len(y)
        if progress and k % POSTFIX_EVERY == 0:
            bar.set_postfix(loss=f"{float(total) / seen:.4f}")
    return float(total) / seen


def train_fold(store: FeatureStore, config: TrainConfig, val_id: str | Sequence[str] | None,
               test_id: str | Sequence[str], *, gpu: int | None = None, progress: bool = True,
               log=print, log_dir: str | os.PathLike | None = None,
               on_best: Callable[[FoldResult], None] | None = None) -> FoldResult:
    """Train on every speaker but the validation and test speakers (one id or several);
    keep the best epoch on validation (the last one when there is no validation
    speaker); evaluate it on the test speakers. With ``log_dir`` (and
    ``config.tensorboard``), every epoch's scalars go there for TensorBoard.

    ``on_best(result)`` is called whenever an epoch becomes the best so far, with that
    epoch's weights and validation scores (``result.test`` is None: the test speakers are
    evaluated once, at the end); ``serlib train`` saves each as the checkpoint, so that an
    interrupted training keeps its best epoch."""
    if config.ser_model in BASELINES:
        raise SerlibError(f"--ser_model {config.ser_model} is a baseline, with no network to "
                          "train or save: run it with 'serlib cv'")
    val_ids, test_ids = _ids(val_id), _ids(test_id)
    train_ids = check_speakers(store, val_ids, test_ids)
    device = resolve_device(config.device, gpu)
    torch.manual_seed(config.seed)
    state = RandomState.from_seed(config.seed)
    source = stability_source(config, bool(store.noisy))
    if config.stability and source == "noisy" and not store.noisy:
        raise SerlibError(f"{store.path} has no noisy copies: extract with --mixnoise, or use "
                          "--stability_source gaussian")
    use_twins = reads_noisy_copies(config, bool(store.noisy))
    train, val, test, scaler = make_splits(store, train_ids, val_ids, test_ids, use_twins,
                                           by_speaker=config.scaler == "speaker")
    order = oversample(train.seg_labels, state.rng) if config.oversampling \
        else np.arange(len(train.x))
    num_classes = len(store.classes)
    weights = torch.from_numpy(class_weights(train.seg_labels[order], num_classes)).to(device) \
        if config.class_weight == "balanced" else None
    network = make_network(config, num_classes, device, weights)
    transforms = make_transforms(config, state, source)
    num_copies = train.noisy.shape[0] if train.noisy is not None else 0

    nbytes = train.x.nbytes + (train.noisy.nbytes if train.noisy is not None else 0)
    batches = Batches(train, device, keep_resident(device, nbytes, config.resident))
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_wa": [],
                                       "val_ua": []}
    best = (-1.0, 0, None, None)
    board = EpochLog(log_dir if config.tensorboard else None)
    try:  # an interrupt (Ctrl-C) still closes the TensorBoard writer cleanly
        for epoch in range(1, config.num_epochs + 1):
            train_loss = train_one_epoch(network, batches, order, transforms, state, num_copies,
                                         epoch, progress)
            history["train_loss"].append(train_loss)
            line = f"epoch {epoch:3d}/{config.num_epochs}: train loss {train_loss:.4f}"
            if val is not None:
                ev = evaluate(network.model, val, num_classes, network.images, network.forward,
                              config.batch_size)
                for key, value in (("val_loss", ev.loss), ("val_wa", ev.wa), ("val_ua", ev.ua)):
                    history[key].append(value)
                line += f"  val loss {ev.loss:.4f}  val WA {ev.wa:.3f}  UA {ev.ua:.3f}"
                score = {"wa": ev.wa, "ua": ev.ua, "last": float(epoch)}[config.select_by]
            else:  # no validation speaker: the last epoch is kept
                ev, score = None, float(epoch)
            log(line)
            board.epoch(epoch, {"loss/train": train_loss,
                                "lr": network.optimizer.param_groups[0]["lr"],
                                **({"loss/validation": ev.loss, "accuracy/validation WA": ev.wa,
                                    "accuracy/validation UA": ev.ua} if ev else {})})
            if score > best[0]:
                state_dict = {k: v.detach().to("cpu", copy=True)
                              for k, v in network.model.state_dict().items()}
                best = (score, epoch, state_dict, ev)
                if on_best is not None:
                    on_best(FoldResult(state_dict, config, store.config.to_dict(), store.classes,
                                       scaler, val_ids, test_ids, epoch, ev, None,
                                       count_parameters(network.model),
                                       {k: list(v) for k, v in history.items()}, nbytes, epoch))
    finally:
        board.close()
    _, best_epoch, state_dict, val_ev = best
    network.model.load_state_dict(state_dict)
    test_ev = evaluate(network.model, test, num_classes, network.images, network.forward,
                       config.batch_size)
    val_text = f"val WA {val_ev.wa:.3f} UA {val_ev.ua:.3f}; " if val_ev else ""
    log(f"best epoch {best_epoch}: {val_text}test ({', '.join(test_ids)}) "
        f"WA {test_ev.wa:.3f} UA {test_ev.ua:.3f}")
    return FoldResult(state_dict, config, store.config.to_dict(), store.classes, scaler,
                      val_ids, test_ids, best_epoch, val_ev, test_ev,
                      count_parameters(network.model), history, nbytes, config.num_epochs)


@torch.no_grad()
def evaluate(model: torch.nn.Module, split: Split, num_classes: int, images, forward,
             batch_size: int) -> Evaluation:
    """Segment log-probabilities in batches (never augmented), then utterance-level WA, UA
    and confusion."""
    model.eval()
    outs = []
    for start in range(0, len(split.x), batch_size):
        outs.append(F.log_softmax(forward(images(split.x[start:start + batch_size])).float(),
                                  dim=1))
    log_probs = torch.cat(outs).cpu()  # one copy back, not one per batch
    loss = float(F.nll_loss(log_probs, torch.from_numpy(split.seg_labels)))
    return evaluate_utterances(log_probs.numpy(), split.num_segs, split.utt_labels, num_classes,
                               loss)
