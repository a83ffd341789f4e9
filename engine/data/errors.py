"""The error of a refused data operation, shared by archive, bins, the importer and the split.

It lives alone so that those modules can all raise it without importing one another.
"""

from __future__ import annotations

from typing import Any

from engine.errors import DataError


class CodedDataError(DataError):
    """A refused data operation; `code` and `params` let a UI say it in its own language (ui/i18n)."""

    def __init__(self, code: str, message: str, **params: Any):
        super().__init__(message)
        self.code = code
        self.params = params
