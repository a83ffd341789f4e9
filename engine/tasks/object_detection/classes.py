"""A picture's main class: what a detection split is stratified on and what per-class picture counts use.

It lives alone so that the importer and the dataset schema (`dataset.py`, which re-exports it) share it
without importing each other.
"""

from __future__ import annotations


def main_label(boxes: list[dict], classes: list[str]) -> str | None:
    """The class with most boxes on a picture (the earlier class on a tie); None without boxes."""
    if not boxes:
        return None
    counts: dict[str, int] = {}
    for b in boxes:
        counts[b["label"]] = counts.get(b["label"], 0) + 1
    order = {name: i for i, name in enumerate(classes)}
    return min(counts, key=lambda name: (-counts[name], order.get(name, len(order))))
