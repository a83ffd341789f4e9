"""'Open a model…' in the Runs tab: an uploaded package or zipped run folder becomes an imported run of the project.

The checks and the copy are engine.open_model's; this module only turns its outcome into a sentence.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import UserError
from ui.i18n import error_text, t
from ui.state import message, project_or_none


def open_upload(ws, pid: str | None, lang: str, path) -> str:
    """Open the uploaded file `path` into project `pid`; the result (or the refusal) in `lang`."""
    if project_or_none(ws, pid) is None:
        return t(lang, "runs.open_need_project")
    if not path or not isinstance(path, str) or not Path(path).is_file():
        return t(lang, "runs.open_need_file")
    from engine.open_model import open_model

    try:
        opened = open_model(path, project_id=pid, workspace=ws)
    except UserError as e:
        return t(lang, "runs.open_failed", why=error_text(lang, e))
    except Exception as e:
        return t(lang, "runs.open_failed", why=message(lang, e))
    said = [t(lang, f"runs.opened_{opened.kind}", model=opened.model, n=len(opened.labels), run=opened.run_id)]
    if opened.scores:
        split = "test" if "test" in opened.scores else "val"
        said.append(t(lang, "runs.opened_scored", split=t(lang, f"split.{split}"),
                      accuracy=f"{opened.scores[split]['accuracy']:.0%}"))
    elif opened.kind == "package" and _has_data(ws, pid):
        said.append(t(lang, "runs.opened_unscored"))
    return " ".join(said)


def _has_data(ws, pid: str) -> bool:
    from ui.state import project_dataset

    return project_dataset(ws, pid) is not None
