"""The checks of an import of texts: empty, too long, exact and near duplicates (across classes: a labelling
conflict), classes too small to learn from. Pure functions on Entry lists; problems are engine.data problems."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict

from engine.data.problems import problem
from engine.tasks.text_classification.textio import Entry

MAX_CHARS = 2000  # longer texts are cut here (encoders read ~512 tokens at most)
MIN_CLASS_SIZE = 2  # smaller classes are dropped
FEW_EXAMPLES = 5  # classes smaller than this are kept with a warning
NEAR_JACCARD = 0.85  # share of shared character 3-grams above which two texts count as near duplicates
NEAR_LIMIT = 3000  # near duplicates are looked for among at most this many texts (the comparison is pairwise)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalised(text: str) -> str:
    """Lower case, words only, single spaces: what a near duplicate shares."""
    return " ".join(re.findall(r"\w+", text.lower()))


def clean(entries: list[Entry], problems: list[dict]) -> list[Entry]:
    """Entries without the empty ones, with surrounding whitespace stripped and long texts cut (with a note)."""
    kept = []
    for e in entries:
        text = e.text.strip()
        if not text:
            problems.append(problem(e.original, "empty_text", "warning", f"Skipped '{e.original}': the text is empty."))
            continue
        if len(text) > MAX_CHARS:
            problems.append(problem(e.original, "long_text", "info",
                                    f"'{e.original}' has {len(text)} characters; only the first {MAX_CHARS} are used.",
                                    {"chars": len(text), "max": MAX_CHARS}))
            text = text[:MAX_CHARS]
        kept.append(Entry(text, e.label, e.original))
    return kept


def resolve_duplicates(entries: list[Entry], problems: list[dict]) -> list[Entry]:
    """One copy of a text repeated within a class; every copy of a text given two labels is left out."""
    by_text: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        by_text[e.text].append(e)
    kept = []
    for copies in by_text.values():
        labels = sorted({e.label for e in copies})
        if len(labels) > 1:
            for e in copies:
                problems.append(problem(e.original, "conflict", "error",
                                        f"Left out '{e.original}': the same text is labelled {' and '.join(labels)}.",
                                        {"labels": labels}))
            continue
        kept.append(copies[0])
        for e in copies[1:]:
            problems.append(problem(e.original, "duplicate", "info",
                                    f"'{e.original}' repeats '{copies[0].original}' (one copy kept).",
                                    {"kept": copies[0].original}))
    return kept


def drop_small_classes(entries: list[Entry], problems: list[dict]) -> list[Entry]:
    """Entries of classes with at least MIN_CLASS_SIZE texts; smaller classes reported and dropped."""
    counts: dict[str, int] = defaultdict(int)
    for e in entries:
        counts[e.label] += 1
    for label, n in sorted(counts.items()):
        if n < MIN_CLASS_SIZE:
            problems.append(problem(label, "small_class", "warning",
                                    f"Class '{label}' has {n} text(s); a class needs at least {MIN_CLASS_SIZE}, so it "
                                    f"was left out.", {"label": label, "n": n, "min": MIN_CLASS_SIZE}))
        elif n < FEW_EXAMPLES:
            problems.append(problem(label, "few_examples", "warning",
                                    f"Class '{label}' has only {n} texts; {FEW_EXAMPLES} or more make a steadier "
                                    f"classifier.", {"label": label, "n": n}))
    return [e for e in entries if counts[e.label] >= MIN_CLASS_SIZE]


def _grams(text: str) -> set[str]:
    t = f" {normalised(text)} "
    return {t[i:i + 3] for i in range(max(1, len(t) - 2))}


def near_pairs(entries: list[Entry]) -> list[tuple[int, int]]:
    """Index pairs of texts that are near duplicates (same words, or most character 3-grams shared)."""
    grams = [_grams(e.text) for e in entries[:NEAR_LIMIT]]
    pairs = []
    for i in range(len(grams)):
        a = grams[i]
        for j in range(i + 1, len(grams)):
            b = grams[j]
            small, large = sorted((len(a), len(b)))
            if small < NEAR_JACCARD * large:  # cannot reach the threshold: skip the set algebra
                continue
            if len(a & b) >= NEAR_JACCARD * len(a | b):
                pairs.append((i, j))
    return pairs


def near_problems(entries: list[Entry], pairs: list[tuple[int, int]]) -> list[dict]:
    """A problem per text with a near duplicate: another class's is a labelling conflict, its own class's a note."""
    out = []
    for i, j in pairs:
        a, b = entries[i], entries[j]
        if a.label != b.label:
            for x, y in ((a, b), (b, a)):
                out.append(problem(x.original, "near_conflict", "warning",
                                   f"'{x.original}' ({x.label}) reads almost the same as '{y.original}' ({y.label}); "
                                   f"check the labels.", {"others": [y.original], "labels": [x.label, y.label]}))
        else:
            out.append(problem(b.original, "near_duplicate", "info",
                               f"'{b.original}' reads almost the same as '{a.original}' (both kept, in one split).",
                               {"others": [a.original]}))
    return out
