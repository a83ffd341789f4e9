"""Frozen-backbone embeddings, computed once per (model, dataset) and cached.

On a CPU the backbone runs through ONNX Runtime (3-4x faster than PyTorch eager there); the ONNX
graph is exported once per model and weights, checked against PyTorch, and cached. Any failure
of that fast path falls back to PyTorch, with a log line saying so.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.export.static_padding import freeze_same_padding
from engine.fsutil import atomic_write
from engine.preprocess import preprocess_file

Log = Callable[[str], None]
# Bumped whenever the cached ONNX graph or embeddings would come out different.
EMBED_FORMAT = 2


class _Backbone(nn.Module):
    """The model up to its pooled embedding (timm's pre_logits)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)


def model_key(built) -> str:
    """Identifies model + weights + preprocessing, so cached embeddings never outlive a change."""
    h = hashlib.sha256()
    h.update(f"{EMBED_FORMAT}:{built.name}".encode())
    h.update(json.dumps(built.preprocess, sort_keys=True).encode())
    for name, tensor in built.model.state_dict().items():
        if "classifier" in name or "head.fc" in name:
            continue
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return f"{built.name}-{h.hexdigest()[:16]}"


def _load_batch(files: Sequence[str], cfg: dict) -> np.ndarray:
    return np.stack([preprocess_file(f, cfg) for f in files])


# Sessions already built and checked in this process, by cached graph path (content-addressed by model_key).
_SESSIONS: dict[Path, object] = {}


def _onnx_session(module: nn.Module, size: int, path: Path | None, log: Log):
    """An ONNX Runtime session for an image->vector module, or None when the fast path is unavailable."""
    if os.environ.get("KONSTRUKTOR_EMBED_BACKEND", "auto") == "torch":
        return None
    if path is not None and path in _SESSIONS and path.exists():
        return _SESSIONS[path]
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    backbone = module.eval()
    # TF-style "same" padding resolved for the fixed input size: ONNX Runtime can then fold it
    # (about 40 % faster for the tf_ models); the parity check below still guards the numbers.
    exported = copy.deepcopy(backbone).eval()
    freeze_same_padding(exported, size)
    probe = torch.randn(2, 3, size, size)
    try:
        if path is None or not path.exists():
            import io

            buf = io.BytesIO()
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # the exporter's notes mean nothing to the person training
                torch.onnx.export(exported, (probe,), buf, input_names=["input"], output_names=["output"],
                                  dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                                  opset_version=17, dynamo=False)
            data = buf.getvalue()
            if path is not None:
                atomic_write(path, lambda f: f.write(data))
            source = data
        else:
            source = str(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, torch.get_num_threads())
        opts.log_severity_level = 3
        session = ort.InferenceSession(source if isinstance(source, str) else source, opts,
                                       providers=["CPUExecutionProvider"])
        with torch.no_grad():
            expected = backbone(probe).numpy()
        got = session.run(None, {"input": probe.numpy()})[0]
        if not np.allclose(got, expected, atol=1e-3, rtol=1e-3):
            log("ONNX Runtime outputs differ from PyTorch; using PyTorch instead.")
            return None
        if path is not None:
            _SESSIONS[path] = session
        return session
    except Exception as e:  # the fast path is an optimisation: never fail a run over it
        log(f"ONNX Runtime fast path unavailable ({type(e).__name__}: {e}); using PyTorch.")
        return None


def run_network(
    module: nn.Module,
    files: Sequence[str],
    cfg: dict,
    out_dim: int,
    *,
    device: str = "cpu",
    batch_size: int = 32,
    onnx_path: Path | None = None,
    use_onnx: bool = True,
    progress: Callable[[int, int], None] | None = None,
    log: Log = lambda _msg: None,
) -> np.ndarray:
    """Outputs (N, out_dim) of an image->vector module for image files, preprocessed by `cfg`."""
    n = len(files)
    out = np.zeros((n, out_dim), dtype=np.float32)
    if n == 0:
        return out
    module = module.eval()
    session = None
    if device == "cpu" and use_onnx:
        session = _onnx_session(module, int(cfg["input_size"]), onnx_path, log)
    module = module.to(device)
    if device == "cpu":
        module = module.to(memory_format=torch.channels_last)
    batches = [list(range(i, min(n, i + batch_size))) for i in range(0, n, batch_size)]
    # Decode the next batch on a thread while the current one runs through the network.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_load_batch, [files[i] for i in batches[0]], cfg)
        done = 0
        for bi, idx in enumerate(batches):
            x = pending.result()
            if bi + 1 < len(batches):
                pending = pool.submit(_load_batch, [files[i] for i in batches[bi + 1]], cfg)
            if session is not None:
                y = session.run(None, {"input": x})[0]
            else:
                with torch.inference_mode():
                    xt = torch.from_numpy(x).to(device)
                    if device == "cpu":
                        xt = xt.contiguous(memory_format=torch.channels_last)
                    y = module(xt).float().cpu().numpy()
            out[idx] = y
            done += len(idx)
            if progress is not None:
                progress(done, n)
    return out


def compute_embeddings(built, files: Sequence[str], *, onnx_dir: Path | None = None, **kwargs) -> np.ndarray:
    """Pooled embeddings (N, embed_dim) of the frozen backbone, in the order of `files`."""
    onnx_path = (onnx_dir / f"{model_key(built)}.onnx") if onnx_dir else None
    return run_network(_Backbone(built.model), files, built.preprocess, built.embed_dim,
                       onnx_path=onnx_path, **kwargs)


def predict_probs(model: nn.Module, files: Sequence[str], cfg: dict, num_classes: int, **kwargs) -> np.ndarray:
    """Class probabilities (N, num_classes) of a whole model for image files.

    Small batches of files run in PyTorch directly; exporting to ONNX only pays off for many.
    """
    from engine.tasks.image_classification.export import Probabilities

    kwargs.setdefault("use_onnx", len(files) >= 200)
    return run_network(Probabilities(model), files, cfg, num_classes, **kwargs)


def cached_embeddings(
    built,
    items: Sequence[dict],
    dataset_dir: Path,
    cache_dir: Path | None,
    **kwargs,
) -> np.ndarray:
    """Embeddings for manifest items, reusing and extending a per-model cache keyed by image hash."""
    key = model_key(built)
    cache_file = (cache_dir / f"{key}.npz") if cache_dir else None
    known: dict[str, np.ndarray] = {}
    if cache_file is not None and cache_file.exists():
        try:
            with np.load(cache_file) as z:
                known = dict(zip(z["sha256"].tolist(), z["emb"], strict=True))
        except Exception:
            known = {}
    missing = [it for it in items if it["sha256"] not in known]
    # The same image may appear twice (e.g. train and an evaluation set); compute it once.
    unique_missing = list({it["sha256"]: it for it in missing}.values())
    if unique_missing:
        fresh = compute_embeddings(built, [str(dataset_dir / it["file"]) for it in unique_missing], **kwargs)
        for it, vec in zip(unique_missing, fresh, strict=True):
            known[it["sha256"]] = vec
        if cache_file is not None:
            shas = np.array(list(known.keys()))
            embs = np.stack(list(known.values())).astype(np.float32)
            atomic_write(cache_file, lambda f: np.savez(f, sha256=shas, emb=embs))
    elif kwargs.get("progress") is not None:
        kwargs["progress"](len(items), len(items))
    if not items:
        return np.zeros((0, built.embed_dim), dtype=np.float32)
    return np.stack([known[it["sha256"]] for it in items]).astype(np.float32)
