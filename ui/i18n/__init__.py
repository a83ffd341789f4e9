"""The UI's words in English and Russian, and the binding that re-labels components when the language changes.

Every user-facing string lives in ui/i18n/strings.py as {key: (English, Russian)}; `t(lang, key)`
looks one up. Components are created through `Texts.bind`, which remembers which of their
properties (label, value, info, choices, ...) come from which key, so one event can re-label the
whole app.
"""

from __future__ import annotations

import locale
import os
from collections.abc import Callable
from typing import Any

from ui.i18n.strings import PRESET_LINES_RU, STRINGS

LANGUAGES = {"en": "English", "ru": "Русский"}
DEFAULT = "en"
_INDEX = {"en": 0, "ru": 1}


def t(lang: str, key: str, **fields: Any) -> str:
    """The string `key` in `lang` (English when unknown), with {fields} filled in."""
    entry = STRINGS[key]
    text = entry[_INDEX.get(lang, 0)]
    return text.format(**fields) if fields else text


def normalize(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT


def system_language() -> str:
    """The language of the computer's locale when we speak it, else English."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(var, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return normalize(value[:2].lower())
    try:
        code = locale.getlocale()[0] or ""
    except ValueError:
        code = ""
    return normalize(code[:2].lower())


def preset_line(lang: str, line: str) -> str:
    """An augmentation step's description (engine.augment) in `lang`."""
    return PRESET_LINES_RU.get(line, line) if lang == "ru" else line


def engine_text(lang: str, group: str, code: Any, params: Any = None, english: str | None = None) -> str:
    """A sentence the engine wrote, in `lang`: the string `group.code` filled with `params`.

    In English the engine's own sentence is used as it is; anything unknown (an older run, a new code, odd
    params) falls back to the English sentence, so nothing is ever lost to a missing translation.
    """
    if lang == DEFAULT and english:
        return english
    key = f"{group}.{code}"
    if not isinstance(code, str) or key not in STRINGS:
        return english or ""
    try:
        return t(lang, key, **_fields(lang, params if isinstance(params, dict) else {}))
    except (KeyError, IndexError, ValueError, TypeError):
        return english or ""


def problem_text(lang: str, problem: dict[str, Any]) -> str:
    """The details of an import problem (a problems.json entry) in `lang`."""
    return engine_text(lang, "pmsg", problem.get("code") or problem.get("kind"), problem.get("params"),
                       problem.get("message", ""))


def error_text(lang: str, e: BaseException) -> str:
    """A data error for people in `lang`: by its code when it has one (engine.data.bins.CodedDataError)."""
    return engine_text(lang, "dataerr", getattr(e, "code", None), getattr(e, "params", None), str(e))


_SPLIT_FIELDS = ("split", "other")


def _fields(lang: str, params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name in _SPLIT_FIELDS and f"split.{value}" in STRINGS:
            value = t(lang, f"split.{value}")
        elif name == "mode" and f"colour.{value}" in STRINGS:
            value = t(lang, f"colour.{value}")
        elif isinstance(value, list | tuple):
            value = ", ".join(f"'{v}'" for v in value)
        out[name] = value
    return out


Prop = str | Callable[[str], Any]


class Texts:
    """Remembers which component properties come from which string, to re-label them all at once."""

    def __init__(self, lang: str):
        self.lang = lang
        self._bound: list[tuple[Any, dict[str, Prop]]] = []

    def bind(self, component, **props: Prop):
        """Register `component`'s properties: a key of STRINGS, or a function of the language."""
        self._bound.append((component, props))
        return component

    def make(self, cls, i18n: dict[str, Prop], **kwargs: Any):
        """Create a component whose `i18n` properties come from strings, and bind them."""
        first = {name: (p(self.lang) if callable(p) else t(self.lang, p)) for name, p in i18n.items()}
        return self.bind(cls(**first, **kwargs), **i18n)

    def text(self, key: str, **fields: Any) -> str:
        """The string in the language the page is built in (its first render)."""
        return t(self.lang, key, **fields)

    @property
    def components(self) -> list[Any]:
        return [c for c, _ in self._bound]

    def updates(self, lang: str) -> list[dict[str, Any]]:
        import gradio as gr

        out = []
        for _, props in self._bound:
            out.append(gr.update(**{name: (p(lang) if callable(p) else t(lang, p)) for name, p in props.items()}))
        return out
