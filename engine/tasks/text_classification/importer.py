"""Import labelled texts (a CSV/TSV, a folder of class folders of .txt files, a zip of either) into a dataset folder.

The folder holds manifest.json (the texts themselves are in its items) and problems.json, and appears in one
rename. The split is engine.data's seeded stratified split, near duplicates of a class kept on one side of it.
No torch here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.data.archive import ZipLimits, safe_extract
from engine.data.manifest import FORMAT, SPLITS, is_dataset_dir
from engine.data.problems import SEVERITY_RANK, ImportReport, problem, refused
from engine.data.split import assign_splits, check_fractions
from engine.fsutil import atomic_write_json, read_json
from engine.tasks.text_classification import checks
from engine.tasks.text_classification.lang import language, language_counts, mixed
from engine.tasks.text_classification.textio import Entry, read_csv, read_folder
from engine.tasks.text_classification.textio import refused as text_refused

TASK_NAME = "text-classification"


def import_text(source: str | Path, dest_root: str | Path, *, seed: int = 0, val_fraction: float = 0.15,
                test_fraction: float = 0.15, zip_limits: ZipLimits | None = None, name: str | None = None,
                **_: Any) -> ImportReport:
    """Read, check, split and write `source` as `<dest_root>/<dataset_id>/`; the same texts again reuse it."""
    check_fractions(val_fraction, test_fraction)
    source = Path(source).expanduser()
    if not source.exists():
        raise refused("import_missing", source=str(source))
    dest_root = Path(dest_root)
    dest_root.mkdir(parents=True, exist_ok=True)
    suffix = source.suffix.lower()
    if source.is_dir():
        entries, problems = read_folder(source, source.name)
    elif suffix in (".csv", ".tsv"):
        entries, problems = read_csv(source)
    elif suffix == ".zip":
        unpacked = Path(tempfile.mkdtemp(prefix=".unzip-", dir=dest_root))
        try:
            if not safe_extract(source, unpacked, zip_limits):
                raise refused("import_zip_empty", name=source.name)
            entries, problems = read_folder(_single_top(unpacked), source.name)
        finally:
            shutil.rmtree(unpacked, ignore_errors=True)
    else:
        raise text_refused("text_kind", name=source.name, suffix=suffix or "file without an extension")
    return build(entries, problems, source, dest_root, seed=seed, val_fraction=val_fraction,
                 test_fraction=test_fraction, name=name)


def _single_top(folder: Path) -> Path:
    """A zip that holds one folder (of class folders) is read from inside it."""
    inside = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(inside) == 1 and inside[0].is_dir() and any(p.is_dir() for p in inside[0].iterdir()):
        return inside[0]
    return folder


def build(entries: list[Entry], problems: list[dict], source: Path, dest_root: Path, *, seed: int,
          val_fraction: float, test_fraction: float, name: str | None = None) -> ImportReport:
    """The checks, the split and the dataset folder of texts already read."""
    if not entries:
        raise text_refused("text_none", name=source.name)
    kept = checks.drop_small_classes(checks.resolve_duplicates(checks.clean(entries, problems), problems), problems)
    classes = sorted({e.label for e in kept})
    if not classes:
        raise refused("import_no_class", name=source.name, min=checks.MIN_CLASS_SIZE)
    if len(classes) < 2:
        raise refused("import_one_class", label=classes[0])
    close = checks.near_pairs(kept)
    problems.extend(checks.near_problems(kept, close))
    langs = language_counts(e.text for e in kept)
    both = mixed(langs)
    if both:
        problems.append(problem(source.name, "mixed_languages", "info",
                                "The texts are in more than one language (" + ", ".join(f"{lang} {langs[lang]}"
                                for lang in both) + "); a multilingual encoder is chosen.", {"languages": langs}))
    hashes = [checks.sha(e.text) for e in kept]
    split_params = {"source": "generated", "seed": seed, "val_fraction": val_fraction, "test_fraction": test_fraction}
    split_of = assign_splits(zip((e.label for e in kept), hashes, strict=True), seed=seed, val_fraction=val_fraction,
                             test_fraction=test_fraction,
                             together=[[hashes[i], hashes[j]] for i, j in close if kept[i].label == kept[j].label])
    fingerprint = hashlib.sha256("\n".join(sorted(f"{e.label}\t{h}" for e, h in zip(kept, hashes, strict=True)))
                                 .encode("utf-8")).hexdigest()
    dataset_id = hashlib.sha256(f"{FORMAT}\n{TASK_NAME}\n{fingerprint}\n{json.dumps(split_params, sort_keys=True)}"
                                .encode()).hexdigest()[:12]
    final = dest_root / dataset_id
    if is_dataset_dir(final):
        return report_of(final, reused=True)
    index = {c: i for i, c in enumerate(classes)}
    order = sorted(range(len(kept)), key=lambda i: (index[kept[i].label], SPLITS.index(split_of[hashes[i]]), hashes[i]))
    items = [{"id": hashes[i][:16], "text": kept[i].text, "label": kept[i].label, "sha256": hashes[i],
              "original": kept[i].original, "split": split_of[hashes[i]], "lang": language(kept[i].text),
              "chars": len(kept[i].text)} for i in order]
    manifest = {"format": FORMAT, "task": TASK_NAME, "id": dataset_id, "fingerprint": fingerprint,
                "name": name or (source.stem if source.is_file() else source.name), "source": str(source.resolve()),
                "created": datetime.now(UTC).isoformat(timespec="seconds"), "classes": classes, "split": split_params,
                "languages": langs, "items": items}
    problems.sort(key=lambda p: (SEVERITY_RANK[p["severity"]], p["kind"], p["file"]))
    _write(final, manifest, problems)
    return report_of(final, reused=False)


def _write(final: Path, manifest: dict, problems: list[dict]) -> None:
    """The JSON files in a hidden staging folder, renamed into place in one step."""
    staging = Path(tempfile.mkdtemp(prefix=f".import-{final.name}-", dir=final.parent))
    try:
        atomic_write_json(staging / "problems.json", problems)
        atomic_write_json(staging / "manifest.json", manifest)
        if final.exists() and not is_dataset_dir(final):
            shutil.rmtree(final)
        try:
            os.rename(staging, final)
        except OSError:
            if not is_dataset_dir(final):  # another import of the same texts won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def report_of(dataset_dir: Path, *, reused: bool) -> ImportReport:
    """The ImportReport of a dataset folder of texts."""
    from engine.data.manifest import load_manifest

    manifest = load_manifest(dataset_dir)
    path = dataset_dir / "problems.json"
    problems = read_json(path) if path.is_file() else []
    counts = {c: dict.fromkeys(SPLITS, 0) for c in manifest["classes"]}
    for item in manifest["items"]:
        counts[item["label"]][item["split"]] += 1
    return ImportReport(dataset_dir=dataset_dir, manifest=manifest, problems=problems, counts=counts, reused=reused)
