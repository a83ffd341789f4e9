"""Export a finished run: ONNX, PyTorch and TorchScript models with generated, parity-checked runtime code.

Importing this package is cheap (no torch); the work happens in `export_run`.
"""

from engine.export.package import (
    FORMATS,
    QUANTIZATIONS,
    ExportResult,
    export_run,
    parse_formats,
    preprocess_spec,
)

__all__ = ["FORMATS", "QUANTIZATIONS", "ExportResult", "export_run", "parse_formats", "preprocess_spec"]
