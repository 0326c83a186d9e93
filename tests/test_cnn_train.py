"""The training loop on a small real sample: the loss falls; an interrupted run resumes exactly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight

from fer_data.faces import FaceTable
from models.cnn import device
from models.cnn.checkpoint import fingerprint
from models.cnn.crops import random_zoom
from models.cnn.data import Normalizer, Split, class_weights
from models.cnn.device import resolve_runtime
from models.cnn.infer import predict_logits
from models.cnn.loop import FitResult, batch_starts, cosine_lr, fit
from models.cnn.nets import build_net
from models.cnn.recipe import Recipe
from pipeline.params import ParamsError
from tests.stage_helpers import repo_params

CFG = Recipe.from_mapping(
    repo_params().cnn.mini_xception.model_dump()
    | {"epochs": 2, "batch_size": 64, "lr": 0.02, "crop": 32}
)


class StopTrainingError(Exception):
    pass


@pytest.fixture(scope="module")
def splits(real_faces) -> tuple[Split, Split, Normalizer]:
    images, labels = real_faces
    n_dev, n_train = 150, 700  # small enough for CI: ~1 s an epoch
    table = FaceTable(
        np.arange(len(labels)), labels.astype(np.int8), np.full(len(labels), "Training"), images
    )
    train, dev = table.take(np.arange(n_dev, n_dev + n_train)), table.take(np.arange(n_dev))
    cpu = torch.device("cpu")
    return Split.from_table(train, cpu), Split.from_table(dev, cpu), Normalizer.fit(train.images)


def _fit(
    splits, checkpoint: Path, cfg: Recipe = CFG, on_epoch=None, arch: str = "mini_xception"
) -> tuple[torch.nn.Module, FitResult]:
    train, dev, norm = splits
    runtime = resolve_runtime("cpu", threads=1, bf16=False, channels_last=True)
    torch.manual_seed(0)
    net = build_net(arch)
    key = fingerprint(dataclasses.asdict(cfg), train.labels.numpy())
    result = fit(
        net,
        cfg,
        train,
        dev,
        norm,
        runtime,
        seed=7,
        checkpoint=checkpoint,
        fingerprint=key,
        checkpoint_every_s=0.0,
        on_epoch=on_epoch,
    )
    return net, result


# LeNet-5 stands for the networks added beside Mini-Xception: as cheap, and without batch norm.
@pytest.mark.parametrize("arch", ["mini_xception", "lenet"])
def test_two_epochs_lower_the_training_loss(splits, tmp_path: Path, arch: str) -> None:
    _, result = _fit(splits, tmp_path / "ckpt.pt", arch=arch)
    first, second = result.history
    assert second["train_loss"] < first["train_loss"]
    assert [r["epoch"] for r in result.history] == [1, 2] and result.resumed_at == 0
    assert result.best_epoch in (1, 2) and 0.0 <= result.best_dev_accuracy <= 1.0
    assert second["lr"] == pytest.approx(
        CFG.lr_min, abs=1e-9
    )  # annealed to lr_min at the last step


@pytest.mark.parametrize("arch", ["mini_xception", "lenet"])
def test_resume_continues_at_the_next_epoch_and_matches_an_uninterrupted_run(
    splits, tmp_path: Path, arch: str
) -> None:
    straight, _ = _fit(splits, tmp_path / "straight.pt", arch=arch)

    def stop_after_first(record: dict) -> None:
        if record["epoch"] == 1:
            raise StopTrainingError

    checkpoint = tmp_path / "resumed.pt"
    with pytest.raises(StopTrainingError):
        _fit(splits, checkpoint, on_epoch=stop_after_first, arch=arch)
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1
    seen = []
    resumed, result = _fit(
        splits, checkpoint, on_epoch=lambda record: seen.append(record["epoch"]), arch=arch
    )
    assert result.resumed_at == 1 and seen == [2] and [r["epoch"] for r in result.history] == [1, 2]
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=0, msg=key)


def test_a_checkpoint_from_other_settings_is_ignored(splits, tmp_path: Path) -> None:
    checkpoint = tmp_path / "ckpt.pt"
    one_epoch = dataclasses.replace(CFG, **{"epochs": 1})
    _fit(splits, checkpoint, cfg=one_epoch)
    _, result = _fit(splits, checkpoint, cfg=dataclasses.replace(CFG, **{"epochs": 1, "lr": 0.03}))
    assert result.resumed_at == 0


def test_fine_tune_runs_after_the_main_phase_at_its_constant_rate(splits, tmp_path: Path) -> None:
    cfg = dataclasses.replace(CFG, **{"epochs": 1, "finetune_epochs": 1, "finetune_lr": 1e-3})
    _, result = _fit(splits, tmp_path / "ckpt.pt", cfg=cfg)
    assert [(r["epoch"], r["finetune"]) for r in result.history] == [(1, 0), (2, 1)]
    assert result.history[1]["lr"] == pytest.approx(1e-3) and result.best_epoch == 1


def test_schedule_and_batches() -> None:
    assert cosine_lr(0, 100, 0.01, 1e-5) == pytest.approx(0.01)
    assert cosine_lr(50, 101, 0.01, 1e-5) == pytest.approx((0.01 + 1e-5) / 2)
    assert cosine_lr(99, 100, 0.01, 1e-5) == pytest.approx(1e-5)  # the last step
    assert batch_starts(129, 64) == [0, 64]  # a last batch of one image is dropped (batch norm)
    assert batch_starts(130, 64) == [0, 64, 128]


def test_balanced_class_weights_match_scikit_learn(real_faces) -> None:
    labels = real_faces[1]
    expected = compute_class_weight("balanced", classes=np.arange(7), y=labels)
    np.testing.assert_allclose(class_weights(labels, 7).numpy(), expected, rtol=1e-6)


def test_the_cpu_runtime_trains_in_contiguous_format_whatever_channels_last_says() -> None:
    # Channels-last training crashed torch 2.13 on the CPU (models/cnn/device.py); CUDA keeps it.
    runtime = resolve_runtime("cpu", threads=1, bf16=True, channels_last=True)
    assert runtime.memory_format() == torch.contiguous_format


@pytest.mark.parametrize("native", [False, True])
def test_cpu_bf16_trains_only_where_native_and_never_scores(monkeypatch, native, real_faces):
    # Emulated bf16 is slower than float32, so a CPU without it trains in float32; scoring is
    # float32 everywhere, so the stage's predictions are the ones ferbench predict makes.
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: native)
    runtime = resolve_runtime("cpu", threads=1, bf16=True, channels_last=False)
    assert runtime.bf16 is native
    assert "bf16" in runtime.describe() if native else "bf16" not in runtime.describe()
    assert not resolve_runtime("cpu", threads=1, bf16=False, channels_last=False).bf16
    torch.manual_seed(0)
    net = build_net("vgg_small").eval()
    x = torch.randn(4, 1, 44, 44)
    with torch.inference_mode():
        with runtime.autocast():
            trained_in = net(x).dtype
        with runtime.inference_autocast():
            scored_in = net(x).dtype
    assert trained_in == (torch.bfloat16 if native else torch.float32)
    assert scored_in == torch.float32
    images = torch.from_numpy(real_faces[0][:8])
    norm = Normalizer.fit(real_faces[0][:8])
    fp32 = resolve_runtime("cpu", threads=1, bf16=False, channels_last=False)
    torch.testing.assert_close(
        predict_logits(net, images, 44, norm, runtime, ten_crops=True),
        predict_logits(net, images, 44, norm, fp32, ten_crops=True),
        rtol=0,
        atol=0,
    )


def test_cpu_runs_use_deterministic_algorithms() -> None:
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(False)
    try:
        resolve_runtime("cpu", threads=1, bf16=False, channels_last=False)
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(before)


def test_random_zoom_rescales_about_the_centre() -> None:
    """On a horizontal ramp a zoom by s scales the slope by s about the centre (bilinear is exact
    on a ramp); s = 1 leaves the image as it was."""
    ramp = torch.arange(48, dtype=torch.float32).repeat(48, 1)[None, None].repeat(3, 1, 1, 1)
    zoomed = random_zoom(ramp, torch.tensor([1.0, 0.9, 1.1]))
    torch.testing.assert_close(zoomed[0], ramp[0])
    centre = 23.5
    inner = slice(8, 40)  # away from the border, which 1.1 repeats
    for i, s in ((1, 0.9), (2, 1.1)):
        expected = centre + s * (torch.arange(48, dtype=torch.float32) - centre)
        torch.testing.assert_close(zoomed[i, 0, :, inner], expected[inner].expand(48, -1))


def test_scale_jitter_changes_training_and_stays_deterministic(splits, tmp_path: Path) -> None:
    """Off, it draws nothing (runs keep their random windows); on, it changes what the network
    sees, the same way in every run with the same seed."""
    cfg = dataclasses.replace(CFG, epochs=1)
    jittered = dataclasses.replace(cfg, scale_jitter=0.15)
    losses = [
        _fit(splits, tmp_path / f"{name}.pt", c)[1].history[0]["train_loss"]
        for name, c in (("off", cfg), ("on", jittered), ("on_again", jittered))
    ]
    assert losses[1] != losses[0]
    assert losses[1] == losses[2]
    with pytest.raises(ParamsError, match=r"cnn\.vgg_small\.scale_jitter"):
        repo_params({"cnn": {"vgg_small": {"scale_jitter": 0.5}}})
