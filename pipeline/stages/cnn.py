"""Stage ``cnn <arch>``: train one CNN on the ingested faces and score it like the classical models.

Reads ``data/ingested/{train,dev,test}.feather`` (plus ``data/augmented/<mode>.feather`` when the
architecture's ``augmentation`` names a mode). Writes, for model ``cnn_<arch>``:

- ``artifacts/models/cnn_<arch>/model.pt`` (weights chosen on dev, or fine-tuned on train + dev
  from them), ``train.json`` and ``model_card.json`` (what ``ferbench predict`` needs, with the
  saved weights' 10-crop dev score); while training, ``checkpoint.pt`` to resume an interrupted
  run;
- ``metrics/models/cnn_<arch>.json`` in the classical models' format, ``test`` holding the 10-crop
  scores and ``test_center_crop`` the centre-crop ones (each with ``clean``: the test images
  without a copy in train + dev, from ``data/duplicates/``), ``external`` the 10-crop scores on each
  external test set (``data/external/``);
- ``results/plots/cnn/<arch>_history.csv`` (per-epoch train / dev loss and accuracy) and
  ``results/plots/confusion/cnn_<arch>.csv`` (10-crop predictions);
- the stacking ensemble's inputs (:mod:`models.member_scores`): 10-crop softmax scores on dev of
  the dev-chosen weights, before any fine-tune on dev (``artifacts/models/cnn_<arch>/
  dev_scores.npz``), and on test of the saved weights (``artifacts/scores/cnn_<arch>/test.npz``).
"""

from __future__ import annotations

import os

from models.openmp import openmp_wait_settings

# Read by torch's OpenMP runtime when torch loads, so it must come before the imports below: idle
# threads spin briefly, then sleep. On 2 cores shared with other jobs, libgomp's default long spin
# made 2-thread Mini-Xception training 4-7x slower than 1 thread. A user's value wins.
os.environ.update(openmp_wait_settings())

import copy
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fer_data.atomic import atomic_path
from fer_data.duplicates import clean_mask
from fer_data.errors import DataError
from fer_data.faces import FaceTable
from fer_data.logs import get_logger, log_wrote, stage
from fer_data.records import DataSource
from models.cnn.checkpoint import fingerprint
from models.cnn.data import Normalizer, Split, class_weights, read_split, training_table
from models.cnn.device import Runtime, resolve_runtime
from models.cnn.infer import predict_logits
from models.cnn.loop import FitResult, fit
from models.cnn.names import ARCHITECTURES, model_name
from models.cnn.nets import build_net, count_parameters
from models.cnn.recipe import Recipe
from models.cnn.targets import scheme_targets
from models.devscore import dev_scores
from models.member_scores import ClassScores, save_scores
from models.metrics import score_predictions
from models.records import CnnSpec, CnnTrainRecord, DevScores, KFoldScores, ModelMetrics
from pipeline import paths
from pipeline.cards import write_cnn_card
from pipeline.external_scoring import cnn_external
from pipeline.params import CnnArchParams, Params
from pipeline.runner import run_stage
from pipeline.scale import Scale, count_rows, data_scale
from reports.predictions import write_predictions


def write_history(arch: str, history: list[dict]) -> None:
    path = paths.cnn_history(arch)
    with atomic_path(path) as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)
    log_wrote(path, f"{len(history)} epochs")


def save_model(path: Path, net: torch.nn.Module, arch: str, crop: int, norm: Normalizer) -> int:
    state = {k: v.cpu() for k, v in net.state_dict().items()}
    payload = {"arch": arch, "crop": crop, "mean": norm.mean, "std": norm.std, "state_dict": state}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    log_wrote(path)
    return path.stat().st_size


def _with_targets(
    tables: dict[str, FaceTable], scheme: str, device: torch.device, where: str
) -> tuple[dict[str, FaceTable], dict[str, Split], dict[str, dict[str, int]]]:
    """Train and dev with ``scheme``'s targets (rows it drops left out, counted); test as is."""
    if scheme != "majority" and tables["train"].votes is None:
        raise DataError(
            f"{where}.targets: {scheme} needs FER+ votes, but {paths.ingested('train')} has "
            f"{tables['train'].label_source} labels; set data.labels: ferplus and rerun ingest"
        )
    splits, dropped = {}, {}
    for name in ("train", "dev"):
        table = tables[name]
        made = scheme_targets(table.votes, len(table), scheme)
        if not made.keep.all():
            table = table.take(made.keep)
            get_logger().warning(
                "cnn: targets %s leave out %d %s rows: %s",
                scheme,
                int((~made.keep).sum()),
                name,
                made.dropped,
            )
        targets = None if made.targets is None else made.targets[made.keep]
        tables = {**tables, name: table}
        splits[name] = Split.from_table(table, device, targets)
        dropped[name] = made.dropped
    splits["test"] = Split.from_table(tables["test"], device)
    return tables, splits, dropped


