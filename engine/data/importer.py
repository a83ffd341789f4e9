"""Import a folder, zip or CSV of labelled images into a checked, split, fingerprinted dataset folder.

The user's files are only ever read. Every file is decoded once with `engine.preprocess.load_image`
(and discarded), bad ones are listed in problems.json with a plain reason, and the good ones are
copied byte for byte into `<dest_root>/<dataset_id>/images/`. The folder appears in one rename, so
a crash never leaves a half-written dataset behind. This module must not import torch.

The files are found by `folder_scan` / `csv_scan`, checked by `checks`, and reported with the kinds and
codes of `problems`; this module builds the dataset folder from them (and derives one without some files).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.data import neardup
from engine.data.archive import ZipLimits, safe_extract
from engine.data.checks import check_file, drop_small_classes, near_problems, resolve_duplicates
from engine.data.csv_scan import scan_csv
from engine.data.folder_scan import Candidate, scan_folder
from engine.data.manifest import FORMAT, SPLITS, is_dataset_dir, load_manifest
from engine.data.problems import (
    ERRORS,
    KIND_TITLES,
    MIN_CLASS_SIZE,
    NEAR_KINDS,
    PROBLEM_CODES,
    SEVERITY_RANK,
    ImportReport,
    problem,
    refused,
    unreadable_code,
)
from engine.data.split import assign_splits, check_fractions
from engine.fsutil import atomic_write_json, read_json

# The importer's public names, those of the modules it is made of included (tests and the UI import them here).
__all__ = ["ERRORS", "KIND_TITLES", "NEAR_KINDS", "PROBLEM_CODES", "ImportReport", "exclude_files", "flagged_files",
           "import_dataset"]

Progress = Callable[[int, int], None]

_TEMP_PREFIXES = (".import-", ".unzip-")
STALE_TEMP_S = 24 * 3600


def import_dataset(
    source: str | Path,
    dest_root: str | Path,
    *,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    progress: Progress | None = None,
    zip_limits: ZipLimits | None = None,
    name: str | None = None,
    confined: bool = False,
) -> ImportReport:
    """Check, split and copy a labelled image collection into `<dest_root>/<dataset_id>/`.

    Importing the same images with the same split parameters again returns the existing folder
    (`reused=True`, with the manifest and problems.json written the first time). `confined` (a shared app):
    a CSV may name only files inside its own folder, never an absolute path or a `..` way out of it.
    """
    check_fractions(val_fraction, test_fraction)
    source = Path(source).expanduser()
    dest_root = Path(dest_root)
    if not source.exists():
        raise refused("import_missing", source=str(source))
    dest_root.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp(dest_root)
    build_args = dict(seed=seed, val_fraction=val_fraction, test_fraction=test_fraction, progress=progress,
                      name=name)
    if source.is_dir():
        files, problems = scan_folder(source, source, exclude=dest_root.resolve())
        return _build(files, problems, source, dest_root, **build_args)
    suffix = source.suffix.lower()
    if suffix == ".zip":
        unpacked = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIXES[1], dir=dest_root))
        try:
            if not safe_extract(source, unpacked, zip_limits):
                raise refused("import_zip_empty", name=source.name)
            files, problems = scan_folder(unpacked, unpacked)
            return _build(files, problems, source, dest_root, **build_args)
        finally:
            shutil.rmtree(unpacked, ignore_errors=True)
    if suffix == ".csv":
        files, problems = scan_csv(source, confined=confined)
        return _build(files, problems, source, dest_root, **build_args)
    if suffix:
        raise refused("import_kind", name=source.name, suffix=suffix)
    raise refused("import_no_suffix", name=source.name)


def _remove_stale_temp(dest_root: Path) -> None:
    """Delete temp folders left by an import that was killed; a day's age keeps running imports safe."""
    cutoff = time.time() - STALE_TEMP_S
    for path in dest_root.glob(".*"):
        if path.name.startswith(_TEMP_PREFIXES) and path.is_dir() and path.stat().st_mtime < cutoff:
            shutil.rmtree(path, ignore_errors=True)



# --- building the dataset folder ---------------------------------------------------------------


