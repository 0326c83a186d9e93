"""The `cnn` stage end to end on a real sample, its metrics format, and its parameter validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fer_data.faces import read_faces
from models.cnn.data import Normalizer
from models.cnn.device import Runtime
from models.cnn.infer import predict_logits
from models.cnn.names import ARCHITECTURES
from models.cnn.nets import build_net, count_parameters
from models.member_scores import load_scores
from models.metrics import score_predictions
from pipeline import paths
from pipeline.cli import main as cli_main
from pipeline.params import ParamsError
from pipeline.stages import cnn, ingest
from tests.stage_helpers import make_params, repo_params, stage_run, validated

# The top-level keys of the classical models' metrics files (pipeline/evaluate.py), plus the
# CNN's centre-crop scores.
CLASSICAL_KEYS = {
    "data",
    "model",
    "feature_set",
    "augmentation",
    "params",
    "fit_seconds",
    "model_bytes",
    "predict_ms_per_image",
    "test",
    "status",
}
HISTORY_COLUMNS = [
    "epoch",
    "finetune",
    "lr",
    "train_loss",
    "train_acc",
    "dev_loss",
    "dev_acc",
    "seconds",
]


# The default network, and LeNet-5 (cheap) for the others; Mini-Xception runs in the predict,
# report and FER+ tests.
@pytest.fixture(scope="module", params=["vgg_small", "lenet"])
def cnn_run(
    request: pytest.FixtureRequest,
    fer2013_sample_csv: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict, str]:
    arch = request.param
    workdir = tmp_path_factory.mktemp(f"cnn_stage_{arch}")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        overrides = {
            "data.path": str(fer2013_sample_csv),
            "evaluate.n_boot": 50,
            "cnn.threads": 1,
            f"cnn.{arch}.epochs": 2,
            f"cnn.{arch}.crop": 32,
            f"cnn.{arch}.finetune_epochs": 1,
            # k-fold is not run for a CNN: the LeNet run checks that its metrics say so.
            "evaluate.protocol": "kfold" if arch == "lenet" else "holdout",
        }
        params = make_params(workdir, overrides)
        stage_run(ingest, params)
        metrics = stage_run(cnn, params, arch)
    return workdir, metrics, arch


def test_metrics_match_the_classical_format(cnn_run) -> None:
    workdir, metrics, arch = cnn_run
    written = json.loads((workdir / paths.metrics(f"cnn_{arch}")).read_text())
    assert written == json.loads(json.dumps(metrics))
    kfold = {"kfold"} if arch == "lenet" else set()  # holdout: no kfold key
    assert set(written) == CLASSICAL_KEYS | {"test_center_crop"} | kfold
    if kfold:
        assert written["kfold"] == {"status": "skipped", "reason": "not run (CNN)"}
    assert written["model"] == f"cnn_{arch}" and written["status"] == "ok"
    assert written["data"]["synthetic"] is False and written["feature_set"] == "pixels"
    assert (
        written["fit_seconds"] > 0
        and written["model_bytes"] > 0
        and written["predict_ms_per_image"] > 0
    )
    assert written["params"]["arch"] == arch
    assert written["params"]["n_parameters"] == count_parameters(build_net(arch))

    reference = score_predictions(
        np.array([0, 1]), np.array([0, 1]), np.array(["PublicTest", "PrivateTest"]), 0
    ).to_json()
    test = read_faces(workdir / paths.ingested("test"))
    for key in ("test", "test_center_crop"):
        assert set(written[key]) == {"all", "public", "private"}
        for subset, n in (("all", len(test)), ("public", (test.usage == "PublicTest").sum())):
            scores = written[key][subset]
            assert set(scores) == set(reference["all"]) and scores["n"] == n
            assert (
                len(scores["accuracy_ci95"]) == 2
                and np.array(scores["confusion_matrix"]).sum() == n
            )


def test_history_model_and_confusion_are_written(cnn_run) -> None:
    workdir, _, arch = cnn_run
    history = pd.read_csv(workdir / paths.cnn_history(arch))
    assert list(history.columns) == HISTORY_COLUMNS
    assert history["epoch"].tolist() == [1, 2, 3] and history["finetune"].tolist() == [0, 0, 1]
    saved = torch.load(workdir / paths.cnn_weights(f"cnn_{arch}"), weights_only=True)
    assert saved["arch"] == arch and saved["crop"] == 32
    # Finished: nothing left to resume.
    assert not (workdir / paths.cnn_checkpoint(f"cnn_{arch}")).exists()
    info = json.loads((workdir / paths.train_record(f"cnn_{arch}")).read_text())
    assert info["epochs_run"] == 3 and info["best_epoch"] in (1, 2)
    confusion = pd.read_csv(workdir / paths.confusion(f"cnn_{arch}"))
    assert list(confusion.columns) == ["actual", "predicted"]


def test_ensemble_scores_come_from_the_dev_chosen_weights(cnn_run) -> None:
    """Dev and test scores of the weights chosen on dev (before the fine-tune on dev), not of the
    saved, fine-tuned weights, whose test predictions are the metrics'."""
    workdir, _, arch = cnn_run
    name = f"cnn_{arch}"
    dev_table = read_faces(workdir / paths.ingested("dev"))
    dev = load_scores(workdir / paths.dev_scores(name))
    assert dev.kind == "probability" and dev.scores.shape == (len(dev_table), 7)
    assert np.array_equal(dev.row_id, dev_table.row_id)
    np.testing.assert_allclose(dev.scores.sum(axis=1), 1.0, atol=1e-4)
    # The saved weights were fine-tuned on train + dev: their dev scores differ.
    saved = torch.load(workdir / paths.cnn_weights(name), weights_only=True)
    net = build_net(arch)
    net.load_state_dict(saved["state_dict"])
    net.eval()
    norm = Normalizer(saved["mean"], saved["std"])
    runtime = Runtime(torch.device("cpu"), bf16=False, channels_last=False)
    images = torch.from_numpy(dev_table.images.copy())
    logits = predict_logits(net, images, saved["crop"], norm, runtime, 256, True)
    # (LeNet after 3 epochs is near uniform: the fine-tune moves its softmax by ~1e-4.)
    fine_tuned = torch.softmax(logits, dim=1).numpy()
    assert np.abs(fine_tuned - dev.scores).max() > 1e-5
    # The ensemble's test scores come from the dev scores' weights too, not the fine-tuned ones
    # (whose 10-crop predictions are the metrics').
    test = load_scores(workdir / paths.test_scores(name))
    test_table = read_faces(workdir / paths.ingested("test"))
    assert np.array_equal(test.row_id, test_table.row_id)
    assert test.fitted_on == dev.fitted_on and "fine-tuned" not in test.fitted_on
    test_images = torch.from_numpy(test_table.images.copy())
    logits = predict_logits(net, test_images, saved["crop"], norm, runtime, 256, True)
    assert np.abs(torch.softmax(logits, dim=1).numpy() - test.scores).max() > 1e-5
    predicted = pd.read_csv(workdir / paths.confusion(name))["predicted"]
    assert [test_table.classes[k] for k in logits.argmax(dim=1).numpy()] == predicted.tolist()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"cnn": {"archs": ["resnet50"]}}, "cnn.archs.0: got 'resnet50'"),
        ({"cnn": {"archs": ["vgg", "vgg"]}}, "cnn.archs"),
        ({"cnn": {"resnet50": {"epochs": 3}}}, "cnn.resnet50: unknown key"),
        ({"cnn": {"vgg": {"crop": 50}}}, "cnn.vgg.crop: got 50"),
        ({"cnn": {"mini_xception": {"crop": 49}}}, "cnn.mini_xception.crop: got 49"),
        ({"cnn": {"vgg": {"crop": 28}}}, "cnn.vgg.crop: got 28; vgg needs at least 32"),
        ({"cnn": {"alexnet": {"crop": 38}}}, "cnn.alexnet.crop: got 38; alexnet needs at least 39"),
        ({"cnn": {"lenet": {"crop": 28}}}, "cnn.lenet.crop: got 28; lenet needs at least 32"),
        ({"cnn": {"vgg16": {"crop": 30}}}, "cnn.vgg16.crop: got 30; vgg16 needs at least 32"),
        ({"cnn": {"mobilenet_v2": {"dropout": 1.0}}}, "cnn.mobilenet_v2.dropout"),
        ({"cnn": {"resnet34": {"epochs": 0}}}, "cnn.resnet34.epochs"),
        ({"cnn": {"resnet18": {"lr": 0.01, "lr_min": 0.1}}}, "cnn.resnet18.lr_min"),
        ({"cnn": {"resnet18": {"augmentation": "full"}}}, "cnn.resnet18.augmentation: got 'full'"),
        ({"cnn": {"device": "tpu"}}, "cnn.device: got 'tpu'"),
    ],
)
def test_bad_cnn_parameters_name_their_key(raw: dict, expected: str) -> None:
    with pytest.raises(ParamsError, match="invalid parameters") as info:
        validated(raw)
    assert expected in str(info.value)


def test_each_architecture_keeps_its_own_recipe() -> None:
    params = validated({"cnn": {"vgg": {"epochs": 3}}})
    assert params.cnn.vgg.epochs == 3 and params.cnn.vgg.dropout == 0.5
    assert params.cnn.mini_xception.dropout == 0.0


def test_every_architecture_may_be_asked_for_and_the_default_is_the_small_vgg() -> None:
    assert repo_params().cnn.archs == ["vgg_small"]
    params = validated({"cnn": {"archs": list(ARCHITECTURES)}})
    assert params.cnn.archs == list(ARCHITECTURES)
    assert params.cnn.arch("vgg16").epochs == repo_params().cnn.vgg16.epochs


def test_the_cli_refuses_unknown_architectures(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli_main(["cnn", "resnet50"])
    assert "invalid choice: 'resnet50'" in capsys.readouterr().err
