"""Compare: train a set of candidates (model × mode, optionally a small learning-rate / epochs search) on one
split, within a time budget, and write a leaderboard with a recommendation.

Each trial is an ordinary run folder under `<compare>/runs/`, trained by `python -m engine train RUN_DIR`
in a child process; `leaderboard.json` (atomic, rewritten after every change) and `events.jsonl` in the
compare folder let a UI follow it. Nothing here imports torch until a finished run's latency is measured.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import stopping
from engine.config import RunConfig
from engine.errors import UserError
from engine.events import PID_FILE, EventWriter
from engine.fsutil import atomic_write_json, atomic_write_text, read_json

FORMAT = "konstruktor-compare/1"
LEADERBOARD_FILE = "leaderboard.json"
LEADERBOARD_MD = "leaderboard.md"
MODES = ("linear-probe", "fine-tune", "full", "scratch")
# Option keys a candidate spec may carry after `model:mode:`; anything else is refused.
OPTION_KEYS = ("lr", "epochs", "batch_size", "image_size", "seed", "repeats", "search", "trials")
SEARCH_KEYS = ("lr", "epochs")
DEFAULT_TRIALS = 4
# Candidates closer than this (or their spread, or one picture's worth) are tied; the cheaper one wins.
NEAR_TOP = 0.01
# A test split smaller than this, or with fewer pictures in some class, is too small to rank on.
TINY_TEST = 30
TINY_PER_CLASS = 5
LATENCY_REPEATS = 20
STOP_GRACE_S = 10.0

DEFAULT_CPU = ("tf_efficientnet_lite0:linear-probe", "mobilenetv2_100:linear-probe",
               "tf_efficientnet_lite0:fine-tune", "yolo11n-cls:full")
# On a GPU fine-tuning is cheap: bigger models and every layer too (all with weights that work offline).
DEFAULT_GPU = (*DEFAULT_CPU, "mobilenetv2_100:fine-tune", "tf_efficientnet_lite2:fine-tune",
               "tf_efficientnet_lite2:full", "yolo11s-cls:full")

# Throughput, images per second, on 2 CPU cores (AMD EPYC, AVX-512) at the model's own input size, as data:
#   embed: frozen-backbone embeddings through ONNX Runtime, decoding included (linear-probe, the LP-FT start);
#   train: forward + backward while fine-tuning; eval: PyTorch eager prediction of val/test images.
# tf_efficientnet_lite0: docs/benchmarks.md (fewshot and export sections, measured 2026-11-30: embedding
# 59-67 img/s, 10-shot fine-tune 267 s for 100 images x 15 epochs + 1000 test images). mobilenetv2_100 is
# scaled from lite0 by DESIGN.md's side-by-side table (ONNX 116 vs 62 img/s, eager 29.9 vs 19.6 img/s).
# yolo11*-cls is not measured yet: assumed as fast as lite0 per image at 224 px (about as many FLOPs).
RATES_CPU: dict[str, dict[str, float]] = {
    "tf_efficientnet_lite0": {"embed": 60.0, "train": 7.0, "eval": 15.0},
    "mobilenetv2_100": {"embed": 110.0, "train": 10.0, "eval": 22.0},
    "yolo11n-cls": {"embed": 60.0, "train": 7.0, "eval": 15.0},
}
RATES_SOURCE = "docs/benchmarks.md (2026-11-30, 2 CPU cores) and DESIGN.md; yolo11-cls assumed like lite0"
REFERENCE = "tf_efficientnet_lite0"
YOLO_N_PARAMS_M = 2.8  # yolo11n-cls at its registry size; bigger YOLO11 models are scaled from it
START_S = 15.0  # process start, imports, data loading, the first ONNX export of a backbone
GPU_SPEEDUP = 15.0  # a rough factor for a mid-range CUDA GPU over these 2 cores; not measured here


@dataclass(frozen=True)
class Candidate:
    """One line of --candidates: a model (registry name), a training mode and optional settings."""

    model: str
    mode: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        extra = ",".join(f"{k}={'+'.join(v) if k == 'search' else v}" for k, v in self.options.items())
        return f"{self.model}:{self.mode}" + (f":{extra}" if extra else "")

    @property
    def search(self) -> tuple[str, ...]:
        return tuple(self.options.get("search") or ())


@dataclass
class Trial:
    """One setting of a candidate (its own hyper-parameters), trained once per seed."""

    candidate: Candidate
    index: int
    settings: dict[str, Any]
    seeds: list[int]


# --- parsing ---------------------------------------------------------------------------------

def parse_candidates(text: str | list[str], *, search: str | None = None, repeats: int | None = None
                     ) -> list[Candidate]:
    """Candidates from `model:mode[:key=value,...]` items separated by spaces, semicolons or new lines.

    Model names go through the registry (aliases work; an unknown name raises its UserError). `search`
    and `repeats` apply to every candidate that does not set its own.
    """
    items = text if isinstance(text, list) else re.split(r"[;\n\s]+", str(text or ""))
    items = [i.strip() for i in items if i and i.strip()]
    if not items:
        raise UserError("Say which candidates to compare, e.g. --candidates "
                        "'tf_efficientnet_lite0:linear-probe mobilenetv2:fine-tune', or leave it out for the "
                        "default set.")
    out: list[Candidate] = []
    for item in items:
        cand = _parse_one(item)
        opts = dict(cand.options)
        if search and "search" not in opts:
            opts["search"] = _search_keys(search, item)
        if repeats and repeats > 1 and "repeats" not in opts:
            opts["repeats"] = repeats
        cand = Candidate(cand.model, cand.mode, opts)
        if any(c.label == cand.label for c in out):
            raise UserError(f"The candidate '{item}' is listed twice; list each one once.")
        out.append(cand)
    return out


def _parse_one(item: str) -> Candidate:
    from engine.models import get_spec

    parts = item.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise UserError(f"The candidate '{item}' must look like model:mode (e.g. tf_efficientnet_lite0:fine-tune).")
    model = get_spec(parts[0]).name
    mode = parts[1].strip().lower()
    if mode not in MODES:
        raise UserError(f"The candidate '{item}' has the unknown mode '{parts[1]}'; use one of {', '.join(MODES)}.")
    options: dict[str, Any] = {}
    search: list[str] = []
    in_search = False
    for pair in (parts[2].split(",") if len(parts) > 2 else []):
        pair = pair.strip()
        if not pair:
            continue
        key, eq, value = pair.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not eq and in_search:  # `search=lr,epochs`: the comma also separates what is searched
            search += _search_keys(key, item)
            continue
        in_search = key == "search"
        if not eq or key not in OPTION_KEYS:
            raise UserError(f"The candidate '{item}' has the setting '{pair}'; settings are key=value with keys "
                            f"{', '.join(OPTION_KEYS)}.")
        if in_search:
            search += _search_keys(value, item)
        else:
            options[key] = _number(item, key, value)
    if search:
        options["search"] = tuple(dict.fromkeys(search))
    return Candidate(model, mode, options)


def _search_keys(text: str, item: str) -> tuple[str, ...]:
    keys = tuple(k.strip().lower() for k in re.split(r"[,+/]", text) if k.strip())
    bad = [k for k in keys if k not in SEARCH_KEYS]
    if bad or not keys:
        raise UserError(f"The candidate '{item}' asks to search '{bad[0] if bad else text}'; the search covers "
                        f"{' and '.join(SEARCH_KEYS)} (search=lr, search=epochs or search=lr,epochs).")
    return keys


def _number(item: str, key: str, value: str) -> int | float:
    try:
        number = float(value) if key == "lr" else int(value)
    except ValueError:
        raise UserError(f"The candidate '{item}' has {key}={value}, which is not a number.") from None
    if (key == "lr" and not 0 < number < 1) or (key != "lr" and key != "seed" and number < 1):
        raise UserError(f"The candidate '{item}' has {key}={value}, which is out of range.")
    return number


def default_candidates(device: str = "cpu") -> list[str]:
    """The default candidate set for a CPU or a GPU, limited to models this registry knows."""
    from engine.models import get_spec

    out = []
    for spec in DEFAULT_GPU if device == "cuda" else DEFAULT_CPU:
        try:
            get_spec(spec.split(":")[0])
        except UserError:
            continue  # a family not in this build (e.g. YOLO before it lands)
        out.append(spec)
    return out


# --- planning ---------------------------------------------------------------------------------

def trials_of(cand: Candidate, seed: int) -> list[Trial]:
    """The trials of a candidate: its own settings, or a small seeded lr x epochs grid when it searches."""
    from engine.config import MODE_DEFAULTS

    base = {k: cand.options[k] for k in ("lr", "epochs", "batch_size", "image_size") if k in cand.options}
    first_seed = int(cand.options.get("seed", seed))
    seeds = [first_seed + i for i in range(int(cand.options.get("repeats", 1)))]
    if not cand.search or cand.mode == "linear-probe":
        return [Trial(cand, 1, base, seeds)]
    d = MODE_DEFAULTS[cand.mode]
    lr0 = float(base.get("lr", d["lr"]))
    ep0 = int(base.get("epochs", d["epochs"]))
    lrs = [lr0, lr0 * 0.3, lr0 * 3] if "lr" in cand.search else [lr0]
    eps = [ep0, max(1, round(ep0 / 2)), ep0 * 2] if "epochs" in cand.search else [ep0]
    eps = list(dict.fromkeys(eps))
    grid = list(itertools.product(lrs, eps))
    rest = grid[1:]
    random.Random(first_seed).shuffle(rest)  # a seeded random subset when the grid is larger than `trials`
    chosen = [grid[0], *rest][: int(cand.options.get("trials", DEFAULT_TRIALS))]
    return [Trial(cand, i + 1, {**base, "lr": float(f"{lr:.3g}"), "epochs": ep}, seeds)
            for i, (lr, ep) in enumerate(chosen)]


def estimate_seconds(model: str, mode: str, counts: dict[str, int], *, epochs: int | None = None,
                     image_size: int | None = None, device: str = "cpu") -> float:
    """Seconds one training run should take here, from the measured rates (RATES_CPU); a rough guide."""
    from engine.config import MODE_DEFAULTS
    from engine.models import get_spec

    spec = get_spec(model)
    faster = (spec.input_size / image_size) ** 2 if image_size else 1.0
    faster *= GPU_SPEEDUP if device == "cuda" else 1.0
    rates = {k: v * faster for k, v in _rates(spec).items()}
    n_train, n_val, n_test = counts.get("n_train", 0), counts.get("n_val", 0), counts.get("n_test", 0)
    if mode == "linear-probe":
        return START_S + (n_train + n_val + n_test) / rates["embed"]
    n_epochs = int(epochs or MODE_DEFAULTS[mode]["epochs"])
    warm_start = (n_train + n_val) / rates["embed"] if mode in ("fine-tune", "full") else 0.0
    per_epoch = n_train / rates["train"] + n_val / rates["eval"]
    return START_S + warm_start + n_epochs * per_epoch + (n_val + n_test) / rates["eval"]


def _rates(spec) -> dict[str, float]:
    if spec.name in RATES_CPU:
        return RATES_CPU[spec.name]
    if spec.family == "ultralytics":
        ref, ref_params, ref_size = RATES_CPU["yolo11n-cls"], YOLO_N_PARAMS_M, 224
    else:
        ref, ref_params, ref_size = RATES_CPU[REFERENCE], 4.652, 224
    # Unmeasured models: cost grows with parameters (a stand-in for FLOPs) and with pixels.
    slower = max(0.3, spec.params_m / ref_params) * (spec.input_size / ref_size) ** 2
    return {k: v / slower for k, v in ref.items()}


# --- the leaderboard ----------------------------------------------------------------------------

def recommend(rows: list[dict[str, Any]]) -> tuple[str | None, str]:
    """The row id to recommend and one sentence why (see `recommendation`)."""
    rec = recommendation(rows)
    return rec["row"], rec["reason"]


def recommendation(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rank finished candidates on their least noisy evidence; among those tied within the spread, the cheapest.

    A test split is *tiny* when it has fewer than TINY_TEST pictures or fewer than TINY_PER_CLASS in some class.
    Then a candidate whose own model was cross-validated (a linear probe: k-fold x repeats over train+val)
    is scored by its CV mean and fold spread; every other one by its test accuracy. A test score's spread is
    the larger of its spread over training seeds and its binomial standard error (Agresti-Coull). Two
    candidates are tied when their scores differ by no more than the larger spread, one picture's worth
    (1/n) or NEAR_TOP, whichever is largest. Among the tied, pretrained beats trained from scratch, then the
    cheapest wins: the smallest product of training seconds, latency and size, each relative to the least.

    {"row": id or None, "reason": one English sentence, "code" and "params": the same for a translation};
    a param is a plain value or a part {"code", "params"} (or a list of parts) that `render_reason` spells out.
    """
    done = [r for r in rows if r.get("status") == "done" and r.get("accuracy") is not None
            and r.get("best_trial", True)]
    if not done:
        return _rec(None, "none")
    n_test = max((r.get("n_eval") or 0) for r in done)
    per_class = [r["n_eval_min_class"] for r in done if r.get("n_eval_min_class") is not None]
    tiny = n_test < TINY_TEST or (bool(per_class) and min(per_class) < TINY_PER_CLASS)
    ev = {r["id"]: _evidence(r, tiny) for r in done}
    basis = {e["basis"] for e in ev.values()}
    split = next((r.get("eval_split") for r in done if r.get("eval_split")), "test")
    n_cv = max((e["n"] for e in ev.values() if e["basis"] == "cv"), default=0)
    evidence = _part(f"evidence.{'mixed' if len(basis) > 1 else 'cv' if basis == {'cv'} else split}",
                     n=n_test, n_cv=n_cv)

    def tol(a: dict[str, Any], b: dict[str, Any]) -> float:
        ea, eb = ev[a["id"]], ev[b["id"]]
        return max(ea["spread"], eb["spread"], ea["step"], eb["step"], NEAR_TOP)

    top = max(done, key=lambda r: (ev[r["id"]]["score"], -ev[r["id"]]["spread"]))
    score = ev[top["id"]]["score"]
    tied = [r for r in done if score - ev[r["id"]]["score"] <= tol(top, r) + 1e-9]
    if len(done) == 1:
        return _rec(top["id"], "only", name=_name(top), score=_pct(score), evidence=evidence)
    if len(tied) == 1:
        second = max((r for r in done if r is not top), key=lambda r: ev[r["id"]]["score"])
        return _rec(top["id"], "best", name=_name(top), score=_pct(score), evidence=evidence,
                    gap=_points(score - ev[second["id"]]["score"]), second=_name(second),
                    second_score=_pct(ev[second["id"]]["score"]), tol=_points(tol(top, second)))
    pool = [r for r in tied if _pretrained(r)] or tied
    chosen = min(pool, key=lambda r: (_cost(r, pool), -ev[r["id"]]["score"], r["id"]))
    scores = [ev[r["id"]]["score"] for r in tied]
    low, high = _pct(min(scores)), _pct(max(scores))
    spread = _part("range.same", score=high) if low == high else _part("range.span", low=low, high=high)
    others = len(tied) - 1
    lightest = chosen.get("latency_ms") is not None and all(
        chosen["latency_ms"] <= (r.get("latency_ms") or float("inf")) for r in pool)
    noise = "" if low == high else _part("noise", tol=_points(max(tol(top, r) for r in tied)))
    return _rec(chosen["id"], "tie", name=_name(chosen), range=spread, evidence=evidence, noise=noise,
                others=_part("others.one") if others == 1 else _part("others.many", n=others),
                pick=_part("pick.light" if lightest else "pick.cheap"),
                pretrained=_part("pretrained") if len(pool) < len(tied) else "",
                cost=_cost_facts(chosen, tied))


