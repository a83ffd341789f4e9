"""Helpers shared by the benchmarks: machine description, result files, markdown sections.

Several benchmarks write into one docs/benchmarks.md; each owns the text between
`<!-- BEGIN name -->` and `<!-- END name -->` and never touches the rest of the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"  # git-ignored: raw results, logs, scratch workspaces
DOC = ROOT / "docs" / "benchmarks.md"
DOC_INTRO = """# Benchmarks

Speed and accuracy of Konstruktor measured on real data, written by the scripts in `bench/`
(see `bench/README.md`). Every figure below comes from a run of the command shown in its
section; nothing here is typed in by hand. Re-run a benchmark to refresh its section.
"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True, timeout=10).stdout.strip()
    return out.stdout.strip() + ("+changes" if dirty else "")


def machine(packages: Sequence[str] = ("torch", "onnxruntime", "timm", "numpy")) -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, memory, OS, package versions, git revision."""
    flags = _cpu_flags()
    simd = next((f for f in ("avx512f", "avx2", "avx", "neon", "asimd") if f in flags), None)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "simd": simd,
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": {p: _version(p) for p in packages},
        "git": _git_revision(),
    }


def machine_line(m: dict[str, Any]) -> str:
    """One markdown line describing the machine."""
    cpu = f"{m['cpu']}, {m['cores']} cores" + (f" ({m['simd']})" if m.get("simd") else "")
    mem = f", {m['memory_gib']} GiB RAM" if m.get("memory_gib") else ""
    pkgs = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    git = f"; code at `{m['git']}`" if m.get("git") else ""
    return f"{cpu}{mem}, no GPU used; Python {m['python']}, {pkgs}; {m['os']}{git}."


def mean_std(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    vals = list(values)
    if not vals:
        return float("nan"), float("nan")
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None) -> str:
    """A GitHub markdown table; `align` is one letter per column (l, r, c), default left."""
    align = align or "l" * len(headers)
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically, so an interrupted benchmark never leaves a half-written results file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def update_section(name: str, body: str, path: Path = DOC, intro: str = DOC_INTRO) -> Path:
    """Replace the text between this benchmark's markers in `path` (created with `intro`, or appended)."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else intro.rstrip() + "\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text, count=1)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def log(message: str, started: float | None = None) -> None:
    """Print a progress line with the time of day and, given `started`, the seconds since."""
    stamp = time.strftime("%H:%M:%S")
    elapsed = f" +{time.monotonic() - started:7.1f}s" if started is not None else ""
    print(f"[{stamp}{elapsed}] {message}", flush=True)


def snapshot_engine(dest: Path) -> dict[str, Any]:
    """Copy engine/ (with cloud/, which its CLI imports, and export_templates/) to dest: one benchmark, one code version.

    Others edit the engine while a long benchmark runs; every CLI call and in-process measurement
    runs from this copy instead of the live tree.
    """
    h = hashlib.sha256()
    for name in ("engine", "cloud", "export_templates"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in sorted((dest / "engine").rglob("*.py")):
        h.update(path.relative_to(dest).as_posix().encode())
        h.update(path.read_bytes())
    return {"sha256": h.hexdigest()[:12], "taken": now_iso(), "files": len(list((dest / "engine").rglob("*.py")))}
