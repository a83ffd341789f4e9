"""Errors meant for people: one sentence that says what is wrong and what to do."""

import re


class UserError(Exception):
    """A problem with the user's input or environment; the CLI prints it and exits with code 2."""


class DataError(UserError):
    """The dataset cannot be used as given (no images, one class, bad archive...)."""


class WeightsUnavailable(UserError):
    """Pretrained weights for a model cannot be found offline and cannot be fetched."""


class CodedError(UserError):
    """A UserError with a stable `code` and `params`, so a UI can say it in its own language (ui/i18n dataerr.*)."""

    def __init__(self, code: str, message: str, **params: object):
        super().__init__(message)
        self.code = code
        self.params = params


# Control characters, and the bidi marks and overrides that can make a name look like another one on screen
# (U+202E shows "gpj.exe" as "exe.jpg").
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
HIDDEN_CHAR = ("The name '{name}' holds an invisible control character ({char}) that can disguise it on screen; "
               "type the name again without it.")


def hidden_char(name: str) -> dict[str, str] | None:
    """{'name': the name with such characters shown as '?', 'char': 'U+202E'} when it holds one, else None."""
    found = _HIDDEN.search(name)
    if found is None:
        return None
    return {"name": _HIDDEN.sub("?", name), "char": f"U+{ord(found.group()):04X}"}