def _evidence(row: dict[str, Any], tiny: bool) -> dict[str, Any]:
    """{"score", "spread", "step" (one picture), "n", "basis": "cv" | "test"} for one finished row."""
    cv = row.get("cv") or {}
    if tiny and cv.get("itself") and cv.get("accuracy") and cv.get("n"):
        mean, std = cv["accuracy"]
        return {"score": float(mean), "spread": float(std), "step": 1.0 / cv["n"], "n": int(cv["n"]), "basis": "cv"}
    n = int(row.get("n_eval") or 0)
    acc = float(row["accuracy"])
    spread = row.get("spread") or {}
    seeds = float(spread["accuracy"][1]) if spread.get("kind") == "seeds" else 0.0
    if n:  # Agresti-Coull: two successes and two failures added, so 6/6 is not "certain"
        p = (acc * n + 2) / (n + 4)
        seeds = max(seeds, math.sqrt(p * (1 - p) / (n + 4)))
    return {"score": acc, "spread": seeds, "step": 1.0 / n if n else 0.0, "n": n, "basis": "test"}


def _pretrained(row: dict[str, Any]) -> bool:
    return bool(row["pretrained"]) if row.get("pretrained") is not None else row.get("mode") != "scratch"


COSTS = ("train_seconds", "latency_ms", "size_bytes")


