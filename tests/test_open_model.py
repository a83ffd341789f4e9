"""Open a model made elsewhere: an exported package or a zipped run folder becomes a run of a fresh workspace
that predicts, evaluates and exports like the original; a bad one is refused in one sentence, leaving nothing.

One tiny linear-probe run (96 px) is trained and exported (ONNX + PyTorch) once per module.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from clitools import engine_cli
from imagegen import PATTERNS, make_pattern_image

from engine.data.bins import CodedDataError
from engine.fsutil import read_json
from engine.workspace import Workspace


@pytest.fixture(scope="module")
def env(cli_env) -> dict:
    return cli_env


@pytest.fixture(scope="module")
def run_dir(tiny_run) -> Path:
    return tiny_run


@pytest.fixture(scope="module")
def package(run_dir, env) -> Path:
    """The exported package folder (its .zip lies beside it)."""
    r = engine_cli("export", str(run_dir), "--format", "onnx,torch", env=env)
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("photos")
    return [str(make_pattern_image(root / f"{c}_{i}.png", c, seed=80_000 + 100 * k + i))
            for k, c in enumerate(PATTERNS) for i in range(2)]


@pytest.fixture
def fresh(tmp_path, run_dir) -> tuple[Workspace, str]:
    """A new workspace with a project whose data is the run's own dataset (same classes)."""
    ws = Workspace(tmp_path / "fresh")
    pid = ws.create_project("Patterns")
    data = yaml.safe_load((run_dir / "config.yaml").read_text())["data"]
    ws.update_project_state(pid, dataset_dir=data)
    return ws, pid


def _nothing_left(ws: Workspace) -> bool:
    return list(ws.runs_dir.iterdir()) == [] and ws.list_runs() == []


def test_an_exported_zip_opens_in_a_fresh_workspace_and_predicts_as_the_original(fresh, package, run_dir, photos):
    from engine.inference import predict_files
    from engine.open_model import open_model

    ws, pid = fresh
    opened = open_model(package.with_name(package.name + ".zip"), pid, ws)
    assert opened.kind == "package" and opened.run_dir.parent == ws.runs_dir
    assert (opened.run_dir / "package" / "model.onnx").read_bytes() == (package / "model.onnx").read_bytes()
    assert read_json(opened.run_dir / "imported.json")["source"] == package.name + ".zip"
    (row,) = ws.list_runs(pid)
    assert (row["status"], row["mode"]) == ("done", "imported")

    original = predict_files(run_dir, photos, top_k=3)
    imported = predict_files(opened.run_dir, photos, top_k=3)
    assert [r["label"] for r in imported] == [r["label"] for r in original]
    np.testing.assert_allclose([r["prob"] for r in imported], [r["prob"] for r in original], atol=1e-4)

    # Scored on the project's data, which here is the very split the original was scored on.
    test = read_json(opened.run_dir / "metrics.json")["test"]
    assert test["n"] == read_json(run_dir / "metrics.json")["test"]["n"]
    assert abs(test["accuracy"] - read_json(run_dir / "metrics.json")["test"]["accuracy"]) <= 1 / test["n"]
    assert (opened.run_dir / "artifacts" / "confusion_matrix_test.png").is_file()


