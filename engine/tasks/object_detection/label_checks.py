"""Checking a picture's boxes against the picture once it is decoded: units, area, the picture's edges.

YOLO values above 1 are pixels where fractions are expected: a file that is pixels throughout, and whose boxes
fit the picture as pixels, is converted (and said so); otherwise those lines are left out with the reason.
A box slightly over an edge is clipped; one mostly outside, or without area, is left out.
"""

from __future__ import annotations

from typing import Any

from engine.data.problems import problem
from engine.tasks.object_detection.formats import Picture, RawBox

MIN_INSIDE = 0.5  # a box with less than this share of its area inside the picture is dropped, not clipped
MIN_SIDE_PX = 1.0  # a box thinner than this (after clipping) has no area to learn from
CLIP_SLACK_PX = 1.0  # rounding: boxes this close to an edge are clipped without a word


def _where(box: RawBox) -> str:
    return f"line {box.line}" if box.line is not None else "a box"


def _fits_as_pixels(box: RawBox, width: int, height: int) -> bool:
    x1, y1, x2, y2 = box.xyxy
    return -CLIP_SLACK_PX <= x1 and x2 <= width + CLIP_SLACK_PX and -CLIP_SLACK_PX <= y1 and \
        y2 <= height + CLIP_SLACK_PX


def _to_pixels(pic: Picture, width: int, height: int, problems: list) -> list[tuple[RawBox, list[float]]]:
    """Every usable box of the picture in pixels of the decoded picture (YOLO units resolved)."""
    out: list[tuple[RawBox, list[float]]] = []
    by_file: dict[str, list[RawBox]] = {}
    for box in pic.boxes:
        if not box.normalised:
            out.append((box, list(box.xyxy)))
        else:
            by_file.setdefault(box.file, []).append(box)
    for rel, boxes in by_file.items():
        suspects = [b for b in boxes if b.over_one]
        if suspects and len(suspects) == len(boxes) and all(_fits_as_pixels(b, width, height) for b in boxes):
            problems.append(problem(rel, "pixel_converted", "warning", f"All {len(boxes)} line(s) are in pixels, "
                                    "not the fractions of the picture's width and height that YOLO expects; they "
                                    f"fit the {width}×{height} picture as pixels, so they were converted — check "
                                    "that the boxes sit where they should.",
                                    {"n": len(boxes), "width": width, "height": height}))
            out.extend((b, list(b.xyxy)) for b in boxes)
            continue
        for b in suspects:
            line = f"line {b.line}"
            problems.append(problem(rel, "pixel_coords", "warning", f"{line.capitalize()} has values above 1: YOLO "
                                    "labels are fractions of the picture's width and height (0 to 1), and these "
                                    "look like pixels; the box was left out — divide x and width by the picture's "
                                    "width, y and height by its height.", {"line": b.line}))
        x_scale, y_scale = float(width), float(height)
        out.extend((b, [b.xyxy[0] * x_scale, b.xyxy[1] * y_scale, b.xyxy[2] * x_scale, b.xyxy[3] * y_scale])
                   for b in boxes if not b.over_one)
    return out


def check_boxes(pic: Picture, width: int, height: int, problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The picture's boxes as manifest boxes ({label, box: [x1, y1, x2, y2] pixels}); problems appended."""
    if pic.size_hint and pic.size_hint != (width, height) and pic.label_file:
        problems.append(problem(pic.label_file, "size_mismatch", "warning", f"Says '{pic.original}' is "
                                f"{pic.size_hint[0]}×{pic.size_hint[1]} pixels, but the picture is {width}×{height}; "
                                "the boxes were kept as written — check that they sit where they should.",
                                {"picture": pic.original, "stated": list(pic.size_hint), "actual": [width, height]}))
    result = []
    for box, (x1, y1, x2, y2) in _to_pixels(pic, width, height, problems):
        params = {"picture": pic.original, "line": box.line, "label": box.label}
        where = _where(box)
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            problems.append(problem(box.file, "box_zero_area", "warning", f"{where.capitalize()} ('{box.label}' on "
                                    f"'{pic.original}') has no area (its width or height is zero or negative); "
                                    "the box was left out.", params))
            continue
        cx1, cy1, cx2, cy2 = max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)
        inside = max(0.0, cx2 - cx1) * max(0.0, cy2 - cy1) / ((x2 - x1) * (y2 - y1))
        if inside < MIN_INSIDE or cx2 - cx1 < MIN_SIDE_PX or cy2 - cy1 < MIN_SIDE_PX:
            problems.append(problem(box.file, "box_outside", "warning", f"{where.capitalize()} ('{box.label}' on "
                                    f"'{pic.original}') lies mostly outside the {width}×{height} picture; the box "
                                    "was left out.", {**params, "inside": round(inside, 3)}))
            continue
        off = max(-x1, -y1, x2 - width, y2 - height)
        if off > CLIP_SLACK_PX:
            problems.append(problem(box.file, "box_clipped", "info", f"{where.capitalize()} ('{box.label}' on "
                                    f"'{pic.original}') reached {off:.0f} px over the picture's edge; it was "
                                    "clipped to the picture.", {**params, "over_px": round(off, 1)}))
        result.append({"label": box.label, "box": [round(v, 2) for v in (cx1, cy1, cx2, cy2)]})
    return result