def _build(
    files: list[Candidate],
    problems: list[dict[str, Any]],
    source: Path,
    dest_root: Path,
    *,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    progress: Progress | None,
    name: str | None = None,
) -> ImportReport:
    given = any(f.split is not None for f in files)
    if not files:
        raise refused("import_no_images", name=source.name)
    good: list[Candidate] = []
    total = len(files)
    if progress:
        progress(0, total)
    for done, item in enumerate(files, 1):
        reason = check_file(item)
        if reason is None:
            good.append(item)
            problems.extend(problem(item.original, *note) for note in item.notes)
        else:
            problems.append(problem(item.original, "unreadable", "warning", f"Skipped: the file {reason}.",
                                     {"reason": reason}, code=unreadable_code(reason)))
        if progress:
            progress(done, total)
    if not good:
        raise refused("import_unreadable", n=total, name=source.name)
    seen_labels = {f.label for f in files}
    kept = drop_small_classes(resolve_duplicates(good, problems), seen_labels, given, problems)
    classes = sorted({f.label for f in kept})
    if not classes:
        raise refused("import_no_class_train" if given else "import_no_class", name=source.name, min=MIN_CLASS_SIZE)
    if len(classes) < 2:
        raise refused("import_one_class" if len(seen_labels) > 1 else "import_single_class", label=classes[0])
    close = neardup.pairs([f.look for f in kept])
    near = [[kept[i] for i in group] for group in neardup.groups(close)]

    if given:
        split_of = {f.sha256: f.split or "train" for f in kept}
        split_params: dict[str, Any] = {
            "source": "given",
            "seed": None,
            "val_fraction": None,
            "test_fraction": None,
        }
        assignment = "\n".join(sorted(f"{sha}\t{s}" for sha, s in split_of.items()))
        id_params = {"source": "given", "assignment": hashlib.sha256(assignment.encode()).hexdigest()}
    else:
        split_of = assign_splits(
            ((f.label, f.sha256) for f in kept),
            seed=seed,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            together=[[f.sha256 for f in group] for group in near],
        )
        split_params = {
            "source": "generated",
            "seed": seed,
            "val_fraction": val_fraction,
            "test_fraction": test_fraction,
        }
        if any(len({f.label for f in group}) < len(group) for group in near):
            # Recorded (and so part of the id) only when a class has copies to keep together: other datasets
            # keep the ids they had before this rule.
            split_params["near_duplicates"] = "same split"
        id_params = split_params
    members = {f.original: (f.label, split_of[f.sha256]) for f in kept}
    problems.extend(near_problems([(kept[a].original, kept[b].original) for a, b in close], members))
    fingerprint, dataset_id = _identity([(f.label, f.sha256) for f in kept], id_params)

    final = dest_root / dataset_id
    if is_dataset_dir(final):
        return _report(final, reused=True)

    index = {c: i for i, c in enumerate(classes)}
    kept.sort(key=lambda f: (index[f.label], SPLITS.index(split_of[f.sha256]), f.sha256))
    items = [
        {
            "file": f"images/{index[f.label]}/{f.sha256[:16]}{f.suffix}",
            "label": f.label,
            "sha256": f.sha256,
            "width": f.width,
            "height": f.height,
            "original": f.original,
            "split": split_of[f.sha256],
        }
        for f in kept
    ]
    manifest = {
        "format": FORMAT,
        "id": dataset_id,
        "fingerprint": fingerprint,
        "name": name or (source.stem if source.is_file() else source.name),
        "source": str(source.resolve()),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "classes": classes,
        "split": split_params,
        "items": items,
    }
    problems.sort(key=lambda p: (SEVERITY_RANK[p["severity"]], p["kind"], p["file"]))
    _write(final, kept, items, manifest, problems)
    return _report(final, reused=False)