@dataclass(frozen=True)
class StageData:
    tables: dict[str, FaceTable]  # train (plus augmented copies), dev, test
    train: Split
    dev: Split
    test: Split
    norm: Normalizer
    dropped: dict[str, dict[str, int]]  # rows the training targets' scheme left out, per reason

    @classmethod
    def load(
        cls, augmentation: str, device: torch.device, scheme: str = "majority", where: str = "cnn"
    ) -> StageData:
        augmented = None if augmentation == "none" else paths.augmented(augmentation)
        tables = {
            "train": training_table(paths.ingested("train"), augmented),
            "dev": read_split(paths.ingested("dev"), "dev"),
            "test": read_split(paths.ingested("test"), "test"),
        }
        tables, splits, dropped = _with_targets(tables, scheme, device, where)
        return cls(tables, **splits, norm=Normalizer.fit(tables["train"].images), dropped=dropped)

    @property
    def classes(self) -> tuple[str, ...]:
        """The label space of the ingested faces (7 FER2013 or 8 FER+ classes)."""
        return self.tables["train"].classes

    def fingerprint(self, settings: dict) -> str:
        """Settings plus the exact training and dev rows: a checkpoint resumes only on a match."""
        train, dev = self.tables["train"], self.tables["dev"]
        return fingerprint(
            settings,
            train.row_id,
            train.aug_index,
            train.emotion,
            train.images,
            dev.row_id,
            dev.images,
        )


