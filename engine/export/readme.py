"""The package's README: which file is what, and what the export checked, in English and Russian."""

from __future__ import annotations

import math
import re
import string
from pathlib import Path
from typing import Any

from engine import __version__
from engine.export.layout import PREPROCESS_COPY, TEMPLATES
from engine.fsutil import atomic_write_text

FILE_NOTES = {
    "model.onnx": ("the network, ONNX (FP32)", "сеть в формате ONNX (FP32)"),
    "model.int8.onnx": ("the network quantized to INT8: smaller and faster, slightly less exact",
                        "сеть, квантованная в INT8: меньше и быстрее, чуть менее точна"),
    "model.pt": ("PyTorch weights and settings (a plain dict, loads with weights_only=True)",
                 "веса и настройки для PyTorch (обычный словарь, грузится с weights_only=True)"),
    "model.torchscript.pt": ("the network as TorchScript (torch.jit.load, no timm needed)",
                             "сеть в формате TorchScript (torch.jit.load, timm не нужен)"),
    "labels.json": ("class names; position = output index", "имена классов; позиция = номер выхода"),
    "preprocess.json": ("how images are resized, cropped and normalised", "как изображения масштабируются, "
                        "обрезаются и нормализуются"),
    PREPROCESS_COPY: ("image loading and preprocessing code (Pillow + numpy), identical to the trainer's",
                      "код загрузки и предобработки изображений (Pillow + numpy), тот же, что при обучении"),
    "predict.py": ("command line and Predictor class (ONNX Runtime)", "командная строка и класс Predictor "
                   "(ONNX Runtime)"),
    "predict_torch.py": ("the same for PyTorch (TorchPredictor)", "то же для PyTorch (TorchPredictor)"),
    "requirements.txt": ("what predict.py needs: onnxruntime, numpy, Pillow", "что нужно predict.py: "
                         "onnxruntime, numpy, Pillow"),
    "requirements-torch.txt": ("what predict_torch.py needs", "что нужно predict_torch.py"),
    "export_report.json": ("export checks: parity, INT8 accuracy, sizes, speed", "проверки экспорта: "
                           "совпадение, точность INT8, размеры, скорость"),
    "README.md": ("this file", "этот файл"),
}


def _render(template: str, values: dict[str, Any], flags: dict[str, bool]) -> str:
    """Keep `<!-- if name -->...<!-- end -->` blocks whose flag is on, then fill ${placeholders}."""
    block = re.compile(r"<!-- if (\w+) -->(.*?)<!-- end -->", re.DOTALL)
    while block.search(template):
        template = block.sub(lambda m: m.group(2) if flags[m.group(1)] else "", template)
    return string.Template(re.sub(r"\n{3,}", "\n\n", template)).substitute(values)


def _checks(report: dict[str, Any]) -> tuple[str, str]:
    """The 'Checked at export' paragraphs, English and Russian."""
    ev = report["evaluation_images"]
    names = {"onnx": "model.onnx", "torch": "model.pt", "torchscript": "model.torchscript.pt"}
    en, ru = [], []
    splits_ru = {"val": "валидационных", "test": "тестовых", "train": "обучающих"}
    for fmt, res in report["parity"].items():
        en.append(f"- `{names[fmt]}` against the trained model on {res['n']} {' and '.join(ev['splits'])} images: "
                  f"same top class for {100 * res['top1_agreement']:.0f} %, largest probability difference "
                  f"{res['max_abs_diff']:.1e}.")
        ru.append(f"- `{names[fmt]}` против обученной модели на {res['n']} "
                  f"{' и '.join(splits_ru[s] for s in ev['splits'])} изображениях: тот же лучший класс в "
                  f"{100 * res['top1_agreement']:.0f} % случаев, наибольшая разница вероятностей "
                  f"{res['max_abs_diff']:.1e}.")
    if "int8" in report:
        q = report["int8"]
        en.append(f"- `model.int8.onnx`: accuracy {100 * q['accuracy_int8']:.1f} % vs {100 * q['accuracy_fp32']:.1f} % "
                  f"for FP32 ({q['accuracy_change_points']:+.1f} points) on the same images; same top class as FP32 "
                  f"for {100 * q['vs_fp32']['top1_agreement']:.1f} %.")
        ru.append(f"- `model.int8.onnx`: точность {100 * q['accuracy_int8']:.1f} % против "
                  f"{100 * q['accuracy_fp32']:.1f} % у FP32 ({q['accuracy_change_points']:+.1f} п.) на тех же "
                  f"изображениях; тот же лучший класс, что у FP32, в {100 * q['vs_fp32']['top1_agreement']:.1f} %.")
    lat = report["latency_ms"]
    speed = ", ".join(f"{k.replace('_batch1', '').replace('_', ' ')} {v:.1f} ms" for k, v in lat.items())
    en.append(f"- Time per image (batch 1, {report['threads']} threads, on the exporting computer): {speed}.")
    ru.append(f"- Время на одно изображение (пакет 1, потоков: {report['threads']}, на компьютере экспорта): "
              f"{speed.replace(' ms', ' мс')}.")
    if ev["note"]:
        en.append("- Note: the run has no validation or test images; these checks used training images.")
        ru.append("- Внимание: у запуска нет валидационных и тестовых изображений; проверки сделаны на обучающих.")
    return "\n".join(en), "\n".join(ru)


def write_readme(work: Path, report: dict[str, Any], spec: dict[str, Any], formats: tuple[str, ...],
                  quantize: str | None) -> None:
    """README.md of the package, English and Russian: what is in it, how to run it, what was checked."""
    labels = report["labels"]
    shown = ", ".join(labels[:12]) + (f", … ({len(labels) - 12} more)" if len(labels) > 12 else "")
    files = sorted({p.name for p in work.iterdir() if p.is_file()} | {"README.md", "export_report.json"})
    checks_en, checks_ru = _checks(report)
    values = {
        "title": f"{report['model']} image classifier",
        "version": __version__, "date": report["created"][:10], "model": report["model"],
        "n_classes": len(labels), "labels": shown, "input_size": spec["input_size"],
        "resize_to": math.floor(spec["input_size"] / float(spec["crop_pct"])),
        "interpolation": spec["interpolation"],
        "mean": "(" + ", ".join(f"{v:.4g}" for v in spec["mean"]) + ")",
        "std": "(" + ", ".join(f"{v:.4g}" for v in spec["std"]) + ")",
        "opset": report.get("onnx", {}).get("opset", ""),
        "files_en": "\n".join(f"| `{f}` | {FILE_NOTES.get(f, ('', ''))[0]} |" for f in files),
        "files_ru": "\n".join(f"| `{f}` | {FILE_NOTES.get(f, ('', ''))[1]} |" for f in files),
        "checks_en": checks_en, "checks_ru": checks_ru,
    }
    flags = {"onnx": "onnx" in formats, "int8": quantize == "int8", "torch": "torch" in formats or
             "torchscript" in formats, "torchscript": "torchscript" in formats}
    text = _render((TEMPLATES / "README.md").read_text(encoding="utf-8"), values, flags)
    atomic_write_text(work / "README.md", text)
