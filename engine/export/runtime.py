"""The package's runtime code: the preprocessing copy, predict.py and predict_torch.py with its model loader.

The same files go into an export and into a package opened in the app, so both always run this app's code.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from engine.export.layout import PREPROCESS_COPY, PREPROCESS_SOURCE, TEMPLATES
from engine.fsutil import atomic_write_text

# The block of predict_torch.py that the model family's loader (export_templates/torch_build_*.py) fills.
_LOADER_BLOCK = re.compile(r"^# <build_model>.*?^# </build_model>\n", re.DOTALL | re.MULTILINE)


def write_runtime_code(dest: Path, family: str, *, torch: bool, task: str | None = None) -> None:
    """The package's code: the preprocessing copy, predict.py and, with `torch`, predict_torch.py rendered with
    the family's model loader (also what an opened package gets, so it runs this app's code)."""
    from engine.models import get_family
    from engine.tasks import get_task

    signature = get_task(task).part("export")
    shutil.copyfile(PREPROCESS_SOURCE, dest / PREPROCESS_COPY)
    shutil.copyfile(TEMPLATES / signature.PREDICT_TEMPLATE, dest / "predict.py")
    if torch:
        loader = _LOADER_BLOCK.search((TEMPLATES / get_family(family).torch_template()).read_text(encoding="utf-8"))
        template = (TEMPLATES / signature.PREDICT_TORCH_TEMPLATE).read_text(encoding="utf-8")
        assert loader is not None and _LOADER_BLOCK.search(template), "a torch template lost its build_model block"
        atomic_write_text(dest / "predict_torch.py", _LOADER_BLOCK.sub(lambda _m: loader.group(0), template))