def timed_predictions(
    net: torch.nn.Module, data: StageData, crop: int, runtime: Runtime, batch: int, ten: bool
) -> tuple[np.ndarray, float, np.ndarray]:
    """Test predictions, milliseconds per image (timed after one warm-up batch) and the softmax
    probabilities float32 (n, n_classes)."""
    images = data.test.images
    warm_up = images[
        : max(1, batch // 10) if ten else batch
    ]  # one batch, as predict_logits cuts it
    predict_logits(net, warm_up, crop, data.norm, runtime, batch, ten)
    runtime.synchronize()
    start = time.perf_counter()
    logits = predict_logits(net, images, crop, data.norm, runtime, batch, ten)
    ms = 1000 * (time.perf_counter() - start) / max(len(images), 1)
    probabilities = torch.softmax(logits.float(), dim=1).numpy().astype(np.float32)
    return logits.argmax(dim=1).numpy().astype(np.int64), round(ms, 4), probabilities


def ten_crop_labels(
    net: torch.nn.Module,
    faces: np.ndarray,
    crop: int,
    norm: Normalizer,
    runtime: Runtime,
    batch: int,
) -> np.ndarray:
    """Class codes int64 (n,) of uint8 (n, 48, 48) faces, as the test split is predicted."""
    images = torch.from_numpy(np.ascontiguousarray(faces).copy()).to(runtime.device)
    logits = predict_logits(net, images, crop, norm, runtime, batch, True)
    return logits.argmax(dim=1).numpy().astype(np.int64)


def recipe_settings(params: Params, arch: str) -> tuple[dict, Scale]:
    """``cnn.<arch>`` with its epochs scaled to the training split (:mod:`pipeline.scale`)."""
    cfg = getattr(params.cnn, arch)
    scale = data_scale(params.scale, count_rows(paths.ingested("train")))
    settings = cfg.model_dump()
    for key in ("epochs", "finetune_epochs"):
        settings[key] = scale.count(f"cnn.{arch}.{key}", settings[key])
    return settings, scale


def train_net(
    params: Params, arch: str, data: StageData, runtime: Runtime, settings: dict
) -> tuple[torch.nn.Module, FitResult]:
    """Train ``arch`` with ``settings`` (:func:`recipe_settings`)."""
    cfg = getattr(params.cnn, arch)
    torch.manual_seed(params.seed)
    n_classes = len(data.classes)
    net = build_net(arch, n_classes, cfg.dropout)
    get_logger().info(
        "cnn %s: %d parameters on %s; %d train / %d dev / %d test images, %d + %d epochs",
        arch,
        count_parameters(net),
        runtime.describe(),
        len(data.train),
        len(data.dev),
        len(data.test),
        settings["epochs"],
        settings["finetune_epochs"],
    )
    labels = data.tables["train"].emotion.astype(np.int64)
    weights = class_weights(labels, n_classes) if cfg.class_weights == "balanced" else None
    # The precision is part of the run: a checkpoint from a float32 run must not resume in bf16.
    run_settings = {"arch": arch, "seed": params.seed, "cnn": settings, "bf16": runtime.bf16}
    key = data.fingerprint(run_settings)
    result = fit(
        net,
        Recipe.from_mapping(settings),
        data.train,
        data.dev,
        data.norm,
        runtime,
        seed=params.seed,
        checkpoint=paths.cnn_checkpoint(model_name(arch)),
        fingerprint=key,
        eval_batch_size=params.cnn.eval_batch_size,
        checkpoint_every_s=params.cnn.checkpoint_every_s,
        weights=weights,
    )
    return net, result


def dev_score(dev_probabilities: np.ndarray, data: StageData, finetune_epochs: int) -> DevScores:
    """The saved weights on dev, with the views ``ferbench predict`` uses by default (10-crop):
    ``dev_probabilities`` float32 (n_dev, n_classes), :func:`ten_crop_probabilities` of them.

    After a fine-tune on train + dev the weights have seen dev, and ``fitted_on`` says so.
    """
    y_pred = dev_probabilities.argmax(axis=1)
    fitted_on = "train (dev-chosen epoch)"
    if finetune_epochs:
        fitted_on += f", then fine-tuned on train + dev for {finetune_epochs} epochs"
    return DevScores(**dev_scores(data.dev.labels.cpu().numpy(), y_pred), fitted_on=fitted_on)


def ten_crop_probabilities(
    net: torch.nn.Module,
    images: torch.Tensor,
    cfg: CnnArchParams,
    data: StageData,
    runtime: Runtime,
    batch: int,
) -> np.ndarray:
    """Softmax of the 10-crop averaged logits, float32 (n, n_classes)."""
    logits = predict_logits(net, images, cfg.crop, data.norm, runtime, batch, True)
    return torch.softmax(logits.float(), dim=1).numpy().astype(np.float32)


def save_member_scores(
    name: str,
    net: torch.nn.Module,
    result: FitResult,
    data: StageData,
    cfg: CnnArchParams,
    runtime: Runtime,
    batch: int,
    test_scores: np.ndarray,
    dev_probabilities: np.ndarray,
) -> None:
    """The stacking ensemble's inputs: 10-crop softmax scores on dev and test of the dev-chosen
    weights, never fine-tuned on dev (``test_scores``, ``dev_probabilities``: the saved
    weights', the same weights without a fine-tune), so that the meta-learner is applied to the
    network it learnt from."""
    if result.dev_chosen_state is not None:
        chosen = copy.deepcopy(net)
        chosen.load_state_dict(result.dev_chosen_state)
        test_scores = ten_crop_probabilities(chosen, data.test.images, cfg, data, runtime, batch)
        dev_probabilities = ten_crop_probabilities(
            chosen, data.dev.images, cfg, data, runtime, batch
        )
    dev = data.tables["dev"]
    dev_scores_ = ClassScores(
        dev_probabilities,
        dev.row_id.astype(np.int64),
        dev.emotion.astype(np.int64),
        "probability",
        "train (dev-chosen epoch, 10-crop)",
    )
    log_wrote(save_scores(paths.dev_scores(name), dev_scores_), "per-class dev scores")
    test = data.tables["test"]
    test_scores_ = ClassScores(
        test_scores,
        test.row_id.astype(np.int64),
        test.emotion.astype(np.int64),
        "probability",
        dev_scores_.fitted_on,
    )
    paths.scores_dir(name).mkdir(parents=True, exist_ok=True)
    log_wrote(save_scores(paths.test_scores(name), test_scores_), "per-class test scores")


def run(params: Params, arch: str) -> ModelMetrics:
    cfg, name = getattr(params.cnn, arch), model_name(arch)
    runtime = resolve_runtime(
        params.cnn.device, params.cnn.threads, params.cnn.bf16, params.cnn.channels_last
    )
    paths.model_dir(name).mkdir(parents=True, exist_ok=True)
    paths.model_card(name).unlink(missing_ok=True)  # a card names a finished model
    settings, scale = recipe_settings(params, arch)
    get_logger().info("cnn %s: %s", arch, scale.describe())
    data = StageData.load(cfg.augmentation, runtime.device, cfg.targets, f"cnn.{arch}")
    # Test rows without a copy in train + dev; read before training: a stale table fails at once.
    clean = clean_mask(paths.DUPLICATES_TABLE, data.tables["test"].row_id)
    net, result = train_net(params, arch, data, runtime, settings)
    model_bytes = save_model(paths.cnn_weights(name), net, arch, cfg.crop, data.norm)
    write_history(arch, result.history)

    test = data.tables["test"]
    y_true, usage = test.emotion.astype(np.int64), test.usage.astype(str)
    batch = params.cnn.eval_batch_size
    ten_pred, ten_ms, ten_scores = timed_predictions(net, data, cfg.crop, runtime, batch, True)
    center_pred, center_ms, _ = timed_predictions(net, data, cfg.crop, runtime, batch, False)
    dev_probabilities = ten_crop_probabilities(net, data.dev.images, cfg, data, runtime, batch)
    save_member_scores(name, net, result, data, cfg, runtime, batch, ten_scores, dev_probabilities)
    described = {
        "arch": arch,
        **settings,
        "n_parameters": count_parameters(net),
        "device": runtime.describe(),
        "label_source": data.tables["train"].label_source,
        "targets_dropped": data.dropped,
    }
    classes = list(data.classes)
    n_boot, seed = params.evaluate.n_boot, params.seed
    metrics = ModelMetrics(
        data=DataSource.read(paths.SOURCE_FILE),
        model=name,
        feature_set="pixels",
        augmentation=cfg.augmentation,
        params=described,
        fit_seconds=round(result.seconds, 3),
        model_bytes=model_bytes,
        predict_ms_per_image=ten_ms,
        test=score_predictions(y_true, ten_pred, usage, n_boot, seed, classes, clean=clean),
        test_center_crop=score_predictions(
            y_true, center_pred, usage, n_boot, seed, classes, clean=clean
        ),
        status="ok",
    )
    if params.evaluate.protocol == "kfold":  # k networks: k times the budget (README, k-fold)
        metrics.kfold = KFoldScores(status="skipped", reason="not run (CNN)")
    path = write_predictions(paths.confusion(name), y_true, ten_pred, classes)
    log_wrote(path, f"{len(y_true)} predictions")
    record = CnnTrainRecord(
        model=name,
        status="ok",
        params=described,
        fit_seconds=metrics.fit_seconds,
        model_bytes=model_bytes,
        train_rows=len(data.train),
        epochs_run=len(result.history),
        resumed_at_epoch=result.resumed_at,
        best_epoch=result.best_epoch,
        best_dev_accuracy=result.best_dev_accuracy,
        predict_ms_per_image={"ten_crop": ten_ms, "center_crop": center_ms},
        dev=dev_score(dev_probabilities, data, settings["finetune_epochs"]),
        scale=scale.record(),
    )
    log_wrote(record.write(paths.train_record(name)))
    spec = CnnSpec(
        arch=arch,
        crop=cfg.crop,
        mean=data.norm.mean,
        std=data.norm.std,
        dropout=cfg.dropout,
        views="ten_crop",
    )
    write_cnn_card(name, spec, described, cfg.augmentation, len(data.train), record.dev)
    # The 10-crop test path on every external set (after the card: it holds the classes).
    external = cnn_external(
        name,
        lambda faces: ten_crop_labels(net, faces, cfg.crop, data.norm, runtime, batch),
        n_boot,
        seed,
    )
    if external:
        metrics.external = external
    log_wrote(metrics.write(paths.metrics(name)))
    # Done: a later run with the same settings must retrain, not resume.
    paths.cnn_checkpoint(name).unlink(missing_ok=True)
    return metrics


def main(params: Params, arch: str) -> None:
    with stage(f"cnn {arch}") as log:
        metrics = run(params, arch)
        for label, scores in (("10-crop", metrics.test), ("centre crop", metrics.test_center_crop)):
            public, private = (
                s.accuracy if s else float("nan") for s in (scores.public, scores.private)
            )
            log.info(
                "cnn %s %s: test accuracy %.4f (95%% CI %s), PublicTest %.4f, PrivateTest %.4f, "
                "macro-F1 %.4f",
                arch,
                label,
                scores.all.accuracy,
                scores.all.accuracy_ci95,
                public,
                private,
                scores.all.macro_f1,
            )


def cli(argv: list[str] | None = None) -> int:
    return run_stage("cnn", main, argv, "a CNN architecture (cnn.archs)", ARCHITECTURES)


if __name__ == "__main__":
    sys.exit(cli())
