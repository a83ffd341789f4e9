"""Export tab: take a finished model away: the ready-to-run ONNX package that `engine export` builds
(in a child process, so the page stays responsive), and the PyTorch checkpoint with its class names."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from engine.runner import engine_env, export_command
from ui.i18n import t
from ui.state import (
    PRIVATE,
    Ctx,
    chosen_run_id,
    default_run,
    download_copy,
    log,
    message,
    project_runs,
    project_task,
    run_choices,
    run_dir_of,
)

ID = "export"
PARITY_FILES = {"onnx": "model.onnx", "torch": "model.pt", "torchscript": "model.torchscript.pt"}


def build(ctx: Ctx, tab: gr.Tab) -> None:
    T = ctx.texts.make
    ws = ctx.ws
    T(gr.Markdown, {"value": "export.intro"})
    run = T(gr.Dropdown, {"label": "common.run"}, choices=[], value=None, interactive=True, elem_id="k-export-run")
    with gr.Row():
        make = T(gr.Button, {"value": "export.package"}, variant="primary", elem_id="k-export-package")
        int8 = T(gr.Checkbox, {"label": "export.int8"}, value=False, elem_id="k-export-int8")
    contents = gr.Markdown(elem_id="k-export-contents")  # what the package holds, as the project's task says
    summary = gr.Markdown(elem_id="k-export-summary")
    package = T(gr.DownloadButton, {"label": "export.download_package"}, value=None, interactive=False,
                elem_id="k-dl-package")
    with gr.Row():
        checkpoint = T(gr.DownloadButton, {"label": "export.checkpoint"}, value=None,
                       interactive=False, elem_id="k-dl-checkpoint")
        labels = T(gr.DownloadButton, {"label": "export.labels"}, value=None, interactive=False, elem_id="k-dl-labels")
    note = gr.Markdown(elem_id="k-export-note")

    def prepare(pid, lang, run_id):
        """Stage the run's files where Gradio may serve them, and arm the buttons."""
        off = gr.update(value=None, interactive=False)
        if not run_id:
            return off, off, t(lang, "export.no_run")
        try:
            run_dir = run_dir_of(ws, pid, run_id)
            best = run_dir / "checkpoints" / "best.pt"
            names = run_dir / "labels.json"
            if not best.exists():  # an imported ONNX package: its labels, and the package from Make
                return (off, gr.update(value=download_copy(names, f"{run_id}-labels.json"), interactive=True),
                        t(lang, "export.ready_imported"))
            size = best.stat().st_size / 1e6
            return (gr.update(value=download_copy(best, f"{run_id}-best.pt"), interactive=True),
                    gr.update(value=download_copy(names, f"{run_id}-labels.json"), interactive=True),
                    t(lang, "export.ready", size=f"{size:.1f}"))
        except Exception as e:
            return off, off, message(lang, e)

    def export(pid, lang, run_id, quantize):
        """Run `engine export` in a child process; say what it is doing, then summarise and offer the .zip."""
        off = gr.update(value=None, interactive=False)
        if not run_id:
            yield gr.update(), off, t(lang, "export.no_run")
            return
        yield gr.update(interactive=False), off, t(lang, "export.working")
        try:
            run_dir = run_dir_of(ws, pid, run_id)
            outcome = None
            for outcome in _run_export(run_dir, ws.root, "int8" if quantize else None):
                if isinstance(outcome, str):  # a progress line of the engine
                    yield gr.update(), off, t(lang, "export.step", step=outcome)
            code, out, err = outcome
            if code != 0:
                yield gr.update(interactive=True), off, _failure(lang, code, err)
                return
            result = _parse_json(out)
            zip_path = Path(result["zip"])
            staged = download_copy(zip_path, f"{run_id}-{zip_path.name}")
            yield (gr.update(interactive=True), gr.update(value=staged, interactive=True),
                   _summary(lang, result["report"], zip_path.stat().st_size))
        except Exception as e:
            yield gr.update(interactive=True), off, message(lang, e)

    def forget(_run_id):
        """Another run chosen: the package made for the previous one is no longer on offer."""
        return gr.update(value=None, interactive=False), ""

    def refresh(pid, lang):
        runs = project_runs(ws, pid)
        chosen = chosen_run_id(ws, pid)
        value = default_run(runs, chosen)
        return gr.update(choices=run_choices(lang, runs, chosen), value=value), contents_line(lang, project_task(ws, pid))

    ctx.on_refresh(refresh, [run, contents])
    outputs = [checkpoint, labels, note]
    run.input(prepare, [ctx.pid, ctx.lang, run], outputs, **PRIVATE)
    run.change(forget, [run], [package, summary], show_progress="hidden", **PRIVATE)
    tab.select(prepare, [ctx.pid, ctx.lang, run], outputs, **PRIVATE)
    make.click(export, [ctx.pid, ctx.lang, run, int8], [make, package, summary], show_progress="minimal",
               **PRIVATE)


