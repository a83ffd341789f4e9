"""Where an offline package's pieces come from and what they are called: read by the exporter that builds
a package and by `engine.open_model`, which keeps an imported one inside a run folder.

Plain constants, so that neither of those two modules has to import the other for them.
"""

from __future__ import annotations

from pathlib import Path

# Written into export_report.json (and model.pt) of every package; open_model accepts only this format.
PACKAGE_FORMAT = "konstruktor-package/1"
# Templates of the generated runtime code (predict.py, README.md, ...), beside the engine in the source tree
# and in the frozen app alike (build/konstruktor.spec ships the folder).
TEMPLATES = Path(__file__).resolve().parents[2] / "export_templates"
# The engine's own preprocessing, copied byte for byte into every package under PREPROCESS_COPY.
PREPROCESS_SOURCE = Path(__file__).resolve().parents[1] / "preprocess.py"
PREPROCESS_COPY = "konstruktor_preprocess.py"
# The folder of an imported run that holds the package it was opened from.
PACKAGE_DIR = "package"
