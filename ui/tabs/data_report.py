"""The Data tab's report on the imported data: the summary, a bar per class, thumbnails, the problems the
check found and the files it flagged."""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path

import pandas as pd

from engine.errors import UserError
from ui.i18n import problem_text, t

THUMBS_PER_CLASS = 6
THUMB_SIDE = 128
MAX_PROBLEM_ROWS = 500


def flagged_choices(lang: str, dataset_dir: Path) -> list[tuple[str, str]]:
    """(label, file) for each file of the dataset that the check warned about, at most MAX_PROBLEM_ROWS."""
    from engine.data.importer import flagged_files

    try:
        found = flagged_files(dataset_dir)
    except (OSError, ValueError, UserError):
        return []
    out = []
    for entry in found[:MAX_PROBLEM_ROWS]:
        kinds = ", ".join(dict.fromkeys(kind_name(lang, p.get("kind", "")) for p in entry["problems"]))
        out.append((f"{entry['file']} — {kinds}", entry["file"]))
    return out


def _split_counts(manifest: dict) -> Counter:
    return Counter((it["label"], it["split"]) for it in manifest["items"])


def summary_text(lang: str, manifest: dict) -> str:
    """What was imported: pictures, classes, the split, and a warning when a class is small."""
    counts = _split_counts(manifest)
    per_split = {s: sum(v for (_, sp), v in counts.items() if sp == s) for s in ("train", "val", "test")}
    per_class = Counter(it["label"] for it in manifest["items"])
    smallest = min(per_class.values()) if per_class else 0
    lines = [t(lang, "data.summary", name=manifest.get("name") or manifest["id"], n=len(manifest["items"]),
               k=len(manifest["classes"]), train=per_split["train"], val=per_split["val"], test=per_split["test"])]
    if smallest < 10:
        lines.append(t(lang, "data.few_images", n=smallest))
    return "\n\n".join(lines)


def counts_html(lang: str, manifest: dict) -> str:
    """A bar per class, split into training, validation and test pictures (plain HTML: any number of classes)."""
    counts = _split_counts(manifest)
    totals = Counter(it["label"] for it in manifest["items"])
    most = max(totals.values(), default=1)
    rows = []
    for label in manifest["classes"]:
        parts = "".join(f'<div class="k-{s}" style="width:{100 * counts.get((label, s), 0) / most:.1f}%" '
                        f'title="{html.escape(t(lang, "split." + s))}: {counts.get((label, s), 0)}"></div>'
                        for s in ("train", "val", "test"))
        rows.append(f'<div class="k-count-row"><span class="k-count-name">{html.escape(label)}</span>'
                    f'<div class="k-count-bar">{parts}</div><span>{totals[label]}</span></div>')
    legend = " ".join(f'<span class="k-dot k-{s}"></span>{html.escape(t(lang, "split." + s))}'
                      for s in ("train", "val", "test"))
    return f'<div class="k-counts">{"".join(rows)}<div class="k-legend">{legend}</div></div>'


def thumbnails(dataset_dir: Path, manifest: dict) -> list[tuple]:
    """A few small pictures per class (in memory: Gradio may not serve the workspace itself)."""
    from PIL import Image

    shown: Counter = Counter()
    out = []
    for it in manifest["items"]:
        if shown[it["label"]] >= THUMBS_PER_CLASS:
            continue
        try:
            with Image.open(dataset_dir / it["file"]) as img:
                img.draft("RGB", (THUMB_SIDE, THUMB_SIDE))
                thumb = img.convert("RGB")
                thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
        except OSError:
            continue
        shown[it["label"]] += 1
        out.append((thumb, it["label"]))
    return sorted(out, key=lambda x: manifest["classes"].index(x[1]))


def _problem_columns(lang: str) -> list[str]:
    return [t(lang, "data.col_file"), t(lang, "data.col_problem"), t(lang, "data.col_details")]


def no_problems_yet(lang: str) -> pd.DataFrame:
    """The problems table before any import: its headers, no rows (not Gradio's bare 1, 2, 3)."""
    return pd.DataFrame([], columns=_problem_columns(lang))


def problems_table(lang: str, dataset_dir: Path) -> pd.DataFrame | None:
    """The check's findings (errors first), a row each, in `lang`."""
    try:
        items = json.loads((dataset_dir / "problems.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        items = []
    columns = _problem_columns(lang)
    order = {"error": 0, "warning": 1, "info": 2}
    items = sorted(items, key=lambda p: order.get(p.get("severity"), 3))[:MAX_PROBLEM_ROWS]
    rows = [[p.get("file", ""), kind_name(lang, p.get("kind", "")), problem_text(lang, p)] for p in items
            if isinstance(p, dict)]
    if not rows:
        rows = [["", t(lang, "data.no_problems"), ""]]
    return pd.DataFrame(rows, columns=columns)


def kind_name(lang: str, kind: str) -> str:
    """A problem kind's name for people, in `lang` (the kind itself when it has none)."""
    key = f"problem.{kind}"
    try:
        return t(lang, key)
    except KeyError:
        return kind