def _cost(row: dict[str, Any], pool: list[dict[str, Any]]) -> float:
    """Sum of log(cost / the pool's least) over COSTS; a missing figure counts as the pool's worst."""
    total = 0.0
    for key in COSTS:
        known = [r[key] for r in pool if r.get(key)]
        if known:
            total += math.log((row.get(key) or max(known)) / min(known))
    return total


def _cost_facts(chosen: dict[str, Any], tied: list[dict[str, Any]]) -> list[dict[str, Any]]:
    facts = []
    if chosen.get("train_seconds"):
        facts.append(_part("cost.train", s=f"{chosen['train_seconds']:.0f}"))
    if chosen.get("latency_ms"):
        slow = max((r for r in tied if r.get("latency_ms")), key=lambda r: r["latency_ms"])
        times = slow["latency_ms"] / chosen["latency_ms"]
        ms = f"{chosen['latency_ms']:.1f}"
        facts.append(_part("cost.faster", ms=ms, times=f"{times:.1f}", slow=_name(slow)) if times >= 1.1
                     else _part("cost.latency", ms=ms))
    if chosen.get("size_bytes"):
        facts.append(_part("cost.size", mb=f"{chosen['size_bytes'] / 1e6:.1f}"))
    return facts


REASONS = {
    "none": "No candidate finished, so there is nothing to recommend yet.",
    "only": "{name}: the only candidate that finished ({score} {evidence}).",
    "best": "{name}: the best accuracy ({score} {evidence}), {gap} points above the next ({second}, "
            "{second_score}), more than the spread of {tol} points.",
    "tie": "{name}: tied within the spread with {others} ({range} {evidence}{noise}); {pick}{pretrained}: {cost}.",
}
PARTS = {
    "evidence.cv": "by cross-validation on {n_cv} labelled pictures, as {n} test pictures are too few",
    "evidence.mixed": "by cross-validation on {n_cv} labelled pictures where a candidate has it, else on {n} "
                      "test pictures",
    "evidence.test": "on {n} test pictures",
    "evidence.val": "on {n} validation pictures",
    "range.same": "all {score}",
    "range.span": "{low} to {high}",
    "noise": "; differences under {tol} points are noise here",
    "others.one": "one other candidate",
    "others.many": "{n} other candidates",
    "pick.light": "the lighter and faster one",
    "pick.cheap": "the cheapest one to train and run",
    "pretrained": ", pretrained rather than trained from scratch",
    "cost.train": "{s} s to train",
    "cost.latency": "{ms} ms per picture",
    "cost.faster": "{ms} ms per picture ({times}× faster than {slow})",
    "cost.size": "{mb} MB",
}


