"""The training loop: SGD with cosine annealing, checkpoint chosen on dev, optional fine-tune.

Every epoch's randomness (shuffle, crops, mirrors, dropout) is seeded from (seed, epoch) alone, so
a run resumed from a checkpoint repeats exactly what the uninterrupted run would have done (on the
CPU, bit for bit). Crops and mirrors are drawn on the CPU and cut on the training device.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from fer_data.logs import get_logger
from models.cnn.checkpoint import load_checkpoint, save_checkpoint
from models.cnn.crops import crop_views, random_windows, random_zoom
from models.cnn.data import Normalizer, Split
from models.cnn.device import Runtime
from models.cnn.infer import predict_logits
from models.cnn.recipe import Recipe
from models.cnn.targets import epoch_labels, target_loss


@dataclass
class FitResult:
    """What :func:`fit` returns: per-epoch history, the dev-chosen epoch and the training time."""

    history: list[dict[str, float]]
    best_epoch: int
    best_dev_accuracy: float
    seconds: float  # training wall time, summed over interrupted runs
    resumed_at: int  # epochs already done when this run started (0: a fresh run)
    # The dev-chosen weights when a fine-tune on train + dev followed (the net then holds the
    # fine-tuned ones): scores on dev from a fit that never saw dev. None without a fine-tune.
    dev_chosen_state: dict | None = None


def cosine_lr(step: int, total: int, high: float, low: float) -> float:
    """Cosine from ``high`` at step 0 to ``low`` at the last of ``total`` steps.

    Cosine annealing without restarts (Loshchilov & Hutter, "SGDR", ICLR 2017), per step; steps
    past the last stay at ``low``.

    Parameters
    ----------
    step : int
        0-based step.
    total : int
        Number of steps of the schedule.
    high, low : float
        Learning rates at the first and the last step.

    Returns
    -------
    float
        The learning rate.
    """
    return low + 0.5 * (high - low) * (1.0 + math.cos(math.pi * min(step / max(total - 1, 1), 1.0)))


def lr_schedule(cfg: Recipe, epoch: int, steps_per_epoch: int) -> Callable[[int], float]:
    """The learning rate at each step of ``epoch``: cosine over the main phase, then constant.

    Parameters
    ----------
    cfg : Recipe
        ``lr`` -> ``lr_min`` over ``epochs`` epochs, then ``finetune_lr``.
    epoch : int
        0-based epoch; epochs from ``cfg.epochs`` on are fine-tuning.
    steps_per_epoch : int
        Batches per main-phase epoch.

    Returns
    -------
    callable
        ``lr_at(step)`` for the 0-based step within the epoch.
    """
    if epoch >= cfg.epochs:
        return lambda _step: cfg.finetune_lr
    offset, total = epoch * steps_per_epoch, cfg.epochs * steps_per_epoch
    return lambda step: cosine_lr(offset + step, total, cfg.lr, cfg.lr_min)


def batch_starts(n: int, batch_size: int) -> list[int]:
    """Batch start offsets; a last batch of one image is dropped (batch norm needs two).

    Parameters
    ----------
    n : int
        Rows in the epoch.
    batch_size : int
        Rows per batch.

    Returns
    -------
    list of int
        ``0, batch_size, 2 * batch_size, ...`` (a lone first batch is kept even with one row).
    """
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] < 2:
        starts.pop()
    return starts


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of one epoch's shuffle, crops, mirrors and dropout: ``seed * 100003 + epoch``."""
    return seed * 100_003 + epoch


def make_optimizer(net: nn.Module, cfg: Recipe, lr: float, runtime: Runtime) -> torch.optim.SGD:
    """SGD over ``net``'s parameters with the recipe's momentum and weight decay.

    Nesterov momentum only when ``cfg.nesterov`` and the momentum is positive; the fused
    implementation on CUDA, torch's default otherwise.

    Parameters
    ----------
    net : torch.nn.Module
        Network to optimise.
    cfg : Recipe
        ``momentum``, ``nesterov``, ``weight_decay``.
    lr : float
        Initial learning rate (the loop sets it per step).
    runtime : Runtime
        Device of the parameters.

    Returns
    -------
    torch.optim.SGD
        The optimizer.
    """
    return torch.optim.SGD(
        net.parameters(),
        lr=lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        nesterov=cfg.nesterov and cfg.momentum > 0,
        fused=runtime.is_cuda or None,
    )


