"""The export of a text run: a package whose predict.py gives the engine's labels and probabilities (the parity
gate, and again from the outside), and which runs in a fresh venv with only numpy and the encoder's wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import textgen

from engine.__main__ import main
from engine.errors import UserError
from engine.export import export_run
from engine.tasks.text_classification import export as text_export
from engine.tasks.text_classification.pipeline import predict_files

SENTENCES = ["the courier lost my parcel", "мой пароль не подходит", "card was charged twice"]


@pytest.fixture(scope="module", params=["tfidf-char", "use-multilingual"])
def exported(request, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp(request.param)
    data = textgen.write_csv(root / "t.csv", textgen.texts("en", 10) + textgen.texts("ru", 10))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KONSTRUKTOR_WORKSPACE", str(root / "ws"))
        run = root / "run"
        assert main(["train", "--data", str(data), "--model", request.param, "--out", str(run), "--quiet"]) == 0
        export_run(run, out=root / "pkg")
    return run, root / "pkg"


def package(pkg: Path, *args: str, python: str = sys.executable, env: dict | None = None) -> list[dict]:
    out = subprocess.run([python, str(pkg / "predict.py"), *args, "--json"], capture_output=True, text=True,
                         cwd=pkg.parent, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_package_passed_the_parity_gate_and_holds_no_torch_code(exported):
    _, pkg = exported
    report = json.loads((pkg / "export_report.json").read_text(encoding="utf-8"))
    assert report["parity"]["same_labels"] and report["parity"]["max_abs_diff"] <= 1e-4
    assert {"predict.py", "textmodel.py", "head.npz", "text_model.json", "requirements.txt"} <= set(report["files"])
    assert "torch" not in (pkg / "requirements.txt").read_text() and "import torch" not in (pkg / "textmodel.py").read_text()


def test_predict_py_gives_the_engines_labels_and_probabilities_for_texts_lines_and_csv(exported, tmp_path):
    run, pkg = exported
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(SENTENCES), encoding="utf-8")
    table = textgen.write_csv(tmp_path / "t.csv", [(s, "?") for s in SENTENCES])
    engine = predict_files(run, [], text=SENTENCES)
    for args in (sum((["--text", s] for s in SENTENCES), []), [str(lines)], [str(table)]):
        ours = package(pkg, *args)
        assert [r["label"] for r in ours] == [r["label"] for r in engine]
        assert np.allclose([r["prob"] for r in ours], [r["prob"] for r in engine], atol=1e-4)


def test_a_package_that_predicts_differently_is_not_written(exported, tmp_path, monkeypatch):
    run, _ = exported

    class Off:
        def __init__(self, model):
            self.model = model

        def predict_proba(self, texts):
            return self.model.predict_proba(texts)[:, ::-1]

    real = text_export._package_model
    monkeypatch.setattr(text_export, "_package_model", lambda work: Off(real(work)))
    with pytest.raises(UserError, match="predicts differently"):
        export_run(run, out=tmp_path / "bad")
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


@pytest.mark.slow
def test_the_package_runs_in_a_fresh_venv_with_only_numpy_and_the_encoders_wheel(exported, tmp_path):
    run, pkg = exported
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    pip = subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(pkg / "requirements.txt")],
                         capture_output=True, text=True, env=clean, timeout=600)
    assert pip.returncode == 0, pip.stderr
    assert subprocess.run([str(py), "-c", "import torch"], capture_output=True, env=clean).returncode != 0
    ours = package(pkg, *sum((["--text", s] for s in SENTENCES), []), python=str(py), env=clean)
    engine = predict_files(run, [], text=SENTENCES)
    assert [r["label"] for r in ours] == [r["label"] for r in engine]
    assert np.allclose([r["prob"] for r in ours], [r["prob"] for r in engine], atol=1e-4)