def render_reason(code: str, params: dict[str, Any], template=None) -> str:
    """The sentence of a recommendation; `template(key)` gives "reason.<code>" / "part.<code>" in a language."""
    def lookup(key: str) -> str:
        if template is not None:
            return template(key)
        kind, _, name = key.partition(".")
        return (REASONS if kind == "reason" else PARTS)[name]

    def value(v: Any) -> Any:
        if isinstance(v, list):
            return ", ".join(value(x) for x in v)
        if isinstance(v, dict) and "code" in v:
            return lookup(f"part.{v['code']}").format(**{k: value(x) for k, x in (v.get("params") or {}).items()})
        return v

    return lookup(f"reason.{code}").format(**{k: value(v) for k, v in params.items()})


def _part(code: str, **params: Any) -> dict[str, Any]:
    return {"code": code, "params": params}


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _points(x: float) -> str:
    return f"{x * 100:.1f}"


def _rec(row: str | None, code: str, **params: Any) -> dict[str, Any]:
    return {"row": row, "reason": render_reason(code, params), "code": code, "params": params}


def _name(row: dict[str, Any]) -> str:
    hp = row.get("settings") or {}
    tail = f" ({', '.join(f'{k} {v}' for k, v in hp.items() if k in SEARCH_KEYS)})" if row.get("trials", 1) > 1 else ""
    return f"{row['model']} {row['mode']}{tail}"


