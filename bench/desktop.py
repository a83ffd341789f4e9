"""The desktop app: build time, folder size, what each exclusion saves, and the time from launch to the UI.

    python -m bench.desktop            # both variants (with the CUDA libraries, and --cpu-only); ~20 min on 2 cores
    python -m bench.desktop --launches 5

Each variant is built by build/build.py, smoke-tested by it (browser training included), then launched
`--launches` times on a fresh workspace each, timing the seconds until /health answers; `python
launcher.py` from source is timed the same way beside it. Results: `.bench/desktop.json` and the
`desktop` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, machine, machine_line, md_table, mean_std, now_iso, update_section, write_json

sys.path.insert(0, str(ROOT / "build"))
import build as desktop  # noqa: E402 - build/build.py, the one script that builds and smoke-tests

RESULTS = ROOT / ".bench" / "desktop.json"
EXCLUDED = ("triton", "boto3", "botocore", "s3transfer")  # left out by build/konstruktor.spec
OURS_NEVER = ("pytest", "_pytest", "playwright", "moto", "ruff", "tests", "bench")


def package_size(name: str) -> int:
    """Bytes of an installed package's folder (what the bundle would copy), 0 when it is not installed."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return 0
    return desktop.folder_size(Path(next(iter(spec.submodule_search_locations))))


def biggest_parts(app_dir: Path, n: int = 8) -> list[tuple[str, int]]:
    inside = app_dir / "_internal"
    # Libraries PyInstaller links to the top level are symlinks into nvidia/ or torch/: not counted twice.
    sizes = [(p.name, desktop.folder_size(p) if p.is_dir() else p.stat().st_size)
             for p in inside.iterdir() if not p.is_symlink()]
    return sorted(sizes, key=lambda s: -s[1])[:n]


