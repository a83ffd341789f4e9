#!/usr/bin/env python3
"""Classify images with the model in this folder. Needs only onnxruntime, numpy and Pillow.

    python predict.py photo.jpg more_photos/            # a table: file, label, probability, top-k
    python predict.py more_photos/ --json > out.json    # or --csv > out.csv
    python predict.py photo.jpg --model model.int8.onnx # the smaller, faster INT8 model

From Python, with this folder on sys.path (or as the working directory):

    from predict import Predictor
    predictor = Predictor()                    # model.onnx, labels.json, preprocess.json of this folder
    predictor.predict(["photo.jpg"], top_k=3)  # [{"file", "label", "prob", "top": [{"label", "prob"}, ...]}]
    predictor.predict_proba(["photo.jpg"])     # numpy array (N, number of classes)

Images are read and preprocessed by konstruktor_preprocess.py, a verbatim copy of the code the
model was trained and tested with, configured by preprocess.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import konstruktor_preprocess as kp
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".mpo")
OUTPUT_NAME = "probabilities"
# A path, an open binary file, or an already decoded PIL image.
ImageSource = str | Path | IO[bytes] | Image.Image


class Predictor:
    """The exported model with its labels and preprocessing; `predict` and `predict_proba` take images."""

    def __init__(self, folder: str | Path = HERE, model: str | Path = "model.onnx", threads: int | None = None,
                 providers: Sequence[str] | None = None):
        self.folder = Path(folder)
        self.labels: list[str] = json.loads((self.folder / "labels.json").read_text(encoding="utf-8"))
        self.config: dict[str, Any] = json.loads((self.folder / "preprocess.json").read_text(encoding="utf-8"))
        self.model_path = self.folder / model
        self.forward = self._load(threads, providers)

    def _load(self, threads: int | None, providers: Sequence[str] | None) -> Callable[[np.ndarray], np.ndarray]:
        """Open the network; returns a function from a preprocessed batch to probabilities."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(self.model_path), options,
                                       providers=list(providers or ["CPUExecutionProvider"]))
        input_name = session.get_inputs()[0].name
        return lambda batch: session.run([OUTPUT_NAME], {input_name: batch})[0]

    def preprocess(self, image: ImageSource) -> np.ndarray:
        """One image as the float32 array (3, S, S) the model takes.

        A PIL image is used as it is (only converted to RGB); files also get their EXIF rotation applied.
        """
        if isinstance(image, Image.Image):
            return kp.preprocess(kp.to_rgb(image), self.config)
        source = str(image) if isinstance(image, Path) else image
        return kp.preprocess(kp.load_image(source, int(self.config.get("max_side", kp.MAX_SIDE))), self.config)

    def predict_proba(self, images: Iterable[ImageSource], batch_size: int = 16) -> np.ndarray:
        """Class probabilities (N, number of classes), in the order of `labels`; unreadable images raise."""
        out, batch = [], []
        for image in images:
            batch.append(self.preprocess(image))
            if len(batch) == batch_size:
                out.append(self.forward(np.stack(batch)))
                batch = []
        if batch:
            out.append(self.forward(np.stack(batch)))
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), dtype=np.float32)

    def predict(self, images: Iterable[ImageSource], top_k: int = 3,
                batch_size: int = 16) -> list[dict[str, Any]]:
        """Per image: label, prob and the top-k; an image that can't be read gets an `error` instead."""
        k = max(1, min(top_k, len(self.labels)))
        results: list[dict[str, Any]] = []
        pending: list[tuple[dict[str, Any], np.ndarray]] = []

        def flush() -> None:
            probs = self.forward(np.stack([array for _, array in pending]))
            for (result, _), p in zip(pending, probs, strict=True):
                order = np.argsort(-p, kind="stable")[:k]
                result.update({"label": self.labels[order[0]], "prob": float(p[order[0]]),
                               "top": [{"label": self.labels[i], "prob": float(p[i])} for i in order]})
            pending.clear()

        for image in images:
            result: dict[str, Any] = {"file": _name(image)}
            results.append(result)
            if isinstance(image, (str, Path)) and not Path(image).is_file():
                result["error"] = "no such file"
                continue
            try:
                pending.append((result, self.preprocess(image)))
            except kp.ImageLoadError as e:
                result["error"] = f"this file {e}"
                continue
            if len(pending) >= batch_size:
                flush()
        if pending:
            flush()
        return results


def _name(image: ImageSource) -> str:
    if isinstance(image, (str, Path)):
        return str(image)
    return str(getattr(image, "filename", None) or getattr(image, "name", None) or "<image>")


def expand(paths: Iterable[str]) -> list[str]:
    """Files as given; folders replaced by the image files inside them (recursively, sorted)."""
    files: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            files += sorted(str(f) for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        else:
            files.append(path)
    return files


def write_table(results: list[dict[str, Any]], out: IO[str]) -> None:
    for r in results:
        if "error" in r:
            out.write(f"{r['file']}\terror: {r['error']}\n")
        else:
            top = ", ".join(f"{t['label']} {t['prob']:.3f}" for t in r["top"])
            out.write(f"{r['file']}\t{r['label']}\t{r['prob']:.3f}\t[{top}]\n")


def write_csv(results: list[dict[str, Any]], out: IO[str], top_k: int) -> None:
    """One row per file: file, label_1, prob_1, ..., label_k, prob_k, error."""
    k = max([len(r.get("top", [])) for r in results] + [1]) if results else max(1, top_k)
    writer = csv.writer(out)
    writer.writerow(["file"] + [f"{name}_{i}" for i in range(1, k + 1) for name in ("label", "prob")] + ["error"])
    for r in results:
        cells: list[Any] = []
        for t in r.get("top", []):
            cells += [t["label"], f"{t['prob']:.6f}"]
        cells += [""] * (2 * k - len(cells))
        writer.writerow([r["file"], *cells, r.get("error", "")])


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("paths", nargs="+", help="image files and/or folders of images")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON instead of a table")
    output.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.add_argument("--top-k", type=int, default=3, help="how many of the most likely classes to list (default 3)")
    p.add_argument("--batch-size", type=int, default=16, help="images per forward pass (default 16)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    return p


def run(args: argparse.Namespace, predictor: Predictor, out: IO[str] = sys.stdout) -> int:
    """Predict args.paths and print them; exit code 0, or 2 when no file could be classified."""
    files = expand(args.paths)
    if not files:
        print("error: no image files found in " + ", ".join(args.paths), file=sys.stderr)
        return 2
    results = predictor.predict(files, top_k=args.top_k, batch_size=max(1, args.batch_size))
    if args.json:
        out.write(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    elif args.csv:
        write_csv(results, out, args.top_k)
    else:
        write_table(results, out)
    if not any("error" not in r for r in results):
        print("error: none of the files could be classified (see the messages above).", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    p = parser("Classify images with the exported model (ONNX Runtime).")
    p.add_argument("--model", default="model.onnx", help="model file in this folder (default model.onnx; "
                                                          "model.int8.onnx is smaller and faster)")
    args = p.parse_args(argv)
    if not (HERE / args.model).is_file():
        p.error(f"no model file {args.model} in {HERE}")
    return run(args, Predictor(HERE, args.model, threads=args.threads))


if __name__ == "__main__":
    sys.exit(main())
