"""``ferbench compare``: experiments and commits side by side, with McNemar tests between them.

Two runs' records (real models' predictions on the FER2013 sample) are committed in a scratch
git repository, the second also as a DVC experiment's ref (``refs/exps/...``, where ``dvc exp
run`` commits); the page's content is checked against the records and the McNemar code, and
the page is opened in headless Chromium like the report.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fer_data.errors import DataError
from models.records import ModelMetrics
from pipeline import compare, paths
from reports.mcnemar import exact_p_value, holm
from tests.results_helpers import sample_predictions, write_run
from tests.test_report import Dom, _chromium

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
LR = "cnn.mini_xception.lr"


def _commit(root: Path, message: str) -> str:
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True, capture_output=True)
    subprocess.run([*GIT, "commit", "-qm", message], cwd=root, check=True, capture_output=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def repo(fer2013_frame, tmp_path_factory) -> tuple[Path, dict]:
    """A repository whose commit ``base`` holds a run (knn: the majority class, gnb) and whose
    experiment ``lr-high`` holds another (knn: 1-NN on HOG, gnb slightly smoothed, another lr)."""
    root = tmp_path_factory.mktemp("compare_repo")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    y_true, usage, predicted = sample_predictions(fer2013_frame)
    runs = {
        "base": {"knn": predicted["majority"], "gnb": predicted["gnb"]},
        "lr-high": {"knn": predicted["knn"], "gnb": predicted["gnb_smoothed"]},
    }
    write_run(root, y_true, usage, runs["base"], {"cnn": {"mini_xception": {"lr": 0.01}}})
    base = _commit(root, "base run")
    subprocess.run(["git", "tag", "base"], cwd=root, check=True)
    write_run(root, y_true, usage, runs["lr-high"], {"cnn": {"mini_xception": {"lr": 0.05}}})
    experiment = _commit(root, "experiment")
    ref = f"refs/exps/{base[:2]}/{base[2:]}/lr-high"  # where dvc exp run keeps it
    subprocess.run(["git", "update-ref", ref, experiment], cwd=root, check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "base"], cwd=root, check=True)
    return root, {"y_true": y_true, "runs": runs, "commits": (base, experiment)}


@pytest.fixture(scope="module")
def page(repo, tmp_path_factory) -> tuple[Path, Dom]:
    root, _ = repo
    output = tmp_path_factory.mktemp("compare_page") / "compare.html"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        assert compare.cli(["base", "lr-high", "-o", str(output), "--alpha", "0.05"]) == 0
    return output, Dom(output.read_text())


def _rows(dom: Dom, table_id: str) -> list:
    return dom.root.find("table", id=table_id).find("tbody").find_all("tr")


def test_revisions_resolve_to_branches_tags_commits_and_experiments(repo) -> None:
    root, info = repo
    base, experiment = info["commits"]
    assert compare.resolve("base", root) == base
    assert compare.resolve(base[:8], root) == base
    assert compare.resolve("lr-high", root) == experiment
    assert compare.resolve("workspace", root) == "workspace"
    with pytest.raises(DataError, match=r"unknown revision or experiment 'nope'.*lr-high"):
        compare.resolve("nope", root)


def test_the_page_lists_the_parameters_that_differ(page) -> None:
    _, dom = page
    rows = _rows(dom, "param-diff")
    assert [r.attrs["data-param"] for r in rows] == [LR]
    assert [td.all_text() for td in rows[0].find_all("td")][1:] == ["0.01", "0.05"]


def test_each_models_metrics_are_its_records_with_intervals(repo, page) -> None:
    root, info = repo
    _, dom = page
    rows = {r.attrs["data-model"]: r for r in _rows(dom, "metric-table")}
    assert set(rows) == {"knn", "gnb"}
    for name, commit in zip(("base", "lr-high"), info["commits"], strict=True):
        for model, row in rows.items():
            text = compare.read_at(commit, paths.metrics(model).as_posix(), root)
            scores = ModelMetrics.model_validate_json(text).test.all
            cells = {td.attrs.get("data-key"): td for td in row.find_all("td")}
            assert float(cells[f"{name}.accuracy"].attrs["data-v"]) == scores.accuracy
            assert float(cells[f"{name}.macro_f1"].attrs["data-v"]) == scores.macro_f1
            low, high = scores.accuracy_ci95
            assert f"[{100 * low:.1f}, {100 * high:.1f}]" in cells[f"{name}.accuracy"].all_text()


def test_mcnemar_marks_a_real_difference_and_not_a_negligible_one(repo, page) -> None:
    _, info = repo
    _, dom = page
    y_true, runs = info["y_true"], info["runs"]
    rows = {r.attrs["data-model"]: r for r in _rows(dom, "mcnemar")}
    assert {r.attrs["data-pair"] for r in rows.values()} == {"base|lr-high"}
    for model, row in rows.items():
        right_a, right_b = (runs[name][model] == y_true for name in ("base", "lr-high"))
        only_a, only_b = int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())
        cells = row.find_all("td")
        assert [int(c.all_text()) for c in cells[5:7]] == [only_a, only_b]
        p = exact_p_value(only_a, only_b)
        assert float(cells[7].attrs["data-v"]) == pytest.approx(p)
        assert float(cells[8].attrs["data-v"]) == pytest.approx(holm([p])[0])
    # 1-NN on HOG against the majority class: significant; two smoothings of one naive Bayes: not.
    assert rows["knn"].attrs["data-significant"] == "1"
    assert "lr-high is better" in rows["knn"].all_text()
    assert rows["gnb"].attrs["data-significant"] == "0"
    assert "no significant difference" in rows["gnb"].all_text()


def test_runs_on_other_test_images_are_refused(repo, tmp_path: Path, monkeypatch) -> None:
    root, info = repo
    base, _ = info["commits"]
    y_true, runs = info["y_true"], info["runs"]
    usage = ["PublicTest"] * len(y_true)
    monkeypatch.chdir(root)
    try:
        write_run(root, y_true, usage, runs["base"], test_md5="ffffffffffffffffffffffffffffffff")
        with pytest.raises(DataError, match="base and workspace were scored on different test"):
            compare.compare(["base", "workspace"], tmp_path / "x.html", 0.05, root)
        # Same recorded hash, other labels row by row (e.g. a dvc.lock edited by hand).
        write_run(root, y_true[::-1].copy(), usage, {"knn": runs["base"]["knn"]})
        with pytest.raises(DataError, match="scored on different test images"):
            compare.compare(["base", "workspace"], tmp_path / "x.html", 0.05, root)
        assert compare.cli(["base", "nope", "-o", str(tmp_path / "x.html")]) == 2
        assert not (tmp_path / "x.html").exists()
    finally:
        subprocess.run(["git", "reset", "-q", "--hard", base], cwd=root, check=True)
        subprocess.run(["git", "clean", "-qfd"], cwd=root, check=True)


def test_a_revision_without_results_is_named(repo, tmp_path: Path) -> None:
    root, _ = repo
    (root / "notes.txt").write_text("no run here")
    _commit(root, "a commit with no run")
    subprocess.run(["git", "rm", "-q", "-r", "metrics"], cwd=root, check=True)
    empty = _commit(root, "no metrics")
    try:
        with pytest.raises(DataError, match=r"no results: metrics/leaderboard\.json"):
            compare.load_experiment(empty, root)
    finally:
        subprocess.run(["git", "reset", "-q", "--hard", "base"], cwd=root, check=True)


def test_the_page_renders_in_headless_chromium(page, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium)")
    output, _ = page
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dumped = subprocess.run(
        [browser, *flags, "--dump-dom", output.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert "Uncaught" not in dumped.stderr, dumped.stderr[-2000:]
    rendered = Dom(dumped.stdout)
    assert rendered.root.find("html").attrs.get("data-report-ready") == "1"
    assert len(rendered.root.find("table", id="mcnemar").find("tbody").find_all("tr")) == 2


def test_predictions_are_read_from_the_dvc_cache_at_each_revision(tmp_path: Path) -> None:
    """Per-image predictions are DVC-cached outputs, git-ignored (they hold test labels): compare
    reads each revision's copy from the local DVC cache."""
    import os
    import sys

    root = tmp_path / "proj"
    root.mkdir()
    env = os.environ | {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    dvc = [sys.executable, "-m", "dvc"]

    def run(*cmd: str) -> None:
        subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)

    run("git", "init", "-q")
    run(*dvc, "init", "-q")
    csv = root / paths.confusion("knn")
    csv.parent.mkdir(parents=True)
    commits = []
    for text in ("actual,predicted\n1,1\n", "actual,predicted\n1,2\n"):
        csv.write_text(text)
        run(*dvc, "add", "-q", csv.relative_to(root).as_posix())
        run("git", "add", "-A")
        run("git", "commit", "-qm", text)
        commits.append(compare.resolve("HEAD", root))
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True)
    assert csv.relative_to(root).as_posix() not in tracked.stdout.splitlines()
    path = paths.confusion("knn").as_posix()
    assert compare.read_output(commits[0], path, root) == "actual,predicted\n1,1\n"
    assert compare.read_output(commits[1], path, root) == "actual,predicted\n1,2\n"
    assert compare.read_output(commits[0], "results/plots/confusion/none.csv", root) is None
