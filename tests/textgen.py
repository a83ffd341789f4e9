"""Tiny generated texts with a learnable signal: each topic has its own words, mixed with shared filler words."""

from __future__ import annotations

import csv
import random
from pathlib import Path

TOPICS = {
    "en": {
        "delivery": ["courier", "parcel", "shipping", "arrived", "tracking", "delivery"],
        "payment": ["card", "charged", "invoice", "payment", "bank", "declined"],
        "account": ["password", "login", "account", "email", "locked", "username"],
    },
    "ru": {
        "доставка": ["курьер", "посылка", "доставка", "привезли", "трек", "отправление"],
        "оплата": ["карта", "списали", "счёт", "оплата", "банк", "платёж"],
        "аккаунт": ["пароль", "вход", "аккаунт", "почта", "заблокирован", "логин"],
    },
}
FILLER = {"en": ["please", "help", "my", "the", "today", "again", "still", "why", "is", "not", "working", "hello"],
          "ru": ["пожалуйста", "помогите", "мой", "сегодня", "снова", "почему", "не", "работает", "здравствуйте"]}


def texts(lang: str = "en", per_class: int = 12, seed: int = 0) -> list[tuple[str, str]]:
    """(text, label) pairs: each text has two or three of its topic's words among filler words; no repeats."""
    rng = random.Random(seed)
    out, seen = [], set()
    for label, words in TOPICS[lang].items():
        while sum(1 for _, lab in out if lab == label) < per_class:
            parts = rng.sample(words, 3) + rng.sample(FILLER[lang], 4)
            rng.shuffle(parts)
            text = " ".join(parts).capitalize() + rng.choice([".", "!", "?"])
            if text not in seen:
                seen.add(text)
                out.append((text, label))
    return out


def write_csv(path: Path, rows: list[tuple[str, str]], *, delimiter: str = ",", encoding: str = "utf-8",
              header: tuple[str, ...] = ("text", "label")) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_folder(root: Path, rows: list[tuple[str, str]]) -> Path:
    for i, (text, label) in enumerate(rows):
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{i:03d}.txt").write_text(text, encoding="utf-8")
    return root