def launch_seconds(command: list[str], n: int) -> list[float]:
    """Seconds from start to /health answering, each time on a fresh workspace, the app stopped after."""
    times = []
    for _ in range(n):
        tmp = Path(tempfile.mkdtemp(prefix="konstruktor-launch-"))
        port = desktop._free_port()
        proc = subprocess.Popen([*command, "--no-browser", "--port", str(port), "--workspace", str(tmp / "ws")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                cwd=ROOT, env={**desktop.os.environ, "KONSTRUKTOR_OFFLINE": "1"})
        try:
            times.append(round(desktop._wait_for(f"http://127.0.0.1:{port}/health", proc, desktop.UI_WAIT_S), 2))
        finally:
            desktop.stop_app(proc)
            shutil.rmtree(tmp, ignore_errors=True)
    return times


def measure_variant(cpu_only: bool, launches: int) -> dict:
    figures = desktop.build(cpu_only=cpu_only)
    figures["parts"] = biggest_parts(desktop.APP_DIR)
    inside = {p.name for p in (desktop.APP_DIR / "_internal").iterdir()}
    figures["dev_files_inside"] = sorted(inside & set(OURS_NEVER))
    started = time.monotonic()
    try:
        smoke = desktop.smoke()
        figures["smoke"] = "passed"
        figures["smoke_browser"] = smoke.get("browser")
    except desktop.SmokeFailure as e:
        figures["smoke"] = f"failed: {e}"
    figures["smoke_s"] = round(time.monotonic() - started, 1)
    figures["launch_s"] = launch_seconds([str(desktop.EXE)], launches)
    return figures


def report(results: dict) -> str:
    m = results["machine"]
    gib = 2**30
    rows = []
    for name, v in results["variants"].items():
        mean, sd = mean_std(v["launch_s"])
        rows.append([name, f"{v['size_bytes'] / gib:.2f} GiB", f"{v['build_s']:.0f} s",
                     f"{mean:.1f} ± {sd:.1f} s ({', '.join(f'{t:.1f}' for t in v['launch_s'])})", v["smoke"]])
    src_mean, src_sd = mean_std(results["source_launch_s"])
    rows.append(["`python launcher.py` from source", "—", "—",
                 f"{src_mean:.1f} ± {src_sd:.1f} s ({', '.join(f'{t:.1f}' for t in results['source_launch_s'])})", "—"])
    table = md_table(["variant", "folder size", "build time", "launch → UI answers", "smoke test"], rows, "lrrrl")
    full = results["variants"].get("with CUDA libraries", {})
    parts = md_table(["inside `_internal/`", "size"],
                     [[n, f"{s / gib:.2f} GiB" if s >= gib / 10 else f"{s / 2**20:.0f} MiB"] for n, s in full.get("parts", [])],
                     "lr")
    saved = md_table(["left out", "size of the installed package (what it would add)"],
                     [[n, f"{s / 2**20:.0f} MiB"] for n, s in results["excluded"].items()], "lr")
    cpu = results["variants"].get("--cpu-only", {})
    cuda_saved = (full.get("size_bytes", 0) - cpu.get("size_bytes", 0)) / gib if cpu and full else None
    dev = sorted({f for v in results["variants"].values() for f in v["dev_files_inside"]})
    target_mean = mean_std(full.get("launch_s", [float("nan")]))[0]
    return f"""## Desktop app (PyInstaller)

Measured {results['date'][:10]} with `python -m bench.desktop --launches {results['launches']}` (total {results['total_min']:.0f} min).

Machine: {machine_line(m)}

Each variant is a one-folder build by `build/build.py` (PyInstaller {results['pyinstaller']}), then
smoke-tested by `build/build.py --smoke` (the frozen app answers, trains the sample from Chromium through
its own `engine train` child, a second start points to the running one, train + export + the exported
`predict.py` through its `engine` sub-command). "Launch → UI answers" is the time from starting the
executable to `/health` answering, each time on a fresh workspace (files in the OS page cache: a warm
start; a cold start after a reboot is slower by the disk's read time).

{table}

Target: the UI answers ≤ 8 s after launch — {'**met**' if target_mean <= 8 else '**not met**'} ({target_mean:.1f} s on average
with the CUDA libraries). torch, Ultralytics and albumentations are imported only when first needed (the
first training, test or preview), so start-up is Gradio's import and the page build.

The biggest parts of the build with the CUDA libraries:

{parts}

What the spec leaves out, and what each would have added:

{saved}

`--cpu-only` keeps only the CUDA libraries that torch links against (it cannot load without them) and
hides the GPU at start; it saves {f'{cuda_saved:.2f} GiB' if cuda_saved is not None else '—'}. A build
from torch's CPU-only wheel would drop the rest (the CUDA runtime is then not there at all); that wheel is
not on these machines, so it is not measured here. Project tests and dev tools found inside the bundle:
{', '.join(dev) if dev else 'none'} (checked for {', '.join(OURS_NEVER)}).

Raw results: `.bench/desktop.json` (git-ignored).
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--launches", type=int, default=3)
    p.add_argument("--report-only", action="store_true", help="rewrite the docs section from .bench/desktop.json")
    args = p.parse_args(argv)
    if args.report_only:
        import json

        update_section("desktop", report(json.loads(RESULTS.read_text(encoding="utf-8"))))
        return 0
    started = time.monotonic()
    import PyInstaller

    results = {"date": now_iso(), "launches": args.launches, "pyinstaller": PyInstaller.__version__,
               "machine": machine(("torch", "gradio", "ultralytics", "timm")), "variants": {},
               "excluded": {name: package_size(name) for name in EXCLUDED}}
    results["source_launch_s"] = launch_seconds([sys.executable, "launcher.py"], args.launches)
    for name, cpu_only in (("--cpu-only", True), ("with CUDA libraries", False)):
        print(f"building and measuring the {name} variant ...", flush=True)
        results["variants"][name] = measure_variant(cpu_only, args.launches)
        write_json(RESULTS, results)
    results["total_min"] = (time.monotonic() - started) / 60
    write_json(RESULTS, results)
    update_section("desktop", report(results))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