def markdown(board: dict[str, Any]) -> str:
    """The leaderboard as a Markdown table, the recommendation under it."""
    head = ["", "candidate", "trial", "status", "accuracy", "macro-F1", "pictures", "spread (accuracy)", "train s",
            "wall s", "latency ms", "params M", "size MB", "note"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    rec = (board.get("recommendation") or {}).get("row")
    for r in board.get("rows", []):
        trial = ""
        if r.get("trials", 1) > 1:
            trial = f"{r['trial']}/{r['trials']} " + ", ".join(f"{k}={v}" for k, v in (r.get("settings") or {}).items()
                                                                if k in SEARCH_KEYS)
            trial += " ★" if r.get("best_trial") else ""
        spread = r.get("spread") or {}
        sp = ""
        if spread:
            on = f", {spread['n']} pictures" if spread.get("n") else ""
            sp = f"{spread['accuracy'][0]:.3f} ± {spread['accuracy'][1]:.3f} ({spread['what']}{on})"
        n = f"{r['n_eval']} {r.get('eval_split') or 'test'}" if r.get("n_eval") else ""
        cells = ["→" if r["id"] == rec else "", r["group"], trial, r["status"], _f(r.get("accuracy"), 3),
                 _f(r.get("macro_f1"), 3), n, sp, _f(r.get("train_seconds"), 1), _f(r.get("wall_seconds"), 1),
                 _f(r.get("latency_ms"), 1), _f((r.get("params") or 0) / 1e6 if r.get("params") else None, 2),
                 _f((r.get("size_bytes") or 0) / 1e6 if r.get("size_bytes") else None, 1),
                 (r.get("message") or "").replace("|", "/").replace("\n", " ")]
        lines.append("| " + " | ".join(cells) + " |")
    out = "\n".join(lines)
    if board.get("recommendation"):
        out += f"\n\n**Recommended:** {board['recommendation']['reason']}"
    if board.get("latency_how"):
        out += f"\n\nLatency: {board['latency_how']}"
    return out + "\n"


def _f(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def read_leaderboard(compare_dir: str | Path) -> dict[str, Any] | None:
    """The compare folder's leaderboard, or None before it is written (or when it can't be read)."""
    try:
        board = read_json(Path(compare_dir) / LEADERBOARD_FILE)
    except (OSError, ValueError):
        return None
    return board if isinstance(board, dict) and board.get("format") == FORMAT else None


# --- running --------------------------------------------------------------------------------------

class Cancelled(BaseException):
    """Compare was asked to stop (Ctrl+C, or SIGTERM from the UI's Stop); no `except Exception` swallows it."""


@dataclass
class Compare:
    """One comparison in a compare folder: its plan, its rows, and the child process training now."""

    out: Path
    dataset_dir: Path
    manifest: dict[str, Any]
    candidates: list[Candidate]
    budget_minutes: float | None = None
    seed: int = 0
    device: str = "auto"
    register: bool = True
    echo: Any = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    board: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    _child: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.events = EventWriter(self.out)
        items = self.manifest["items"]
        self.counts = {f"n_{s}": sum(1 for it in items if it["split"] == s) for s in ("train", "val", "test")}
        self.where = self._where()

    def _where(self) -> str:
        # The trainer decides for real; the estimate only needs a guess without importing torch.
        return self.device if self.device != "auto" else _guess_device()

    # --- bookkeeping ----------------------------------------------------------------------
    def remaining_s(self) -> float | None:
        if self.budget_minutes is None:
            return None
        return self.budget_minutes * 60 - (time.monotonic() - self.started)

    def save(self, status: str = "running") -> None:
        rec = recommendation(self.rows)
        self.board.update(status=status, updated=_now(), elapsed_s=round(time.monotonic() - self.started, 1),
                          rows=self.rows, recommendation=rec if rec["row"] else None,
                          note=None if rec["row"] else rec["reason"])
        atomic_write_json(self.out / LEADERBOARD_FILE, self.board)
        atomic_write_text(self.out / LEADERBOARD_MD, markdown(self.board))

    def say(self, message: str) -> None:
        self.events.emit("log", level="info", message=message)
        if self.echo is not None:
            self.echo(message)

    # --- the loop -------------------------------------------------------------------------
    def run(self) -> int:
        plan = [(c, t) for c in self.candidates for t in trials_of(c, self.seed)]
        self.board = {"format": FORMAT, "created": _now(), "budget_minutes": self.budget_minutes, "seed": self.seed,
                      "device": self.where, "candidates": [c.label for c in self.candidates],
                      "data": {"dataset_dir": str(self.dataset_dir), "id": self.manifest["id"],
                               "fingerprint": self.manifest["fingerprint"], "classes": self.manifest["classes"],
                               **self.counts},
                      "latency_how": (f"batch 1 at the model's input size, PyTorch eager (the engine's own "
                                      f"prediction path for a few images), CPU, median of {LATENCY_REPEATS} calls "
                                      f"after 3 warm-up calls; network only, preprocessing excluded"),
                      "estimates_from": RATES_SOURCE}
        for cand, trial in plan:
            self.rows.append(self._row(cand, trial, len([t for c, t in plan if c is cand])))
        self.events.emit("start", candidates=[c.label for c in self.candidates], trials=len(plan),
                         budget_minutes=self.budget_minutes, data=self.board["data"])
        self.save()
        status, code = "done", 0
        try:
            for i, ((_, trial), row) in enumerate(zip(plan, self.rows, strict=True)):
                self.events.emit("progress", phase="compare", step=i, total=len(plan), candidate=row["group"],
                                 trial=row["trial"], eta_s=None)
                self._run_trial(trial, row)
                self._mark_best(row["group"])
                self.save()
                self.events.emit("row", row=row)
            self.events.emit("progress", phase="compare", step=len(plan), total=len(plan), eta_s=0)
        except BaseException as e:
            if not (stopping.requested() or stopping.is_stop(e, (Cancelled, KeyboardInterrupt))):
                raise
            stopping.settle()  # a second Stop must not cut the clean-up short
            status, code = "cancelled", 130
            self._stop_child()
            for row in self.rows:
                if row["status"] in ("pending", "running"):
                    row["status"] = "cancelled"
                    row["message_code"] = "stopped" if row["run_dirs"] else "not_run"
                    row["message"] = ("stopped before it finished" if row["run_dirs"]
                                      else "not run: the comparison was stopped")
        stopping.settle()
        self.save(status)
        rec = self.board.get("recommendation")
        if status == "done":
            self.events.emit("done", recommendation=rec)
        else:
            self.events.emit("cancelled", message="The comparison was stopped; the leaderboard holds what finished.")
        return code

    def _row(self, cand: Candidate, trial: Trial, trials: int) -> dict[str, Any]:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{cand.model}-{cand.mode}")[:48]
        idx = len(self.rows) + 1
        return {"id": f"{idx:02d}-{slug}" + (f"-t{trial.index}" if trials > 1 else ""), "group": cand.label,
                "model": cand.model, "mode": cand.mode, "settings": dict(trial.settings), "trial": trial.index,
                "trials": trials, "best_trial": trials == 1, "seeds": list(trial.seeds), "status": "pending",
                "message": None, "run_dirs": [], "estimate_s": None, "accuracy": None, "macro_f1": None,
                "val_macro_f1": None, "n_eval": None, "n_eval_min_class": None, "eval_split": None, "spread": None,
                "cv": None, "pretrained": None, "train_seconds": None,
                "wall_seconds": None, "latency_ms": None, "params": None, "size_bytes": None,
                "note": ("no search: a linear probe picks its regularisation by cross-validation itself"
                         if cand.search and cand.mode == "linear-probe" else None)}

    def _run_trial(self, trial: Trial, row: dict[str, Any]) -> None:
        est = estimate_seconds(trial.candidate.model, trial.candidate.mode, self.counts,
                               epochs=trial.settings.get("epochs"), image_size=trial.settings.get("image_size"),
                               device=self.where)
        row["estimate_s"] = round(est, 1)
        results: list[dict[str, Any]] = []
        t0 = time.monotonic()
        for n, seed in enumerate(trial.seeds):
            left = self.remaining_s()
            if left is not None and est > left:
                need, have = _minutes(est), _minutes(max(0.0, left))
                why = f"skipped: needs about {need} by the estimate, {have} of the budget left"
                if not results:
                    row.update(status="skipped", message=why, message_code="skipped_budget",
                               message_params={"need_s": round(est), "left_s": round(max(0.0, left))})
                    self.say(f"{row['group']}: {why}.")
                    return
                row["message"] = f"{len(results)} of {len(trial.seeds)} seeds ({why})"
                break
            row["status"] = "running"
            self.save()
            self.say(f"{row['group']}" + (f" trial {row['trial']}/{row['trials']}" if row["trials"] > 1 else "")
                     + (f" seed {seed}" if len(trial.seeds) > 1 else "") + f": training (about {_minutes(est)}) ...")
            # The compare folder's name keeps run ids unique in the workspace index.
            run_dir = self.out / "runs" / (f"{self.out.name}-{row['id']}" + (f"-s{seed}" if len(trial.seeds) > 1 else ""))
            row["run_dirs"].append(str(run_dir.relative_to(self.out)))
            outcome = self._train(trial, seed, run_dir, left)
            if outcome.get("error"):
                if not results:
                    row.update(status="failed", message=outcome["error"])
                    self.say(f"{row['group']}: failed: {outcome['error']}")
                    return
                row["message"] = f"seed {seed} failed: {outcome['error']}"
                break
            results.append(outcome)
            if n == 0:
                row.update(self._measure(run_dir))
        row["wall_seconds"] = round(time.monotonic() - t0, 1)
        self._fill(row, results)
        if row["accuracy"] is not None:
            self.say(f"{row['group']}: accuracy {row['accuracy']:.3f}, macro-F1 {row['macro_f1']:.3f} "
                     f"in {row['train_seconds']:.0f} s.")

    def _train(self, trial: Trial, seed: int, run_dir: Path, left: float | None) -> dict[str, Any]:
        """Train one run in a child process; its metrics, or {'error': sentence}."""
        from engine.runner import CONSOLE_FILE, engine_command, engine_env
        from engine.workspace import default_root

        raw: dict[str, Any] = {"data": str(self.dataset_dir), "model": trial.candidate.model,
                               "mode": trial.candidate.mode, "seed": seed, "device": self.device, **trial.settings}
        if left is not None:
            # The trainer checks its budget after each epoch; leave room for its start and final evaluation.
            raw["budget_minutes"] = round(max(0.1, (left - START_S) / 60), 2)
        try:
            cfg = RunConfig.from_dict(raw, source=f"candidate {trial.candidate.label}")
        except UserError as e:  # e.g. image_size=8: this candidate's row says so, the others still run
            return {"error": str(e)}
        run_dir.mkdir(parents=True, exist_ok=False)
        cfg.save(run_dir)
        if self.register:
            from engine.workspace import Workspace

            Workspace().register_run(run_dir, dataset_id=self.manifest["id"], model=cfg.model, mode=cfg.mode)
        with open(run_dir / CONSOLE_FILE, "ab") as console:
            # Same process group as this one: Ctrl+C and the UI's Stop reach the trainer too.
            self._child = subprocess.Popen(engine_command("train", str(run_dir), "--quiet"), cwd=run_dir,
                                           env=engine_env(default_root()), stdin=subprocess.DEVNULL,
                                           stdout=console, stderr=subprocess.STDOUT)
        deadline = None if left is None else time.monotonic() + left + max(60.0, 0.25 * left)
        try:
            while self._child.poll() is None:
                if deadline is not None and time.monotonic() > deadline:
                    self._stop_child()
                    return {"error": "stopped: it ran past the time budget"}
                time.sleep(0.2)
        finally:
            code = self._child.returncode
            if code is not None:
                self._child = None
        if self.register:
            _refresh(run_dir)
        metrics_file = run_dir / "metrics.json"
        if code != 0 or not metrics_file.exists():
            return {"error": _failure(run_dir, code)}
        return read_json(metrics_file)

    def _stop_child(self) -> None:
        child, self._child = self._child, None
        if child is None or child.poll() is not None:
            return
        try:
            child.wait(timeout=3)  # a group-wide signal reached it too: let it write its own 'cancelled'
            return
        except subprocess.TimeoutExpired:
            pass
        child.terminate()
        try:
            child.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=5)

    def _measure(self, run_dir: Path) -> dict[str, Any]:
        """Latency, parameters and fp32 weight bytes of a finished run's best checkpoint."""
        try:
            return measure_run(run_dir)
        except Exception as e:  # a number missing from the table is no reason to lose the row
            return {"latency_ms": None, "latency_error": f"{type(e).__name__}: {e}"}

    def _fill(self, row: dict[str, Any], results: list[dict[str, Any]]) -> None:
        import statistics

        split = next((s for s in ("test", "val") if all(s in m for m in results)), None)
        row["status"] = "done"
        row["eval_split"] = split
        if split:
            accs = [m[split]["accuracy"] for m in results]
            f1s = [m[split]["macro_f1"] for m in results]
            supports = [c["support"] for c in (results[0][split].get("per_class") or {}).values()]
            row.update(accuracy=statistics.fmean(accs), macro_f1=statistics.fmean(f1s), n_eval=results[0][split]["n"],
                       n_eval_min_class=min(supports) if supports else None)
            if len(results) > 1:
                row["spread"] = {"accuracy": [statistics.fmean(accs), statistics.stdev(accs)],
                                 "macro_f1": [statistics.fmean(f1s), statistics.stdev(f1s)], "kind": "seeds",
                                 "n": row["n_eval"],
                                 "what": f"{split} over {len(results)} training seeds on the same split"}
        vals = [m["val"]["macro_f1"] for m in results if "val" in m]
        row["val_macro_f1"] = statistics.fmean(vals) if vals else None
        cv = results[0].get("cv") or {}
        if "accuracy" in cv:
            n_cv = sum(s["n"] for s in cv.get("scores") or [] if s.get("repeat") == 0) or None
            # Only a linear probe's CV measures the model itself; a fine-tune's is of its frozen starting point.
            row["cv"] = {"accuracy": [cv["accuracy"]["mean"], cv["accuracy"]["std"]],
                         "macro_f1": [cv["macro_f1"]["mean"], cv["macro_f1"]["std"]], "n": n_cv,
                         "folds": cv["folds"], "repeats": cv["repeats"],
                         "itself": results[0].get("mode", row["mode"]) == "linear-probe"}
            if row["spread"] is None:
                row["spread"] = {**{k: row["cv"][k] for k in ("accuracy", "macro_f1", "n")}, "kind": "cv",
                                 "what": f"{cv['folds']}-fold × {cv['repeats']} cross-validation of a "
                                         f"{cv.get('what') or 'linear head'}"}
        row["pretrained"] = results[0].get("pretrained")
        row["train_seconds"] = statistics.fmean(float(m.get("train_seconds") or 0) for m in results)
        row["mode_used"] = results[0].get("mode")
        row["stopped"] = results[0].get("stopped")
        if results[0].get("params") and not row.get("params"):
            row["params"] = results[0]["params"]

    def _mark_best(self, group: str) -> None:
        """In a searched candidate, the best trial by validation macro-F1 (never by test), else by CV."""
        trials = [r for r in self.rows if r["group"] == group]
        if len(trials) < 2:
            return
        done = [r for r in trials if r["status"] == "done"]
        for r in trials:
            r["best_trial"] = False
        if not done:
            return

        def key(r):
            cv = (r.get("spread") or {}).get("macro_f1") or [0.0]
            return (r["val_macro_f1"] if r["val_macro_f1"] is not None else cv[0], -(r["train_seconds"] or 0))

        max(done, key=key)["best_trial"] = True


def measure_run(run_dir: str | Path, repeats: int = LATENCY_REPEATS) -> dict[str, Any]:
    """Batch-1 CPU latency (PyTorch eager, median), parameter count and fp32 weight bytes of a finished run."""
    import torch

    from engine.checkpoint import load_run_model
    from engine.export.parity import latency_ms

    model, ckpt = load_run_model(run_dir)
    size = int(ckpt["preprocess"]["input_size"])
    params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(t.numel() * 4 for t in model.state_dict().values() if t.is_floating_point())
    model = model.to(memory_format=torch.channels_last)
    x = torch.rand(1, 3, size, size).contiguous(memory_format=torch.channels_last)

    def once():
        with torch.inference_mode():
            model(x)

    return {"latency_ms": latency_ms(once, repeats=repeats, warmup=3), "params": int(params),
            "size_bytes": int(weight_bytes), "input_size": size}


def _failure(run_dir: Path, code: int | None) -> str:
    from engine.events import read_events

    events, _ = read_events(run_dir)
    last = next((e for e in reversed(events) if e["type"] in ("failed", "cancelled")), None)
    if last is not None and last.get("message"):
        return str(last["message"])
    return f"the training process ended with exit code {code}; see {run_dir / 'console.log'}"


def _refresh(run_dir: Path) -> None:
    try:
        from engine.workspace import Workspace

        Workspace().refresh_run(run_dir.name)
    except Exception:  # the index is a convenience; never fail a comparison over it
        pass


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- entry points ---------------------------------------------------------------------------------

def new_compare_dir(root: Path) -> Path:
    """A fresh folder under <workspace>/compare/."""
    import secrets

    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / "compare" / f"{stamp}-{secrets.token_hex(2)}"
    path.mkdir(parents=True)
    return path


def run_compare(dataset_dir: str | Path, manifest: dict[str, Any], candidates: list[Candidate], out: str | Path, *,
                budget_minutes: float | None = None, seed: int = 0, device: str = "auto", register: bool = True,
                echo=None) -> tuple[int, dict[str, Any]]:
    """Train every candidate into `out` (a new or empty folder); (exit code, leaderboard)."""
    out = Path(out)
    if (out / LEADERBOARD_FILE).exists() or (out / "runs").exists() or (out / "config.yaml").exists():
        raise UserError(f"{out} already holds a comparison or a run; choose a new --out folder.")
    out.mkdir(parents=True, exist_ok=True)
    cmp = Compare(out.resolve(), Path(dataset_dir), manifest, candidates, budget_minutes, seed, device, register, echo)

    with stopping.on_sigterm(lambda signum: Cancelled(f"signal {signum}")):
        (out / PID_FILE).write_text(f"{os.getpid()}\n")
        try:
            code = cmp.run()
        except Exception as e:
            stopping.settle()
            cmp.events.emit("failed", message=f"The comparison stopped because of an internal error "
                                              f"({type(e).__name__}: {e}).")
            if cmp.board:
                cmp.save("failed")
            raise
        finally:
            (out / PID_FILE).unlink(missing_ok=True)
    return code, cmp.board


def compare_command(dataset_dir: str | Path, candidates: list[str], out: str | Path, *,
                    budget_minutes: float | None = None, seed: int = 0, search: bool = False) -> list[str]:
    """`engine compare ...` for a child process started by the UI (which indexes the runs itself)."""
    from engine.runner import engine_command

    args = ["compare", "--data", str(dataset_dir), "--candidates", " ".join(candidates), "--out", str(out),
            "--seed", str(seed), "--no-index", "--quiet"]
    if budget_minutes:
        args += ["--budget-minutes", f"{budget_minutes:g}"]
    if search:
        args += ["--search", "lr,epochs"]
    return engine_command(*args)


def start_compare(workspace_root: str | Path, dataset_dir: str | Path, candidates: list[str], *,
                  budget_minutes: float | None = None, seed: int = 0, search: bool = False
                  ) -> tuple[Path, subprocess.Popen]:
    """Start `engine compare` in a child process of its own group (the UI's Start); (compare folder, process)."""
    from engine.runner import CONSOLE_FILE, _new_group, engine_env

    out = new_compare_dir(Path(workspace_root))
    cmd = compare_command(dataset_dir, candidates, out, budget_minutes=budget_minutes, seed=seed, search=search)
    with open(out / CONSOLE_FILE, "ab") as console:
        proc = subprocess.Popen(cmd, cwd=out, env=engine_env(workspace_root), stdin=subprocess.DEVNULL,
                                stdout=console, stderr=subprocess.STDOUT, **_new_group())
    # The compare process writes its pid itself once started; this covers its imports before that.
    atomic_write_text(out / PID_FILE, f"{proc.pid}\n")
    return out, proc


def compare_status(compare_dir: str | Path) -> str:
    """'starting', 'running', 'done', 'cancelled', 'failed' or 'interrupted' (its process died)."""
    from engine.events import owner_alive

    board = read_leaderboard(compare_dir)
    alive = owner_alive(compare_dir)
    if board is None:
        return "starting" if alive else "failed"
    if board.get("status") == "running" and not alive:
        return "interrupted"
    return str(board.get("status"))


def stop_compare(compare_dir: str | Path, proc: subprocess.Popen | None = None, grace_s: float = 20.0) -> bool:
    """Stop a comparison and the run it is training (SIGTERM to the group, SIGKILL after `grace_s`)."""
    from engine.events import owner_alive, read_pid
    from engine.runner import _signal

    pid = proc.pid if proc is not None else read_pid(compare_dir)

    def alive() -> bool:
        return proc.poll() is None if proc is not None else owner_alive(compare_dir)

    if pid is None or not alive():
        return False
    _signal(pid, signal.SIGTERM, True)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and alive():
        time.sleep(0.1)
    if alive():
        _signal(pid, signal.SIGKILL, True)
    if proc is not None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    return True


def cli(args) -> int:
    """`python -m engine compare`: parse, import the data once, run, print the leaderboard."""
    from engine.__main__ import _import

    if args.budget_minutes is not None and not args.budget_minutes > 0:
        raise UserError("--budget-minutes must be a positive number of minutes.")
    if args.repeats is not None and not 1 <= args.repeats <= 10:
        raise UserError("--repeats must be a whole number from 1 to 10.")
    device = args.device or "auto"
    text = args.candidates
    if not text:
        text = " ".join(default_candidates("cuda" if device == "cuda" else _guess_device()))
    candidates = parse_candidates(text, search=args.search, repeats=args.repeats)
    quiet = args.quiet or args.json
    dataset_dir, manifest, _ = _import(args.data, seed=args.seed, quiet=quiet)
    if args.out:
        out = Path(args.out)
    else:
        from engine.workspace import Workspace

        out = new_compare_dir(Workspace().root)

    def echo(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    code, board = run_compare(dataset_dir, manifest, candidates, out, budget_minutes=args.budget_minutes,
                              seed=args.seed, device=device, register=not args.no_index,
                              echo=None if quiet else echo)
    if args.json:
        import json

        print(json.dumps({"compare_dir": str(Path(out).resolve()), **board}, indent=2, ensure_ascii=False))
    else:
        if not args.quiet:
            print(markdown(board), file=sys.stderr)
        print(Path(out).resolve())
    if code == 130:
        print("stopped; the leaderboard holds what finished.", file=sys.stderr)
    return code


def _guess_device() -> str:
    return "cuda" if Path("/proc/driver/nvidia/version").exists() else "cpu"
