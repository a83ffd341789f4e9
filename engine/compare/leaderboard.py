"""The leaderboard: the recommendation (pure, from the rows), its sentence in any language, the Markdown table,
and reading leaderboard.json back."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from engine.compare.candidates import SEARCH_KEYS
from engine.fsutil import read_json

FORMAT = "konstruktor-compare/1"
LEADERBOARD_FILE = "leaderboard.json"
LEADERBOARD_MD = "leaderboard.md"
# Candidates closer than this (or their spread, or one picture's worth) are tied; the cheaper one wins.
NEAR_TOP = 0.01
# A test split smaller than this, or with fewer pictures in some class, is too small to rank on.
TINY_TEST = 30
TINY_PER_CLASS = 5


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
        metric = (top.get("score_names") or ["accuracy"])[0]
        return _rec(top["id"], "best", name=_name(top), metric=_part(f"metric.{metric}"), score=_pct(score),
                    evidence=evidence,
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
    "best": "{name}: the best {metric} ({score} {evidence}), {gap} points above the next ({second}, "
            "{second_score}), more than the spread of {tol} points.",
    "tie": "{name}: tied within the spread with {others} ({range} {evidence}{noise}); {pick}{pretrained}: {cost}.",
}
PARTS = {
    "metric.accuracy": "accuracy",
    "metric.map50_95": "mAP50-95",
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


SCORE_TITLES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "map50_95": "mAP50-95", "map50": "mAP50"}


def markdown(board: dict[str, Any]) -> str:
    """The leaderboard as a Markdown table, the recommendation under it."""
    names = next((r["score_names"] for r in board.get("rows", []) if r.get("score_names")), ["accuracy", "macro_f1"])
    first, second = (SCORE_TITLES.get(n, n) for n in names)
    head = ["", "candidate", "trial", "status", first, second, "pictures", f"spread ({first})", "train s",
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

