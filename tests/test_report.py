"""The `report` stage on a small real run: its content equals the metrics files, and it renders.

One module-scoped run of the real stages on the FER2013 sample (ingest, augment, features, then
search / train / evaluate / competency for two fast models and a two-epoch CNN) and one on the
synthetic demo set; every test reads the HTML those runs produced. The browser test opens the
report in headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import image as mpl_image
from PIL import Image

from fer_data.faces import EMOTIONS, read_faces
from fer_data.synthetic import SYNTHETIC_NOTICE
from pipeline import paths
from pipeline.declared import restrict
from pipeline.stages import (
    augment,
    cnn,
    competency,
    duplicates,
    evaluate,
    external,
    ingest,
    report,
    search,
    train,
)
from pipeline.stages import features as featurize
from tests.external_helpers import external_params, write_image_folder, write_subject_csv
from tests.stage_helpers import REPO_ROOT, make_params

MODELS = ("gnb", "knn")
CNN = "cnn_mini_xception"
FEATURE_SETS = ["pixels", "hog", "landmarks", "hog_landmarks"]
REAL = {
    "evaluate.n_boot": 50,
    "compute.n_jobs": 1,
    "features.n_jobs": 1,
    "competency.train_rows": 300,
    "models.knn.search.grid": {"n_neighbors": [1, 5, 15], "weights": ["uniform"]},
    "cnn.threads": 1,
    # Mini-Xception rather than the default vgg_small: the cheapest network that trains at crop 16.
    "cnn.archs": ["mini_xception"],
    "cnn.mini_xception.epochs": 2,
    "cnn.mini_xception.crop": 16,
    "cnn.mini_xception.batch_size": 128,
    "models.gnb.search.enabled": False,
    "report.top_models": 3,
    "report.gallery_faces": 6,
}
SYNTHETIC = {
    "data.source": "synthetic",
    "data.synthetic_rows": 700,
    "augment.modes": [],
    "models.svm.augmentation": "none",
    "evaluate.n_boot": 0,
    "compute.n_jobs": 1,
    "features.n_jobs": 1,
    "models.gnb.search.enabled": False,
}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Node | str] = []  # elements and text, in document order

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, str):
                continue
            if child.tag == tag and all(
                child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()
            ):
                found.append(child)
            found += child.find_all(tag, **attrs)
        return found

    def find(self, tag: str, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag}> with {attrs}"
        return found[0]

    @property
    def text(self) -> str:
        """The node's own text, without its children's."""
        return "".join(c for c in self.children if isinstance(c, str))

    def all_text(self) -> str:
        return "".join(c if isinstance(c, str) else c.all_text() for c in self.children)


class Dom(HTMLParser):
    """Just enough of a DOM (stdlib only) to look up tables by their attributes."""

    VOID = frozenset({"img", "br", "meta", "link", "input", "hr"})

    def __init__(self, html: str) -> None:
        super().__init__()
        self.root = Node("document", {})
        self.stack = [self.root]
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        while len(self.stack) > 1:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def _run_stages(workdir: Path, overrides: dict, models: tuple[str, ...], with_cnn: bool) -> Path:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        (workdir / "params.yaml").write_text((REPO_ROOT / "params.yaml").read_text())
        for cmd in (
            ["git", "init", "-q"],
            ["git", "add", "params.yaml"],
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "params"],
        ):
            subprocess.run(cmd, cwd=workdir, check=True, capture_output=True)
        params = make_params(workdir, overrides)
        # Each stage sees only the keys its dvc.yaml entry declares, as under `dvc repro`.
        ingest.run(restrict(params, "ingest"))
        duplicates.run(restrict(params, "duplicates"))
        augment.run(restrict(params, "augment"))
        featurize.run(restrict(params, "features"))
        external.run(restrict(params, "external"))
        for model in models:
            search.run(restrict(params, "search", model), model)
            train.run(restrict(params, "train", model), model)
            evaluate.run(restrict(params, "evaluate", model), model)
        if with_cnn:
            for model in models:
                competency.run(restrict(params, "competency"), model)
            competency.write_table(models)
            cnn.run(restrict(params, "cnn", "mini_xception"), "mini_xception")
        return workdir / report.run(restrict(params, "report"))


@pytest.fixture(scope="module")
def real_run(
    fer2013_sample_csv: Path, fer2013_frame, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Dom]:
    workdir = tmp_path_factory.mktemp("report_real")
    sets = tmp_path_factory.mktemp("report_external")
    write_image_folder(sets / "folder", fer2013_frame)
    write_subject_csv(sets / "subjects.csv", fer2013_frame)
    # An extra training source: the sample's Disgust Training faces mirrored (real faces, none
    # identical to a sample face), as an image folder disgust/<image>.
    disgust = fer2013_frame[
        (fer2013_frame["emotion"] == 1) & (fer2013_frame["Usage"] == "Training")
    ]
    (sets / "extra/disgust").mkdir(parents=True)
    for i, pixels in enumerate(disgust["pixels"]):
        image = np.asarray(pixels.split(), np.uint8).reshape(48, 48)[:, ::-1]
        Image.fromarray(np.ascontiguousarray(image)).save(sets / f"extra/disgust/{i}.png")
    extra = {"path": str(sets / "extra"), "label_map": None, "classes": ["Disgust"]}
    overrides = {
        **REAL,
        "data.path": str(fer2013_sample_csv),
        "data.extra_train": {"mirrored": {**extra, "max_rows": 12, "resize_images": False}},
        "evaluate.external": external_params(sets / "folder", sets / "subjects.csv"),
    }
    path = _run_stages(workdir, overrides, MODELS, with_cnn=True)
    return workdir, Dom(path.read_text())


@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory: pytest.TempPathFactory) -> str:
    workdir = tmp_path_factory.mktemp("report_synthetic")
    return _run_stages(workdir, SYNTHETIC, ("gnb",), with_cnn=False).read_text()


def _metrics(workdir: Path, model: str) -> dict:
    return json.loads((workdir / paths.metrics(model)).read_text())


def _cells(row: Node) -> dict[str, Node]:
    return {td.attrs["data-key"]: td for td in row.find_all("td") if "data-key" in td.attrs}


def test_every_model_has_a_leaderboard_row_whose_numbers_are_its_metrics_json(real_run) -> None:
    workdir, dom = real_run
    for subset in ("all", "public", "private"):
        table = dom.root.find("table", data_subset=subset)
        names = [r.attrs["data-model"] for r in table.find_all("tr") if "data-model" in r.attrs]
        assert sorted(names) == sorted([*MODELS, CNN])
        for name in names:
            scores = _metrics(workdir, name)["test"][subset]
            cells = _cells(table.find("tr", data_model=name))
            for key in (
                "accuracy",
                "macro_f1",
                "balanced_accuracy",
                "weighted_precision",
                "weighted_recall",
                "weighted_f1",
            ):
                assert json.loads(cells[key].attrs["data-v"]) == scores[key], (subset, name, key)
            assert cells["accuracy"].text == f"{100 * scores['accuracy']:.2f}"
            low, high = scores["accuracy_ci95"]
            assert f"[{100 * low:.1f}, {100 * high:.1f}]" in cells["accuracy"].all_text()
            metrics = _metrics(workdir, name)
            assert json.loads(cells["fit_seconds"].attrs["data-v"]) == metrics["fit_seconds"]
            assert (
                json.loads(cells["predict_ms_per_image"].attrs["data-v"])
                == metrics["predict_ms_per_image"]
            )
            assert json.loads(cells["model_bytes"].attrs["data-v"]) == metrics["model_bytes"]
            if subset == "all":
                for half in ("public", "private"):
                    value = json.loads(cells[f"{half}.accuracy"].attrs["data-v"])
                    assert value == metrics["test"][half]["accuracy"]
                for key in ("accuracy", "macro_f1"):  # without the copies of training images
                    value = json.loads(cells[f"clean.{key}"].attrs["data-v"])
                    assert value == metrics["test"]["clean"][key]


def test_the_leaderboard_is_ranked_by_test_accuracy_and_the_models_not_run_are_named(
    real_run,
) -> None:
    workdir, dom = real_run
    rows = dom.root.find("table", data_subset="all").find_all("tr")
    names = [r.attrs["data-model"] for r in rows if "data-model" in r.attrs]
    accuracy = [_metrics(workdir, n)["test"]["all"]["accuracy"] for n in names]
    assert accuracy == sorted(accuracy, reverse=True)
    not_run = dom.root.find("section", id="leaderboard").all_text()
    assert (
        "Not run yet" in not_run
        and "svm" in not_run
        and "gnb" not in not_run.split("Not run yet")[1]
    )


def test_leaderboard_metrics_file_holds_accuracy_and_macro_f1_of_every_model(real_run) -> None:
    workdir, _ = real_run
    written = json.loads((workdir / paths.LEADERBOARD_FILE).read_text())
    assert set(written) == {*MODELS, CNN}
    for name, entry in written.items():
        metrics = _metrics(workdir, name)
        scores = metrics["test"]["all"]
        assert entry == {
            "accuracy": scores["accuracy"],
            "macro_f1": scores["macro_f1"],
            "no_copy_accuracy": metrics["test"]["clean"]["accuracy"],
            "external": {
                key: {
                    "accuracy": found["scores"]["accuracy"],
                    "macro_f1": found["scores"]["macro_f1"],
                }
                for key, found in metrics["external"].items()
            },
        }


def test_the_competency_table_is_complete_with_each_models_best_marked(real_run) -> None:
    workdir, dom = real_run
    csv = pd.read_csv(workdir / paths.COMPETENCY_TABLE)
    table = dom.root.find("table", id="competency-table")
    for model in MODELS:
        row = table.find("tr", data_model=model)
        cells = {
            td.attrs["data-feature-set"]: td
            for td in row.find_all("td")
            if "data-feature-set" in td.attrs
        }
        assert list(cells) == FEATURE_SETS
        mine = csv[csv["model"] == model].set_index("feature_set")
        for fs, td in cells.items():
            assert td.attrs["data-status"] == mine.loc[fs, "status"]
            if td.attrs["data-status"] == "ok":
                assert json.loads(td.attrs["data-v"]) == mine.loc[fs, "accuracy"]
        best = mine["accuracy"].idxmax()
        assert [fs for fs, td in cells.items() if td.attrs.get("class") == "best"] == [best]
    assert dom.root.find("img", alt="feature competency: test accuracy per model and feature set")


def test_each_model_has_per_class_scores_a_confusion_heatmap_and_its_search(real_run) -> None:
    workdir, dom = real_run
    for name in [*MODELS, CNN]:
        section = dom.root.find("details", id=f"model-{name}")
        per_class = _metrics(workdir, name)["test"]["all"]["per_class"]
        for label in EMOTIONS:
            cells = _cells(section.find("tr", data_class=label))
            for key in ("precision", "recall", "f1", "support"):
                assert json.loads(cells[key].attrs["data-v"]) == per_class[label][key]
        assert (
            section.find("img", alt=f"confusion matrix of {name}")
            .attrs["src"]
            .startswith("data:image/svg+xml;base64,")
        )
    knn = dom.root.find("details", id="model-knn")
    assert knn.find("img", alt="search history of knn")
    assert "grid over n_neighbors, weights" in knn.all_text()


def test_mcnemar_compares_every_pair_of_the_top_models_on_the_same_images(real_run) -> None:
    workdir, dom = real_run
    y = None
    correct = {}
    for name in [*MODELS, CNN]:
        frame = pd.read_csv(workdir / paths.confusion(name))
        y = frame["actual"] if y is None else y
        assert frame["actual"].equals(y)
        correct[name] = (frame["actual"] == frame["predicted"]).to_numpy()
    rows = dom.root.find("table", id="mcnemar").find_all("tr")
    pairs = {r.attrs["data-pair"]: r for r in rows if "data-pair" in r.attrs}
    assert len(pairs) == len(list(combinations((*MODELS, CNN), 2)))
    for pair, row in pairs.items():
        a, b = pair.split("|")
        counts = [int(td.all_text().replace(",", "")) for td in row.find_all("td")[2:4]]
        assert counts == [
            int(np.sum(correct[a] & ~correct[b])),
            int(np.sum(correct[b] & ~correct[a])),
        ]


def test_the_gallery_shows_the_best_models_right_and_wrong_faces(real_run) -> None:
    workdir, dom = real_run
    best = dom.root.find("table", data_subset="all").find_all("tr")[1].attrs["data-model"]
    assert f"Gallery: {best} on test faces" in dom.root.find("section", id="gallery").all_text()
    test = read_faces(workdir / "data/ingested/test.feather")
    position = {int(row_id): k for k, row_id in enumerate(test.row_id)}
    predictions = pd.read_csv(workdir / paths.confusion(best))
    for key, right in (("right", True), ("wrong", False)):
        faces = dom.root.find("div", id=f"gallery-{key}").find_all("figure")
        assert len(faces) == REAL["report.gallery_faces"]
        for face in faces:
            img = face.find("img")
            assert img.attrs["src"].startswith("data:image/png;base64,")
            k = position[int(img.attrs["alt"].removeprefix("test image "))]
            caption = face.find("figcaption").all_text()
            actual, predicted = (part.strip() for part in caption.split("→"))
            assert (actual, predicted) == tuple(predictions.loc[k, ["actual", "predicted"]])
            assert (actual == predicted) == right


def test_the_cnn_section_compares_centre_and_ten_crop_and_shows_training_curves(real_run) -> None:
    workdir, dom = real_run
    metrics = _metrics(workdir, CNN)
    rows = dom.root.find("table", data_model=CNN).find_all("tr")[1:]
    for row, key in zip(rows, ("test_center_crop", "test"), strict=True):
        cells = _cells(row)
        for subset in ("all", "public", "private"):
            assert (
                json.loads(cells[f"{subset}.accuracy"].attrs["data-v"])
                == metrics[key][subset]["accuracy"]
            )
    assert dom.root.find("img", alt=f"training curves of {CNN}")


def test_the_run_summary_names_the_source_commit_and_changed_parameters(real_run) -> None:
    _, dom = real_run
    summary = dom.root.find("section", id="summary").all_text()
    assert "FER2013 CSV" in summary and "git commit" in summary and "cores" in summary
    # The run's folder holds params.yaml committed before the test's overrides were written.
    assert "(uncommitted changes)" in summary
    changed = [td.all_text() for td in dom.root.find("table", id="param-changes").find_all("code")]
    assert "evaluate.n_boot" in changed and "report.top_models" in changed and "seed" not in changed


def test_the_report_is_one_file_that_needs_no_network(real_run) -> None:
    _, dom = real_run
    for tag, attr in (("img", "src"), ("script", "src"), ("link", "href")):
        for node in dom.root.find_all(tag):
            value = node.attrs.get(attr)
            assert value is None or value.startswith("data:"), f"<{tag} {attr}={value[:60]}>"


def test_the_synthetic_banner_appears_exactly_when_the_data_is_synthetic(
    real_run, synthetic_report
) -> None:
    _, dom = real_run
    assert not dom.root.find_all("div", id="synthetic-banner")
    assert "SYNTHETIC" not in dom.root.all_text()
    banner = Dom(synthetic_report).root.find("div", id="synthetic-banner")
    assert "SYNTHETIC DEMO SET, NOT FER2013" in banner.all_text()
    assert " ".join(SYNTHETIC_NOTICE.split()) in " ".join(banner.all_text().split())


def test_every_model_is_scored_on_every_external_set_and_the_section_shows_it(real_run) -> None:
    workdir, dom = real_run
    section = dom.root.find("section", id="cross-dataset")
    assert dom.root.find("nav").find_all("a", href="#cross-dataset")
    board = dom.root.find("table", data_subset="all")
    for name in ("folder_set", "subject_set"):
        table = section.find("table", data_set=name, **{"class": "sortable cross-dataset"})
        rows = {r.attrs["data-model"]: r for r in table.find_all("tr") if "data-model" in r.attrs}
        assert sorted(rows) == sorted([*MODELS, CNN])
        for model, row in rows.items():
            found = _metrics(workdir, model)["external"][name]
            assert found["status"] == "ok" and found["dropped"] == {"Contempt": 5}
            scores = found["scores"]
            cells = _cells(row)
            for key in ("accuracy", "macro_f1", "balanced_accuracy"):
                assert json.loads(cells[key].attrs["data-v"]) == scores[key], (name, model, key)
            low, high = scores["accuracy_ci95"]
            assert f"[{100 * low:.1f}, {100 * high:.1f}]" in cells["accuracy"].all_text()
            assert json.loads(cells["n_images"].attrs["data-v"]) == found["n_images"]
            assert cells["dropped"].text == "Contempt 5"
            test = _metrics(workdir, model)["test"]["all"]["accuracy"]
            change = json.loads(cells["change_pp"].attrs["data-v"])
            assert change == pytest.approx(100 * (scores["accuracy"] - test))
            # The leaderboard's column for the set holds the same number.
            lead = _cells(board.find("tr", data_model=model))[f"external.{name}.accuracy"]
            assert json.loads(lead.attrs["data-v"]) == scores["accuracy"]
            expected = "subjects" if name == "subject_set" else "images"
            assert found["bootstrap"] == expected
            if name == "subject_set":
                # The same faces as the test split: the external path (features from the model
                # card, the CNN's 10-crop) predicts exactly what the test split's path did.
                test_cm = _metrics(workdir, model)["test"]["all"]["confusion_matrix"]
                assert scores["confusion_matrix"] == test_cm, model
        per_class = section.find("table", data_set=name, **{"class": "external-per-class"})
        assert len([r for r in per_class.find_all("tr") if "data-model" in r.attrs]) == 3
    text = " ".join(section.all_text().split())
    assert "unreadable image 1" in text and "not inside a label folder" in text


def test_the_data_section_shows_the_extra_training_source_per_class(real_run) -> None:
    workdir, dom = real_run
    added = json.loads((workdir / "metrics/ingest.json").read_text())["extra_train"]["mirrored"]
    assert added["added"]["Disgust"] == 12 == added["added"]["total"]
    table = dom.root.find("table", id="extra-sources")
    assert [th.all_text() for th in table.find_all("th")] == ["class", "mirrored"]
    rows = {
        r.find_all("td")[0].all_text(): r.find_all("td")[1].all_text()
        for r in table.find_all("tr")[1:]
    }
    assert rows["Disgust"] == "12" and rows["Happy"] == "0"
    pairs = {
        tr.find_all("th")[0].all_text(): tr.find_all("td")[0].all_text()
        for tr in dom.root.find("section", id="data").find_all("tr")
        if tr.find_all("th") and tr.find_all("td")
    }
    over = added["dropped"]["over max_rows"]["Disgust"]
    assert pairs["added to train"] == "12" and pairs["dropped: over max_rows"] == str(over)


def test_the_cross_dataset_section_appears_only_when_external_sets_are_set(
    synthetic_report,
) -> None:
    dom = Dom(synthetic_report)
    assert not dom.root.find_all("section", id="cross-dataset")
    assert "Cross-dataset" not in dom.root.find("nav").all_text()


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_report_renders_in_headless_chromium(real_run, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip(
            "no chromium binary on PATH (Debian: apt-get install chromium; .ci/run installs it)"
        )
    workdir, _ = real_run
    url = (workdir / paths.REPORT_FILE).resolve().as_uri()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1400,1800",
    ]
    dumped = subprocess.run(
        [browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    )
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert "Uncaught" not in dumped.stderr, dumped.stderr[-2000:]
    rendered = Dom(dumped.stdout)
    assert (
        rendered.root.find("html").attrs.get("data-report-ready") == "1"
    )  # the script ran to its end
    board = rendered.root.find("div", id="leaderboard-all")
    assert "active" in board.attrs["class"].split() and board.find_all("tr", data_model=CNN)

    screenshot = workdir / "results" / "report-screenshot.png"
    shot = subprocess.run(
        [browser, *flags, f"--screenshot={screenshot}", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    pixels = mpl_image.imread(screenshot)
    assert pixels.shape[:2] == (1800, 1400) and pixels[..., :3].std() > 0.05  # not a blank page
