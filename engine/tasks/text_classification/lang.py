"""Which script a text is written in, roughly its language: Cyrillic (Russian), Latin (English), other."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

LANGUAGES = ("ru", "en", "other")


def language(text: str) -> str:
    """"ru" when most letters are Cyrillic, "en" when most are Latin, else "other" (or no letters)."""
    cyr = lat = other = 0
    for ch in text:
        if not ch.isalpha():
            continue
        if "\u0400" <= ch <= "\u04ff":
            cyr += 1
        elif ch.isascii() or "\u00c0" <= ch <= "\u024f":
            lat += 1
        else:
            other += 1
    total = cyr + lat + other
    if total == 0:
        return "other"
    if cyr / total > 0.5:
        return "ru"
    if lat / total > 0.5:
        return "en"
    return "other"


def language_counts(texts: Iterable[str]) -> dict[str, int]:
    """Texts per language, every language listed."""
    counts = Counter(language(t) for t in texts)
    return {lang: int(counts.get(lang, 0)) for lang in LANGUAGES}


def mixed(counts: dict[str, int], share: float = 0.1) -> list[str]:
    """The languages that each hold at least `share` of the texts, when more than one does (else [])."""
    total = sum(counts.values()) or 1
    big = [lang for lang, n in counts.items() if n / total >= share]
    return big if len(big) > 1 else []
