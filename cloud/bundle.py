"""The job bundle: RunConfig + the imported dataset folder + the engine's source, as one tar.gz.

The engine travels as source (engine/, cloud/, pyproject.toml and the requirement lists of this
checkout, or of the frozen app's bundled sources) so the VM runs exactly the code the user has.
"""

from __future__ import annotations

import io
import tarfile
import tomllib
from pathlib import Path

from engine.config import RunConfig
from engine.errors import UserError

SOURCE_ROOT = Path(__file__).resolve().parents[1]
SOURCE_PACKAGES = ("engine", "cloud")
MAX_MEMBERS = 200_000
MAX_TOTAL_BYTES = 20 * 1024**3


def _skip(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    name = Path(info.name).name
    if name == "__pycache__" or name.endswith((".pyc", ".pyo")):
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def worker_requirements() -> str:
    """pyproject's dependencies minus the desktop-only ones, for the VM's pip."""
    deps = tomllib.loads((SOURCE_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    return "\n".join(d for d in deps if not d.lower().startswith(("gradio", "pyinstaller"))) + "\n"


def build_bundle(cfg: RunConfig, dataset_dir: str | Path, dest: str | Path) -> Path:
    """Write the bundle for `cfg` (whose dataset is the imported folder `dataset_dir`) to `dest`."""
    dataset_dir = Path(dataset_dir)
    if not (dataset_dir / "manifest.json").exists():
        raise UserError(f"{dataset_dir} is not an imported dataset folder; import the data first.")
    dest = Path(dest)
    with tarfile.open(dest, "w:gz", compresslevel=1) as tar:  # images are compressed already
        def add_text(name: str, text: str) -> None:
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add_text("config.yaml", cfg.model_copy(update={"data": "dataset"}).to_yaml())
        tar.add(dataset_dir, arcname="dataset", filter=_skip)
        for pkg in SOURCE_PACKAGES:
            tar.add(SOURCE_ROOT / pkg, arcname=f"src/{pkg}", filter=_skip)
        add_text("src/requirements-worker.txt", worker_requirements())
        weights = SOURCE_ROOT / "requirements-weights.txt"
        add_text("src/requirements-weights.txt", weights.read_text(encoding="utf-8") if weights.exists() else "")
    return dest


def extract_bundle(path: str | Path, dest: str | Path) -> Path:
    """Unpack a bundle after checking every member stays inside `dest` and is a plain file or folder."""
    dest = Path(dest).resolve()
    with tarfile.open(path, "r:gz") as tar:
        members = tar.getmembers()
        if len(members) > MAX_MEMBERS or sum(m.size for m in members) > MAX_TOTAL_BYTES:
            raise UserError("The job bundle is larger than allowed.")
        for m in members:
            target = (dest / m.name).resolve()
            if not (m.isfile() or m.isdir()) or not target.is_relative_to(dest):
                raise UserError(f"The job bundle has an unsafe entry: {m.name}.")
        tar.extractall(dest, filter="data")
    return dest
