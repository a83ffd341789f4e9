"""Frozen-feature measurements of bench.fewshot, in this process: the nearest-class-mean floor on the same
episodes, and the embedding throughput of the backbone at 224 px.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.fewshot_data import CLASSES, FashionMNIST, sample_episode, write_pngs

MODEL = "tf_efficientnet_lite0"
PASSES = 5  # throughput passes; the median is reported (other work on a shared machine adds noise)


def _build_backbone(scratch: Path):
    from engine.models import build

    # An empty weight cache: the weights come from the installed package, as in a fresh workspace.
    built = build(MODEL, len(CLASSES), pretrained=True, cache_dir=scratch / "weights")
    if not built.pretrained:
        raise SystemExit(f"No pretrained weights for {MODEL} are installed ({built.weights_source}); "
                         "run scripts/setup.sh (requirements-weights.txt) first.")
    return built


def nearest_class_mean(data: FashionMNIST, shots: list[int], seeds: list[int], scratch: Path,
                       onnx_dir: Path) -> dict[str, Any]:
    """Cosine nearest-class-mean accuracy on L2-normalised frozen embeddings of the same episodes."""
    from engine.embed import compute_embeddings

    built = _build_backbone(scratch)
    k_max = max(shots)
    train_ids = np.unique(np.concatenate([sample_episode(data, k_max, s) for s in seeds]))
    train_files = write_pngs(scratch / "train", data.train_x[train_ids], data.train_y[train_ids],
                             [f"train{i:05d}" for i in train_ids])
    test_files = write_pngs(scratch / "test", data.test_x, data.test_y, [f"test{i:05d}" for i in data.test_ids])
    messages: list[str] = []
    t0 = time.perf_counter()
    emb = compute_embeddings(built, [str(p) for p in train_files + test_files], onnx_dir=onnx_dir,
                             log=messages.append)
    seconds = time.perf_counter() - t0
    emb /= np.linalg.norm(emb, axis=1, keepdims=True) + 1e-12
    row = {int(i): r for r, i in enumerate(train_ids)}
    test_emb = emb[len(train_ids):]
    pix = data.test_x.reshape(len(data.test_x), -1).astype(np.float32)
    pix /= np.linalg.norm(pix, axis=1, keepdims=True) + 1e-12

    def ncm(train_feats: np.ndarray, train_y: np.ndarray, test_feats: np.ndarray) -> float:
        means = np.stack([train_feats[train_y == c].mean(axis=0) for c in range(len(CLASSES))])
        means /= np.linalg.norm(means, axis=1, keepdims=True) + 1e-12
        return float(((test_feats @ means.T).argmax(axis=1) == data.test_y).mean())

    acc: dict[str, dict[str, float]] = {}
    raw: dict[str, dict[str, float]] = {}
    for k in shots:
        acc[str(k)], raw[str(k)] = {}, {}
        for s in seeds:
            ids = sample_episode(data, k, s)
            y = data.train_y[ids]
            acc[str(k)][str(s)] = ncm(emb[[row[int(i)] for i in ids]], y, test_emb)
            p = data.train_x[ids].reshape(len(ids), -1).astype(np.float32)
            p /= np.linalg.norm(p, axis=1, keepdims=True) + 1e-12
            raw[str(k)][str(s)] = ncm(p, y, pix)
    n = len(train_files) + len(test_files)
    return {"accuracy": acc, "raw_pixels": raw, "embedded": n, "embed_seconds": round(seconds, 2),
            "messages": messages}


def _rates(rates: list[float]) -> dict[str, Any]:
    return {"runs": [round(r, 1) for r in rates], "median": round(float(np.median(rates)), 1),
            "best": round(max(rates), 1)}


def throughput(data: FashionMNIST, scratch: Path, onnx_dir: Path, n: int = 320, naive_n: int = 40,
               eager_n: int = 128) -> dict[str, Any]:
    """Images/s of the frozen backbone at 224 px: the training path end to end, network only, and naive."""
    import onnxruntime as ort
    import torch

    from engine.embed import compute_embeddings, model_key
    from engine.preprocess import preprocess_file

    built = _build_backbone(scratch)
    load_before = os.getloadavg()[0]
    files = [str(p) for p in write_pngs(scratch, data.test_x[:n], data.test_y[:n], [f"t{i:05d}" for i in range(n)])]
    out: dict[str, Any] = {"images": n, "batch": 32, "input_size": built.preprocess["input_size"],
                           "torch_threads": torch.get_num_threads(), "cores": os.cpu_count()}
    messages: list[str] = []
    t0 = time.perf_counter()
    compute_embeddings(built, files[:32], onnx_dir=onnx_dir, log=messages.append)
    out["first_call_s"] = round(time.perf_counter() - t0, 2)  # ONNX export + parity check + 32 images
    rates = []
    for _ in range(PASSES):
        t0 = time.perf_counter()
        compute_embeddings(built, files, onnx_dir=onnx_dir, batch_size=32, log=messages.append)
        rates.append(n / (time.perf_counter() - t0))
    out["end_to_end"] = _rates(rates)
    out["messages"] = messages

    t0 = time.perf_counter()
    x = np.stack([preprocess_file(f, built.preprocess) for f in files])
    out["decode_preprocess_one_thread"] = round(n / (time.perf_counter() - t0), 1)

    onnx_file = onnx_dir / f"{model_key(built)}.onnx"
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, torch.get_num_threads())  # as engine.embed sets it
    opts.log_severity_level = 3
    t0 = time.perf_counter()
    session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
    out["onnx_session_create_s"] = round(time.perf_counter() - t0, 2)
    session.run(None, {"input": x[:32]})
    rates = []
    for _ in range(PASSES):
        t0 = time.perf_counter()
        for i in range(0, n, 32):
            session.run(None, {"input": x[i:i + 32]})
        rates.append(n / (time.perf_counter() - t0))
    out["onnx_network_only"] = _rates(rates)

    model = built.model.eval()

    def features(t: torch.Tensor) -> torch.Tensor:
        return model.forward_head(model.forward_features(t), pre_logits=True)

    with torch.inference_mode():
        model.to(memory_format=torch.channels_last)
        xt = torch.from_numpy(x[:eager_n]).contiguous(memory_format=torch.channels_last)
        features(xt[:32])
        t0 = time.perf_counter()
        for i in range(0, eager_n, 32):
            features(xt[i:i + 32])
        out["torch_eager_batch32_channels_last_network_only"] = round(eager_n / (time.perf_counter() - t0), 1)
        model.to(memory_format=torch.contiguous_format)
        features(torch.from_numpy(preprocess_file(files[0], built.preprocess))[None])
        t0 = time.perf_counter()
        for f in files[:naive_n]:
            features(torch.from_numpy(preprocess_file(f, built.preprocess))[None])
        out["naive_per_image_torch"] = {"images": naive_n, "rate": round(naive_n / (time.perf_counter() - t0), 1)}
    out["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return out