def _write(
    final: Path, kept: list[Candidate], items: list[dict[str, Any]], manifest: dict, problems: list
) -> None:
    """Copy the images and write the JSON files into a hidden temp folder, then rename it into place."""
    staging = Path(tempfile.mkdtemp(prefix=f"{_TEMP_PREFIXES[0]}{final.name}-", dir=final.parent))
    try:
        by_sha = {f.sha256: f for f in kept}
        for item in items:
            target = staging / item["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(by_sha[item["sha256"]].path, "rb") as src, open(target, "xb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
                dst.flush()
                os.fsync(dst.fileno())
        atomic_write_json(staging / "problems.json", problems)
        atomic_write_json(staging / "manifest.json", manifest)
        if final.exists() and not is_dataset_dir(final):
            # A folder with our id but no readable manifest is debris (not written by us in one rename).
            shutil.rmtree(final)
        try:
            os.rename(staging, final)
        except OSError:
            if not is_dataset_dir(final):  # another import of the same data may have won the race
                raise
        _fsync_dir(final.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _report(dataset_dir: Path, *, reused: bool) -> ImportReport:
    manifest = load_manifest(dataset_dir)
    problems_path = dataset_dir / "problems.json"
    problems = read_json(problems_path) if problems_path.is_file() else []
    counts = {c: dict.fromkeys(SPLITS, 0) for c in manifest["classes"]}
    for item in manifest["items"]:
        counts[item["label"]][item["split"]] += 1
    return ImportReport(
        dataset_dir=dataset_dir, manifest=manifest, problems=problems, counts=counts, reused=reused
    )


# --- leaving flagged files out -----------------------------------------------------------------

_POINTS_AT_KEPT = ("duplicate", "leak")  # these name the dropped copy; the copy in the dataset is params["kept"]


def _identity(pairs: list[tuple[str, str]], id_params: dict[str, Any]) -> tuple[str, str]:
    """(content fingerprint of the labelled images, dataset id = fingerprint + how it was split)."""
    fingerprint = hashlib.sha256("\n".join(sorted(f"{label}\t{sha}" for label, sha in pairs)).encode("utf-8")).hexdigest()
    dataset_id = hashlib.sha256(f"{FORMAT}\n{fingerprint}\n{json.dumps(id_params, sort_keys=True)}".encode()).hexdigest()[:12]
    return fingerprint, dataset_id


def _near_pairs(problems: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The pairs of look-alikes that the near-duplicate problems of a problems.json name."""
    return [(p.get("file"), other) for p in problems if p.get("kind") in NEAR_KINDS
            for other in (p.get("params") or {}).get("others") or []]


def flagged_files(dataset_dir: str | Path) -> list[dict[str, Any]]:
    """Files of the dataset that problems.json has warnings on: [{"file": original, "problems": [...]}], in order.

    A duplicate's problem names the copy that was dropped; the flag goes to the copy that was kept.
    """
    manifest = load_manifest(dataset_dir)
    present = {it["original"] for it in manifest["items"]}
    path = Path(dataset_dir) / "problems.json"
    problems = read_json(path) if path.is_file() else []
    found: dict[str, list[dict[str, Any]]] = {}
    for p in problems if isinstance(problems, list) else []:
        # Errors are on files that were left out already; info (a conversion, say) is no reason to drop one.
        if not isinstance(p, dict) or p.get("severity") != "warning":
            continue
        target = p.get("file")
        if target not in present and p.get("kind") in _POINTS_AT_KEPT:
            target = (p.get("params") or {}).get("kept")
        if target in present:
            found.setdefault(target, []).append(p)
    return [{"file": f, "problems": ps} for f, ps in found.items()]


def exclude_files(dataset_dir: str | Path, files: list[str], dest_root: str | Path | None = None) -> ImportReport:
    """A new dataset: `dataset_dir` without the items whose original path is in `files`, splits unchanged.

    The old dataset is not touched, so runs trained on it stay valid; the new one has its own id and
    fingerprint and lists the left-out files in problems.json (kind "excluded").
    """
    from engine.data.bins import coded_error

    dataset_dir = Path(dataset_dir)
    manifest = load_manifest(dataset_dir)
    dest_root = Path(dest_root) if dest_root is not None else dataset_dir.parent
    drop = {f for f in files if isinstance(f, str)} & {it["original"] for it in manifest["items"]}
    if not drop:
        raise coded_error("exclude_none")
    kept_items = [it for it in manifest["items"] if it["original"] not in drop]
    for label in manifest["classes"]:
        members = [it for it in kept_items if it["label"] == label]
        if len(members) < MIN_CLASS_SIZE or not any(it["split"] == "train" for it in members):
            raise coded_error("exclude_empties_class", label=label, min=MIN_CLASS_SIZE)
    assignment = "\n".join(sorted(f"{it['sha256']}\t{it['split']}" for it in kept_items))
    id_params = {"source": "excluded", "assignment": hashlib.sha256(assignment.encode()).hexdigest()}
    fingerprint, dataset_id = _identity([(it["label"], it["sha256"]) for it in kept_items], id_params)
    final = dest_root / dataset_id
    if is_dataset_dir(final):
        return _report(final, reused=True)
    excluded = sorted(set(manifest.get("excluded") or []) | drop)
    new_manifest = {
        **manifest,
        "id": dataset_id,
        "fingerprint": fingerprint,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "derived_from": manifest["id"],
        "excluded": excluded,
        "items": kept_items,
    }
    path = dataset_dir / "problems.json"
    old = read_json(path) if path.is_file() else []
    problems = [p for p in old if p.get("file") not in drop and (p.get("params") or {}).get("kept") not in drop
                and p.get("kind") not in NEAR_KINDS]
    problems += near_problems(_near_pairs(old), {it["original"]: (it["label"], it["split"]) for it in kept_items})
    problems += [
        problem(f, "excluded", "info", f"Left out by hand from dataset {manifest['id']}.", {"dataset": manifest["id"]})
        for f in sorted(drop)
    ]
    problems.sort(key=lambda p: (SEVERITY_RANK.get(p.get("severity"), 3), p.get("kind", ""), p.get("file", "")))
    sources = [Candidate(dataset_dir / it["file"], it["original"], it["label"], it["split"], sha256=it["sha256"])
               for it in kept_items]
    _write(final, sources, kept_items, new_manifest, problems)
    return _report(final, reused=False)