def contents_line(lang: str, task) -> str:
    """The files the task's package holds (TaskUI.export_files), as one line."""
    return t(lang, "export.contents", files=", ".join(f"`{name}`" for name in task.ui.export_files))


def _run_export(run_dir: Path, workspace_root: Path, quantize: str | None):
    """Yield the engine's progress lines as they come, then (exit code, stdout, stderr)."""
    with tempfile.TemporaryFile() as out:  # a file, so a large report can never block the child on a full pipe
        proc = subprocess.Popen(export_command(run_dir, quantize=quantize), cwd=run_dir,
                                env=engine_env(workspace_root), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace")
        lines = []
        try:
            for line in proc.stderr:
                lines.append(line.rstrip("\n"))
                if line.rstrip().endswith("..."):  # the engine's steps ("Exporting ONNX ..."), not warnings
                    yield line.strip()
            code = proc.wait()
        finally:
            if proc.poll() is None:  # the page went away mid-export: don't leave the child running
                proc.kill()
                proc.wait()
        out.seek(0)
        yield code, out.read().decode("utf-8", errors="replace"), "\n".join(lines)


def _parse_json(out: str) -> dict[str, Any]:
    """The report JSON on stdout; anything a library printed before it is skipped."""
    text = "\n" + out
    return json.loads(text[text.rfind("\n{\n") + 1:])


def _failure(lang: str, code: int, err: str) -> str:
    """Exit 2 is a UserError: its one sentence. Anything else is a crash: a short note, the rest to the log."""
    said = [line[len("error:"):].strip() for line in err.splitlines() if line.startswith("error:")]
    if code == 2 and said:
        return t(lang, "export.failed", why=said[-1])
    log.error("engine export ended with exit code %s:\n%s", code, err[-20_000:])
    return t(lang, "export.crashed", code=code)


def _summary(lang: str, report: dict[str, Any], zip_bytes: int) -> str:
    files = report.get("files", {})
    lines = [t(lang, "export.done", size=f"{zip_bytes / 1e6:.1f}"),
             t(lang, "export.files", files=", ".join(f"`{name}`" for name in files))]
    for fmt, res in report.get("parity", {}).items():
        lines.append(t(lang, "export.parity", file=PARITY_FILES.get(fmt, fmt), n=res["n"],
                       agree=f"{100 * res['top1_agreement']:.0f}", diff=f"{res['max_abs_diff']:.1e}"))
    q = report.get("int8")
    if q:
        lines.append(t(lang, "export.int8_change", change=f"{q['accuracy_change_points']:+.1f}",
                       int8=f"{100 * q['accuracy_int8']:.1f}", fp32=f"{100 * q['accuracy_fp32']:.1f}",
                       size=f"{files.get('model.int8.onnx', 0) / 1e6:.1f}",
                       fp32_size=f"{files.get('model.onnx', 0) / 1e6:.1f}"))
    return "\n\n".join(lines[:2]) + "\n\n" + "\n".join(f"- {line}" for line in lines[2:])
