"""Candidate specs: `model:mode[:key=value,...]` items parsed into Candidates, and the default sets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, get_args

from engine.config import Mode
from engine.errors import UserError

# The training modes a candidate names: every mode but `auto` (a comparison is there to choose).
MODES = tuple(m for m in get_args(Mode) if m != "auto")
# Option keys a candidate spec may carry after `model:mode:`; anything else is refused.
OPTION_KEYS = ("lr", "epochs", "batch_size", "image_size", "seed", "repeats", "search", "trials")
SEARCH_KEYS = ("lr", "epochs")

DEFAULT_CPU = ("tf_efficientnet_lite0:linear-probe", "mobilenetv2_100:linear-probe",
               "tf_efficientnet_lite0:fine-tune", "yolo11n-cls:full")
# On a GPU fine-tuning is cheap: bigger models and every layer too (all with weights that work offline).
DEFAULT_GPU = (*DEFAULT_CPU, "mobilenetv2_100:fine-tune", "tf_efficientnet_lite2:fine-tune",
               "tf_efficientnet_lite2:full", "yolo11s-cls:full")


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


def default_candidates(device: str = "cpu", task: str | None = None) -> list[str]:
    """The default candidate set for a CPU or a GPU (the task's own, when it names one), limited to models this
    registry knows."""
    from engine.models import get_spec
    from engine.tasks import get_task

    own = get_task(task)
    chosen = (own.compare_gpu if device == "cuda" else own.compare_cpu) or (
        DEFAULT_GPU if device == "cuda" else DEFAULT_CPU)
    out = []
    for spec in chosen:
        try:
            get_spec(spec.split(":")[0])
        except UserError:
            continue  # a family not in this build (e.g. YOLO before it lands)
        out.append(spec)
    return out

