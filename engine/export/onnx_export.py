"""ONNX files of the package: the FP32 graph with its metadata, and a statically quantized INT8 copy."""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

# Opset 17 loads in every ONNX Runtime since 1.13 and in the other common runtimes.
OPSET = 17


def export_onnx(module: nn.Module, path: Path, input_size: int, metadata: dict[str, str], doc: str) -> dict[str, Any]:
    """Trace `module` (N x 3 x S x S in, N x C probabilities out) to `path`, check it, stamp metadata.

    The input and output are named as the task's signature says (`metadata["input"]`, `metadata["output"]`).
    """
    import onnx

    inp, out = metadata["input"], metadata["output"]
    probe = torch.zeros(1, 3, input_size, input_size)
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript-based exporter is deprecated in favour of dynamo, but it is fast and
        # exact for these convolutional networks; the parity check below proves each export.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (probe,), str(path), input_names=[inp], output_names=[out],
                          dynamic_axes={inp: {0: "batch"}, out: {0: "batch"}},
                          opset_version=OPSET, do_constant_folding=True, dynamo=False)
    model = onnx.load(str(path))
    set_metadata(model, metadata, doc)
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path), full_check=True)
    return describe(model)


def set_metadata(model, metadata: dict[str, str], doc: str) -> None:
    """Replace the model's metadata_props with `metadata` (string keys and values) and set its doc string."""
    del model.metadata_props[:]
    for key, value in metadata.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    model.doc_string = doc


def describe(model) -> dict[str, Any]:
    """Opset, IR version and the input/output names and shapes (symbolic dims as names)."""
    def shape(value_info) -> list[int | str]:
        return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]

    return {
        "opset": next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
        "ir_version": int(model.ir_version),
        "inputs": [{"name": i.name, "shape": shape(i), "dtype": "float32"} for i in model.graph.input],
        "outputs": [{"name": o.name, "shape": shape(o), "dtype": "float32"} for o in model.graph.output],
    }


@contextmanager
def _quiet_onnxruntime() -> Iterator[None]:
    """ONNX Runtime's quantizer logs advice and per-initializer notes; none of it is for our users."""
    import onnxruntime as ort

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    ort.set_default_logger_severity(3)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)
        ort.set_default_logger_severity(2)


def quantize_int8(src: Path, dst: Path, calibration: Iterable[np.ndarray], metadata: dict[str, str],
                  doc: str) -> dict[str, Any]:
    """Static INT8 quantization of `src` into `dst`, calibrated on preprocessed batches.

    QDQ format, per-channel symmetric INT8 weights, asymmetric UINT8 activations (MinMax): with
    symmetric weights ONNX Runtime's CPU provider fuses every convolution and residual Add into
    integer kernels (QLinearConv/QLinearAdd). The QOperator format measured several times slower
    here on depthwise convolutions. Softmax stays in float so probabilities keep full resolution.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {metadata["input"]: batch}

    with _quiet_onnxruntime(), tempfile.TemporaryDirectory(prefix="konstruktor-quant-") as tmp:
        # Shape inference and ONNX Runtime's basic (portable) graph optimisations first, as its
        # quantization guide advises: "same" pads get folded into their convolutions.
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=False)
        softmax = [n.name for n in onnx.load(str(prepared)).graph.node if n.op_type == "Softmax"]
        quantize_static(str(prepared), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=softmax,
                        extra_options={"WeightSymmetric": True, "ActivationSymmetric": False})
    model = onnx.load(str(dst))
    set_metadata(model, metadata, doc)
    onnx.save(model, str(dst))
    onnx.checker.check_model(str(dst), full_check=True)
    return {**describe(model), "format": "QDQ", "weights": "int8 per-channel symmetric",
            "activations": "uint8 asymmetric", "calibration": "MinMax"}