def train_epoch(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Split,
    cfg: Recipe,
    norm: Normalizer,
    runtime: Runtime,
    seed: int,
    lr_at: Callable[[int], float],
    weights: torch.Tensor | None,
) -> tuple[float, float]:
    """One pass over ``data`` in random order; returns (mean loss, accuracy) on the crops seen.

    Each image is seen once, as a random ``cfg.crop`` window (mirrored with probability 0.5 if
    ``cfg.flip``, zoomed by a random factor in ``1 +- cfg.scale_jitter`` if that is > 0:
    :func:`models.cnn.crops.random_zoom`); the loss is the one ``cfg.targets`` names
    (``models.cnn.targets.target_loss``: cross-entropy with ``cfg.label_smoothing`` on hard or
    soft targets, or multi-label BCE) with class ``weights``; ``probability`` draws each image's
    label for the epoch from its target distribution. Accuracy counts against ``data.labels``. A
    last batch of one image is skipped (see :func:`batch_starts`).

    Parameters
    ----------
    net : torch.nn.Module
        Trained in place (put in training mode).
    optimizer : torch.optim.Optimizer
        Its learning rate is set to ``lr_at(step)`` before each step.
    data : Split
        uint8 images (n, 48, 48), int64 labels (n,) and, for FER+ soft or multi-label training,
        float32 targets (n, k), on the runtime's device.
    cfg : Recipe
        Batch size, crop, flip, label smoothing and targets.
    norm : Normalizer
        Pixel standardisation.
    runtime : Runtime
        Device, autocast and memory format.
    seed : int
        Seeds the shuffle, windows and mirrors (a CPU generator) and torch's global RNG
        (dropout).
    lr_at : callable
        Learning rate of each 0-based step.
    weights : Tensor of shape (n_classes,), float32, or None
        Class weights of the loss, on the runtime's device.

    Returns
    -------
    loss, accuracy : float
        Mean training loss (nats per image) and accuracy (0-1) over the images seen.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout
    n = len(data)
    order = torch.randperm(n, generator=generator).to(runtime.device)
    top, left, flip = (
        t.to(runtime.device) for t in random_windows(n, cfg.crop, cfg.flip, generator)
    )
    # Drawn after the windows, and only when on: runs without it keep their draws.
    zoom = (
        (1.0 + cfg.scale_jitter * (2.0 * torch.rand(n, generator=generator) - 1.0)).to(
            runtime.device
        )
        if cfg.scale_jitter > 0
        else None
    )
    train_labels = epoch_labels(data, cfg.targets, seed)
    net.train()
    loss_sum = torch.zeros((), device=runtime.device)
    correct = torch.zeros((), dtype=torch.int64, device=runtime.device)
    seen = 0
    for step, start in enumerate(batch_starts(n, cfg.batch_size)):
        index = order[start : start + cfg.batch_size]
        crops = crop_views(data.images[index], top[index], left[index], cfg.crop, flip[index])
        labels = train_labels[index]
        targets = None if data.targets is None else data.targets[index]
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        inputs = norm(crops, runtime)
        if zoom is not None:
            inputs = random_zoom(inputs, zoom[index])
        with runtime.autocast():
            logits = net(inputs)
        loss = target_loss(
            logits.float(), labels, targets, cfg.targets, weights, cfg.label_smoothing
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(index)
        correct += (logits.detach().argmax(dim=1) == data.labels[index]).sum()
        seen += len(index)
    return float(loss_sum) / max(seen, 1), float(correct) / max(seen, 1)


def evaluate(
    net: nn.Module, data: Split, crop: int, norm: Normalizer, runtime: Runtime, batch_size: int
) -> tuple[float, float]:
    """(cross-entropy, accuracy) of the centre crops.

    Parameters
    ----------
    net : torch.nn.Module
        Evaluated in eval mode (its training flag is restored).
    data : Split
        uint8 images (n, 48, 48) and int64 labels (n,), n >= 1.
    crop : int
        Side in pixels of the centre crop.
    norm : Normalizer
        Pixel standardisation.
    runtime : Runtime
        Device, autocast and memory format.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    loss, accuracy : float
        Mean unweighted cross-entropy (nats) and accuracy (0-1).
    """
    logits = predict_logits(net, data.images, crop, norm, runtime, batch_size)
    labels = data.labels.cpu()
    return float(functional.cross_entropy(logits, labels)), float(
        (logits.argmax(dim=1) == labels).float().mean()
    )


def _state_dict_copy(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _start_or_resume(
    net: nn.Module, cfg: Recipe, runtime: Runtime, checkpoint: Path, fingerprint: str
) -> tuple[dict[str, Any], torch.optim.Optimizer]:
    """A fresh training state and optimizer, or the ones saved in ``checkpoint`` for this run."""
    optimizer = make_optimizer(net, cfg, cfg.lr, runtime)
    state: dict[str, Any] = {
        "fingerprint": fingerprint,
        "epoch": 0,
        "phase": "main",
        "best": {"epoch": 0, "dev_acc": -1.0, "state": _state_dict_copy(net)},
        "history": [],
        "seconds": 0.0,
    }
    saved = load_checkpoint(checkpoint, fingerprint, runtime.device)
    if saved is None:
        return state, optimizer
    net.load_state_dict(saved["net"])
    if saved["phase"] == "finetune":
        optimizer = make_optimizer(net, cfg, cfg.finetune_lr, runtime)
    optimizer.load_state_dict(saved["optimizer"])
    total = cfg.epochs + cfg.finetune_epochs
    get_logger().info("resuming from %s after epoch %d of %d", checkpoint, saved["epoch"], total)
    return saved, optimizer


def _log_epoch(record: dict[str, float], total_epochs: int) -> None:
    get_logger().info(
        "epoch %d/%d%s: train loss %.4f acc %.4f | dev loss %.4f acc %.4f | lr %.2e | %.1f s",
        record["epoch"],
        total_epochs,
        " (fine-tune, dev in training)" if record["finetune"] else "",
        record["train_loss"],
        record["train_acc"],
        record["dev_loss"],
        record["dev_acc"],
        record["lr"],
        record["seconds"],
    )


def fit(
    net: nn.Module,
    cfg: Recipe,
    train: Split,
    dev: Split,
    norm: Normalizer,
    runtime: Runtime,
    *,
    seed: int,
    checkpoint: Path,
    fingerprint: str,
    eval_batch_size: int = 160,
    checkpoint_every_s: float = 60.0,
    weights: torch.Tensor | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FitResult:
    """Train ``net`` in place; it ends with the weights chosen on dev (or fine-tuned from them).

    ``cfg.epochs`` epochs of SGD on ``train`` (random crops and mirrors, cosine learning rate per
    step), keeping the weights of the epoch with the best dev accuracy; then, if
    ``cfg.finetune_epochs``, that many epochs on train + dev from those weights at
    ``cfg.finetune_lr``. ``weights``: float32 (n_classes,) class weights of the loss, or None.
    Resumes from ``checkpoint`` when it holds a run with this ``fingerprint``, and saves there at
    most every ``checkpoint_every_s`` seconds and at the end of each phase.

    Parameters
    ----------
    net : torch.nn.Module
        Moved to the runtime's device and memory format, and trained in place.
    cfg : Recipe
        The training recipe.
    train, dev : Split
        uint8 images (n, 48, 48) and int64 labels on the runtime's device; dev picks the best
        main-phase epoch (centre-crop accuracy) and joins training when fine-tuning.
    norm : Normalizer
        Pixel standardisation.
    runtime : Runtime
        Device, autocast and memory format.
    seed : int
        Base seed; epoch e uses :func:`epoch_seed` (seed, e).
    checkpoint : pathlib.Path
        Resume file (read, and written atomically).
    fingerprint : str
        :func:`models.cnn.checkpoint.fingerprint` of the settings and data.
    eval_batch_size : int, default 160
        Images per forward pass on dev.
    checkpoint_every_s : float, default 60.0
        Least wall-clock seconds between two checkpoint writes within a phase.
    weights : Tensor of shape (n_classes,), float32, or None
        Class weights of the loss.
    on_epoch : callable, optional
        Called with each epoch's record after it is logged and checkpointed.

    Returns
    -------
    FitResult
        ``history``: one record per epoch (``epoch`` 1-based, ``finetune`` 0/1, ``lr``,
        ``train_loss``, ``train_acc``, ``dev_loss``, ``dev_acc``, ``seconds``), including the
        epochs of earlier interrupted runs; the best main-phase epoch (1-based, 0 if none ran)
        and its dev accuracy (-1.0 if none ran); training seconds over all runs; the epoch this
        run resumed at.

    Raises
    ------
    OSError
        If the checkpoint cannot be written.
    """
    net.to(runtime.device, memory_format=runtime.memory_format())
    weights = None if weights is None else weights.to(runtime.device)
    main_steps = len(batch_starts(len(train), cfg.batch_size))
    total_epochs = cfg.epochs + cfg.finetune_epochs
    state, optimizer = _start_or_resume(net, cfg, runtime, checkpoint, fingerprint)
    resumed_at = state["epoch"]
    train_dev = train.concat(dev) if cfg.finetune_epochs else train
    last_save = time.perf_counter()
    for epoch in range(state["epoch"], total_epochs):
        start = time.perf_counter()
        finetune = epoch >= cfg.epochs
        if finetune and state["phase"] == "main":
            # Fine-tune from the dev-chosen weights on train + dev at a constant small rate.
            net.load_state_dict(state["best"]["state"])
            optimizer = make_optimizer(net, cfg, cfg.finetune_lr, runtime)
            state["phase"] = "finetune"
        train_loss, train_acc = train_epoch(
            net,
            optimizer,
            train_dev if finetune else train,
            cfg,
            norm,
            runtime,
            epoch_seed(seed, epoch),
            lr_schedule(cfg, epoch, main_steps),
            weights,
        )
        dev_loss, dev_acc = evaluate(net, dev, cfg.crop, norm, runtime, eval_batch_size)
        if not finetune and dev_acc > state["best"]["dev_acc"]:
            state["best"] = {"epoch": epoch + 1, "dev_acc": dev_acc, "state": _state_dict_copy(net)}
        seconds = time.perf_counter() - start
        state["seconds"] += seconds
        record = {
            "epoch": epoch + 1,
            "finetune": int(finetune),
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": train_loss,
            "train_acc": train_acc,
            "dev_loss": dev_loss,
            "dev_acc": dev_acc,
            "seconds": round(seconds, 3),
        }
        state["history"].append(record)
        state["epoch"] = epoch + 1
        _log_epoch(record, total_epochs)
        phase_end = epoch + 1 in (cfg.epochs, total_epochs)
        if phase_end or time.perf_counter() - last_save >= checkpoint_every_s:
            state_to_save = {**state, "net": net.state_dict(), "optimizer": optimizer.state_dict()}
            save_checkpoint(checkpoint, state_to_save)
            last_save = time.perf_counter()
        if on_epoch is not None:
            on_epoch(record)

    if cfg.finetune_epochs == 0:
        net.load_state_dict(state["best"]["state"])
    best = state["best"]
    return FitResult(
        state["history"],
        best["epoch"],
        best["dev_acc"],
        state["seconds"],
        resumed_at,
        best["state"] if cfg.finetune_epochs else None,
    )
