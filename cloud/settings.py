"""Yandex Cloud settings of a workspace (not secret): folder, zone, bucket, VM choice, time limit.

Saved as `<workspace>/cloud.json`; the key itself is kept apart by cloud.auth.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from cloud.compute import VmSpec
from engine.errors import UserError
from engine.fsutil import atomic_write_text

SETTINGS_FILE = "cloud.json"
RATES_FILE = Path(__file__).with_name("rates.yaml")
ZONES = ("ru-central1-a", "ru-central1-b", "ru-central1-d")
# Saved as the default by earlier versions; Yandex's GPU documentation lists it for no platform we offer.
_OLD_DEFAULT_FAMILY = "ubuntu-2204-lts-cuda-12-2"


@dataclass
class CloudSettings:
    folder_id: str = ""
    zone: str = "ru-central1-a"
    bucket: str = ""
    platform: str = "standard-v3-t4"
    gpus: int = 1
    preemptible: bool = False
    max_hours: float = 2.0
    vm_service_account_id: str = ""  # empty: the key's own service account
    image_family: str = ""  # empty: the platform's image family from rates.yaml

    @property
    def configured(self) -> bool:
        return bool(self.folder_id and self.bucket)

    def missing(self) -> list[str]:
        return [name for name, value in (("folder id", self.folder_id), ("bucket", self.bucket)) if not value]


def load_settings(workspace_root: str | Path) -> CloudSettings:
    path = Path(workspace_root) / SETTINGS_FILE
    if not path.exists():
        return CloudSettings()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return CloudSettings()
    known = {f.name for f in fields(CloudSettings)}
    if raw.get("image_family") == _OLD_DEFAULT_FAMILY:
        raw["image_family"] = ""
    return CloudSettings(**{k: v for k, v in raw.items() if k in known})


def save_settings(workspace_root: str | Path, settings: CloudSettings) -> Path:
    validate(settings)
    return atomic_write_text(Path(workspace_root) / SETTINGS_FILE, json.dumps(asdict(settings), indent=2))


def load_rates() -> dict:
    return yaml.safe_load(RATES_FILE.read_text(encoding="utf-8"))


def validate(settings: CloudSettings) -> None:
    platforms = load_rates()["platforms"]
    if settings.platform not in platforms:
        raise UserError(f"Unknown VM platform '{settings.platform}'; choose one of {', '.join(platforms)}.")
    if settings.gpus > 1:
        raise UserError(f"Training on {settings.gpus} GPUs is not supported yet: it would use one GPU and bill for "
                        f"all {settings.gpus}. Choose 1 GPU.")
    if settings.gpus not in platforms[settings.platform]["gpus"]:
        allowed = ", ".join(map(str, platforms[settings.platform]["gpus"]))
        raise UserError(f"{platforms[settings.platform]['title']} VMs have {allowed} GPU(s), not {settings.gpus}; "
                        "choose one of those.")
    if not 0 < settings.max_hours <= 72:
        raise UserError("The time limit must be between a few minutes and 72 hours.")


def vm_spec(settings: CloudSettings) -> VmSpec:
    validate(settings)
    platform = load_rates()["platforms"][settings.platform]
    per = platform["per_gpu"]
    return VmSpec(platform=settings.platform, gpus=settings.gpus, cores=per["cores"] * settings.gpus,
                  memory_gib=per["memory_gib"] * settings.gpus, preemptible=settings.preemptible,
                  max_hours=settings.max_hours, image_family=settings.image_family or platform["image_family"])


def estimate(settings: CloudSettings, hours: float | None = None) -> dict:
    """The most the job can cost: hourly price × GPUs × the hard time limit (plus its disk)."""
    rates = load_rates()
    spec = vm_spec(settings)
    plat = rates["platforms"][spec.platform]
    hourly = (plat["hour_preemptible"] if spec.preemptible else plat["hour"]) * spec.gpus
    hourly += rates["disk_gib_hour"] * spec.disk_gib
    hours = settings.max_hours if hours is None else hours
    return {"hourly": round(hourly, 2), "hours": hours, "total": round(hourly * hours, 2),
            "currency": rates["currency"], "rates_date": rates["date"], "title": plat["title"], "gpus": spec.gpus,
            "preemptible": spec.preemptible,
            "text": (f"{spec.gpus}× {plat['title']}{' (preemptible)' if spec.preemptible else ''}: about "
                     f"{hourly:.0f} {rates['currency']}/hour, at most {hourly * hours:.0f} {rates['currency']} for "
                     f"the {hours:g}-hour limit (prices of {rates['date']}, approximate).")}
