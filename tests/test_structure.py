"""The project's structure, checked with its own tool (engine.tools.deps): no import cycles, no module
over 500 lines outside ui/i18n, and an engine that imports neither the UI nor the cloud client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.tools import deps

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project() -> deps.Report:
    return deps.check(ROOT)


def test_the_project_has_no_import_cycle(project):
    assert project.cycles == [], "\n".join(deps.Report(cycles=project.cycles).lines())


def test_no_module_is_over_500_lines_outside_i18n(project):
    assert project.long_modules == [], "\n".join(deps.Report(long_modules=project.long_modules).lines())


def test_the_engine_imports_neither_ui_nor_cloud(project):
    assert project.forbidden == [], "\n".join(deps.Report(forbidden=project.forbidden).lines())


def test_the_scan_covers_every_part_of_the_project_but_the_templates():
    graph = deps.scan(ROOT)
    tops = {m.split(".")[0] for m in graph.modules}
    assert {"engine", "ui", "cloud", "launcher", "bench", "build"} <= tops
    assert "engine.tools.deps" in graph.modules and "ui.i18n.strings" in graph.modules
    assert not any(m.path.startswith(("export_templates/", "tests/")) for m in graph.modules.values())


# --- the checker itself, on a tiny tree ---------------------------------------------------------------

def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_cycle_through_a_function_level_import_is_found_with_the_names_that_tie_it(tmp_path):
    _write(tmp_path, {
        "engine/__init__.py": "",
        "engine/a.py": "from engine.b import helper\n",
        "engine/b.py": "def helper():\n    from engine.a import thing  # lazy, still a tie\n    return thing\n",
        "engine/c.py": "import engine.a\n",
    })
    report = deps.check(tmp_path)
    assert [c["modules"] for c in report.cycles] == [["engine.a", "engine.b"]]
    ties = {(t["source"], t["line"], t["target"], tuple(t["names"])) for t in report.cycles[0]["ties"]}
    assert ties == {("engine.a", 1, "engine.b", ("helper",)), ("engine.b", 2, "engine.a", ("thing",))}
    assert report.lines()[0].startswith("cycle: engine.a <-> engine.b: ")


def test_a_longer_cycle_is_one_finding_and_an_acyclic_tree_none(tmp_path):
    _write(tmp_path, {"engine/__init__.py": "", "engine/x.py": "import engine.y\n",
                      "engine/y.py": "import engine.z\n", "engine/z.py": "import engine.x\n"})
    assert [c["modules"] for c in deps.check(tmp_path).cycles] == [["engine.x", "engine.y", "engine.z"]]
    (tmp_path / "engine" / "z.py").write_text("import json\n", encoding="utf-8")
    assert not deps.check(tmp_path)


def test_from_package_import_module_points_at_the_module_not_the_package(tmp_path):
    # engine/__init__ imports p.m; p.m importing `from engine import sub` is then no cycle with engine itself.
    _write(tmp_path, {
        "engine/__init__.py": "from engine.p.m import VALUE\n",
        "engine/sub.py": "X = 1\n",
        "engine/p/__init__.py": "",
        "engine/p/m.py": "from engine import sub\nVALUE = sub.X\n",
    })
    graph = deps.scan(tmp_path)
    assert ("engine.p.m", "engine.sub") in {(e.source, e.target) for e in graph.edges}
    assert deps.check(tmp_path).cycles == []


def test_relative_imports_are_resolved(tmp_path):
    _write(tmp_path, {
        "engine/__init__.py": "",
        "engine/data/__init__.py": "from .importer import run\n",
        "engine/data/importer.py": "from . import checks\nfrom ..errors import Oops\n",
        "engine/data/checks.py": "from .importer import run\n",
        "engine/errors.py": "class Oops(Exception):\n    pass\n",
    })
    edges = {(e.source, e.target) for e in deps.scan(tmp_path).edges}
    assert {("engine.data", "engine.data.importer"), ("engine.data.importer", "engine.data.checks"),
            ("engine.data.importer", "engine.errors"), ("engine.data.checks", "engine.data.importer")} <= edges
    assert [c["modules"] for c in deps.check(tmp_path).cycles] == [["engine.data.checks", "engine.data.importer"]]


def test_an_import_only_for_type_checking_still_ties_two_modules(tmp_path):
    _write(tmp_path, {
        "engine/__init__.py": "",
        "engine/run.py": "from engine.spec import Spec\n",
        "engine/spec.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from engine.run import Run\n",
    })
    assert [c["modules"] for c in deps.check(tmp_path).cycles] == [["engine.run", "engine.spec"]]


def test_a_module_over_the_limit_is_reported_except_in_i18n(tmp_path):
    long = "x = 1\n" * 501
    _write(tmp_path, {"ui/__init__.py": "", "ui/big.py": long, "ui/i18n/strings.py": long,
                      "engine/__init__.py": "", "engine/fits.py": "x = 1\n" * 500})
    report = deps.check(tmp_path)
    assert [(m["path"], m["lines"]) for m in report.long_modules] == [("ui/big.py", 501)]
    assert report.lines() == ["long module: ui/big.py has 501 lines (at most 500)"]


def test_the_engine_importing_ui_or_cloud_is_forbidden_even_by_a_literal_module_name(tmp_path):
    _write(tmp_path, {
        "engine/__init__.py": "",
        "engine/cli.py": "def main():\n    from cloud.cli import run\n    return run\n",
        "engine/lazy.py": "import importlib\nRUNNERS = {'cloud': 'cloud.runner'}\n"
                          "def ui():\n    return importlib.import_module('ui.app')\n",
        "engine/plain.py": "TARGETS = ('local', 'cloud')\nRATES = 'cloud.yaml'\n",
        "cloud/__init__.py": "", "cloud/cli.py": "from engine import cli\n", "cloud/runner.py": "",
        "ui/__init__.py": "", "ui/app.py": "import engine.lazy\n",
    })
    report = deps.check(tmp_path)
    found = {(f["source"], f["line"], f["target"], f["how"]) for f in report.forbidden}
    assert found == {("engine.cli", 2, "cloud.cli", "import"), ("engine.lazy", 2, "cloud.runner", "string"),
                     ("engine.lazy", 4, "ui.app", "string")}
    # cloud and ui may import the engine; each loop back into them is a cycle as well, a finding of its own.
    assert [c["modules"] for c in report.cycles] == [["cloud.cli", "engine.cli"], ["engine.lazy", "ui.app"]]


def test_the_command_prints_one_line_a_finding_exits_1_and_speaks_json(tmp_path):
    _write(tmp_path, {"engine/__init__.py": "", "engine/a.py": "import engine.b\n", "engine/b.py": "import engine.a\n",
                      "engine/ui_user.py": "import ui\n", "ui/__init__.py": ""})
    cmd = [sys.executable, "-m", "engine.tools.deps", "--root", str(tmp_path)]
    text = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert text.returncode == 1
    assert text.stdout.splitlines() == ["cycle: engine.a <-> engine.b: engine.a:1 imports engine.b; "
                                        "engine.b:1 imports engine.a",
                                        "forbidden import: engine/ui_user.py:1 engine.ui_user imports ui"]
    data = subprocess.run(cmd + ["--json"], capture_output=True, text=True, cwd=ROOT)
    assert data.returncode == 1
    report = json.loads(data.stdout)
    assert set(report) == {"cycles", "long_modules", "forbidden"}
    assert report["cycles"][0]["modules"] == ["engine.a", "engine.b"] and report["long_modules"] == []
    (tmp_path / "engine" / "b.py").write_text("", encoding="utf-8")
    (tmp_path / "engine" / "ui_user.py").unlink()
    clean = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert (clean.returncode, clean.stdout) == (0, "")