def test_an_opened_packages_torch_code_rebuilds_its_model_and_agrees_with_its_onnx_model(fresh, package, photos,
                                                                                        env):
    import subprocess
    import sys

    from engine.open_model import open_model

    ws, pid = fresh
    kept = open_model(package, pid, ws).run_dir / "package"
    assert (kept / "predict_torch.py").read_text() == (package / "predict_torch.py").read_text()  # this app's code

    def labels(script: str) -> list[str]:
        r = subprocess.run([sys.executable, str(kept / script), *photos, "--json"], capture_output=True, text=True,
                           env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        return [row["label"] for row in json.loads(r.stdout)]

    assert labels("predict_torch.py") == labels("predict.py")


def test_export_of_an_imported_package_offers_the_same_model_again(fresh, package, tmp_path):
    from engine.export import export_run
    from engine.open_model import open_model

    ws, pid = fresh
    opened = open_model(package, pid, ws)
    result = export_run(opened.run_dir, out=tmp_path / "again")
    with zipfile.ZipFile(result.zip_path) as z:
        assert z.read("again/model.onnx") == (package / "model.onnx").read_bytes()
        assert z.read("again/labels.json") == (package / "labels.json").read_bytes()
    assert result.report["imported"]["kind"] == "package"


def test_a_zipped_run_folder_opens_keeps_its_checkpoints_and_evaluates(fresh, run_dir, tmp_path, env):
    from engine.inference import evaluate_run
    from engine.open_model import open_model

    ws, pid = fresh
    archive = shutil.make_archive(str(tmp_path / "colleague-run"), "zip", run_dir.parent, run_dir.name)
    opened = open_model(archive, pid, ws)
    assert opened.kind == "run"
    assert (opened.run_dir / "checkpoints" / "best.pt").read_bytes() == (run_dir / "checkpoints" / "best.pt").read_bytes()
    assert not (opened.run_dir / "exports").exists()  # only the allow-listed files travel
    data = yaml.safe_load((run_dir / "config.yaml").read_text())["data"]
    result = evaluate_run(opened.run_dir, data=data)
    n = len(read_json(Path(data) / "manifest.json")["items"])
    assert result["data"]["n"] == n and result["data"]["accuracy"] > 0.5


def _broken(package: Path, tmp_path: Path, change) -> Path:
    """A zip of a copy of the package after `change(folder)`."""
    folder = tmp_path / "pkg"
    shutil.copytree(package, folder)
    change(folder)
    return Path(shutil.make_archive(str(tmp_path / "broken"), "zip", tmp_path, "pkg"))


def _refused(source: Path, ws: Workspace, pid: str) -> CodedDataError:
    from engine.open_model import open_model

    with pytest.raises(CodedDataError) as info:
        open_model(source, pid, ws)
    message = str(info.value)
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert _nothing_left(ws)
    return info.value


def test_a_package_without_model_onnx_is_refused_in_one_sentence(fresh, package, tmp_path):
    ws, pid = fresh
    err = _refused(_broken(package, tmp_path, lambda f: (f / "model.onnx").unlink()), ws, pid)
    assert err.code == "open_no_file" and err.params["file"] == "model.onnx"
    assert "has no model.onnx" in str(err)


def test_labels_that_do_not_match_the_onnx_outputs_are_refused(fresh, package, tmp_path):
    ws, pid = fresh

    def extra_class(folder: Path) -> None:
        (folder / "labels.json").write_text(json.dumps([*PATTERNS, "extra"]))

    err = _refused(_broken(package, tmp_path, extra_class), ws, pid)
    assert err.code == "open_class_count"
    assert (err.params["outputs"], err.params["classes"]) == (len(PATTERNS), len(PATTERNS) + 1)


class _Payload:
    """Unpickling this creates a file: what a hostile .pt would do with a less harmless call."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_checkpoint_with_a_pickle_payload_is_refused_without_running_it(fresh, package, tmp_path):
    import pickle

    import torch

    live = tmp_path / "proof"
    pickle.loads(pickle.dumps(_Payload(live))).close()
    assert live.exists()  # the payload is real: loaded unsafely, it runs

    marker = tmp_path / "pwned"

    def poison(folder: Path) -> None:
        ckpt = torch.load(folder / "model.pt", weights_only=True)
        torch.save({**ckpt, "extra": _Payload(marker)}, folder / "model.pt")

    ws, pid = fresh
    err = _refused(_broken(package, tmp_path, poison), ws, pid)
    assert err.code == "open_pickle" and err.params["file"] == "model.pt"
    assert not marker.exists()


def test_the_cli_opens_a_package_and_refuses_a_folder_that_is_no_model(package, tmp_path, env):
    ws_env = {**env, "KONSTRUKTOR_WORKSPACE": str(tmp_path / "cli-ws")}
    r = engine_cli("open", str(package), "--json", env=ws_env)
    assert r.returncode == 0, r.stderr
    opened = json.loads(r.stdout)
    assert opened["kind"] == "package" and Path(opened["run_dir"], "imported.json").is_file()
    empty = tmp_path / "nothing"
    empty.mkdir()
    r = engine_cli("open", str(empty), env=ws_env)
    assert r.returncode == 2 and "holds neither an exported package" in r.stderr


def test_the_runs_tab_says_what_it_opened_and_what_it_refused_in_russian(fresh, package, tmp_path):
    from ui.tabs.open_model import open_upload
    from ui.tabs.runs import _row

    ws, pid = fresh
    said = open_upload(ws, pid, "ru", str(package.with_name(package.name + ".zip")))
    assert "открыт как запуск" in said and "Оценка на данных проекта (тест)" in said
    (row,) = ws.list_runs(pid)
    assert _row("ru", row, None)[4] == "импортирована"
    broken = _broken(package, tmp_path, lambda f: (f / "model.onnx").unlink())
    assert open_upload(ws, pid, "ru", str(broken)) == (
        "Модель не открыта: В пакете «broken.zip» нет model.onnx; экспортируйте запуск заново "
        "(python -m engine export RUN) и откройте новый .zip.")
