"""CloudRunner: the engine's Runner protocol for Yandex Cloud (target "yandex"), beside the LocalRunner.

A cloud run has the same run folder as a local one (config.yaml, events.jsonl mirrored from the VM, then
metrics, checkpoints and artifacts); a driver thread moves its job along, and a restarted app picks
unfinished jobs up again from the journal. It also finds and deletes VMs no job owns (LEFTOVER_VMS).
`with_cloud(ws)` composes the app's runner: this computer first, the cloud second.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from cloud.http import CloudError
from cloud.jobs import ACTIVE, CLOUD_MARKER, Cloud, JobDriver, cancel, cleanup, orphans, submit
from cloud.settings import load_settings
from engine.config import RunConfig
from engine.errors import UserError
from engine.events import TERMINAL_TYPES, read_events
from engine.runner import STOP_GRACE_S, Capabilities, Dispatcher, LocalRunner, RunnerBusy
from engine.snapshot import RunSnapshot, fold

log = logging.getLogger("konstruktor.cloud")
TARGET = "yandex"
LEFTOVER_VMS = "leftover-vms"  # the ability: orphans, orphans_checked, check_orphans(), delete_orphans()


def with_cloud(workspace, *, reattach: bool = True) -> Dispatcher:
    """The app's runner: this computer (the default) and Yandex Cloud, each run sent to the one that owns it."""
    return Dispatcher(LocalRunner(workspace), CloudRunner(workspace, reattach=reattach))


def cloud_job_id(run_dir: str | Path) -> str | None:
    """The cloud job training this run folder, if it is a cloud run."""
    try:
        return json.loads((Path(run_dir) / CLOUD_MARKER).read_text(encoding="utf-8"))["job"]
    except (OSError, ValueError, KeyError):
        return None


class CloudRunner:
    """Trains runs of one workspace on Yandex Cloud GPU VMs, one at a time per project."""

    def __init__(self, workspace, *, reattach: bool = True):
        self.ws = workspace
        self._lock = threading.RLock()
        self._drivers: dict[Path, tuple[JobDriver, threading.Thread, str | None]] = {}
        self._snapshots: dict[Path, RunSnapshot] = {}
        self.orphans: list[dict[str, Any]] = []  # VMs no job owns, as last seen; the app's pages show them
        self.orphans_checked = threading.Event()  # set once the start-up look for them is over, found or not
        self._cleanup_lock = threading.Lock()
        if reattach:
            threading.Thread(target=self._reattach_cloud, daemon=True, name="cloud-reattach").start()
        else:
            self.orphans_checked.set()

    def cloud(self) -> Cloud:
        """A client of Yandex Cloud with this workspace's saved settings."""
        return Cloud(self.ws.root, load_settings(self.ws.root))

    def capabilities(self) -> Capabilities:
        return Capabilities(targets=(TARGET,), abilities=(LEFTOVER_VMS,))

    def owns(self, run_dir: Path) -> bool:
        return cloud_job_id(run_dir) is not None

    # --- starting --------------------------------------------------------------------------
    def submit(self, cfg: RunConfig, *, project_id: str | None = None, dataset_id: str | None = None,
               target: str = TARGET) -> Path:
        """Create a run folder for `cfg`, register it and train it on a cloud VM; refuses a busy project."""
        if target != TARGET:
            raise UserError(f"The cloud runner trains on '{TARGET}', not on '{target}'.")
        with self._lock:
            self._refuse_if_busy(project_id)
            cloud = self.cloud()  # fails with a plain message before any folder is made when not set up
            run_dir = self.ws.new_run_dir(cfg.model)
            cfg.save(run_dir)
            self.ws.register_run(run_dir, project_id=project_id, dataset_id=dataset_id, model=cfg.model, mode=cfg.mode)
            self._submit(cloud, run_dir.resolve(), project_id)
            return run_dir

    def start(self, run_dir: str | Path, *, project_id: str | None = None) -> None:
        """Train an existing run folder (new, or to resume) on a cloud VM."""
        run_dir = Path(run_dir).resolve()
        with self._lock:
            self._refuse_if_busy(project_id, run_dir)
            self._submit(self.cloud(), run_dir, project_id)

    def _submit(self, cloud: Cloud, run_dir: Path, project_id: str | None) -> None:
        job = submit(cloud, run_dir)
        self._snapshots.pop(run_dir, None)
        self._follow(cloud, job.id, run_dir, project_id)

    def _refuse_if_busy(self, project_id: str | None, run_dir: Path | None = None) -> None:
        busy = self.active_run(project_id) if project_id else None
        if busy is None and run_dir is not None and self._cloud_alive(run_dir):
            busy = run_dir
        if busy is not None:
            raise RunnerBusy(busy)

    def release(self, run_dir: str | Path) -> None:
        """Let a cloud run that no longer trains become a local one (its marker goes); RunnerBusy while it trains."""
        run_dir = Path(run_dir).resolve()
        with self._lock:
            if self._cloud_alive(run_dir):
                raise RunnerBusy(run_dir)
            (run_dir / CLOUD_MARKER).unlink(missing_ok=True)
            self._snapshots.pop(run_dir, None)
            self._drivers.pop(run_dir, None)

    def _follow(self, cloud: Cloud, job_id: str, run_dir: Path, project_id: str | None) -> None:
        driver = JobDriver(cloud, job_id)

        def drive():
            try:
                driver.run()
            except Exception:  # the driver already ended the job as failed; keep the trace in the log
                log.exception("cloud job %s", job_id)
            finally:
                try:
                    self.ws.refresh_run(run_dir.name)
                except Exception:  # the index is a convenience
                    pass

        thread = threading.Thread(target=drive, daemon=True, name=f"cloud-{job_id}")
        self._drivers[run_dir] = (driver, thread, project_id)
        thread.start()

    def _reattach_cloud(self) -> None:
        """On app start: follow unfinished jobs again and note VMs that no job owns."""
        try:
            cloud = self.cloud()
            projects = {Path(r["path"]).resolve(): r.get("project_id") for r in self.ws.list_runs()}
            for job in cloud.jobs.unfinished():
                run_dir = job.run_dir.resolve()
                with self._lock:
                    if run_dir not in self._drivers:
                        self._follow(cloud, job.id, run_dir, projects.get(run_dir))
            if cloud.settings.configured:
                self.orphans = orphans(cloud)
                for inst in self.orphans:
                    log.warning("a VM no job owns is running: %s; `python launcher.py engine cloud cleanup` deletes it",
                                inst["id"])
        except Exception as e:  # no credentials, no network: nothing to re-attach now
            log.info("cloud re-attach skipped: %s", e)
        finally:
            self.orphans_checked.set()

    def _set_up_cloud(self) -> Cloud:
        cloud = self.cloud()
        if not cloud.settings.configured:
            raise CloudError(f"Yandex Cloud is not set up: fill in {', '.join(cloud.settings.missing())} in "
                             "Settings.", "config")
        return cloud

    def check_orphans(self) -> list[dict[str, Any]]:
        """Ask Yandex Cloud again which VMs no job owns (a network call), and remember the answer."""
        self.orphans = orphans(self._set_up_cloud())
        return self.orphans

    def delete_orphans(self) -> list[str]:
        """Delete the VMs no job owns as Yandex Cloud lists them now (never a remembered list); their ids."""
        with self._cleanup_lock:  # two pages clicking at once delete each VM once
            cloud = self._set_up_cloud()
            try:
                return cleanup(cloud)
            finally:
                try:
                    self.orphans = orphans(cloud)
                except CloudError as e:  # the deletion's own answer (or error) matters more than a fresh list
                    log.info("listing leftover VMs after cleanup failed: %s", e)

    # --- watching --------------------------------------------------------------------------
    def _cloud_alive(self, run_dir: Path) -> bool:
        entry = self._drivers.get(run_dir)
        return entry is not None and entry[1].is_alive()

    def active_run(self, project_id: str | None) -> Path | None:
        """The cloud run training now in this project, if any."""
        with self._lock:
            for run_dir, (_, thread, pid) in self._drivers.items():
                if pid == project_id and thread.is_alive():
                    return run_dir
        return None

    def active_runs(self) -> list[Path]:
        """Every cloud run this app drives now."""
        with self._lock:
            return [d for d in self._drivers if self._cloud_alive(d)]

    def snapshot(self, run_dir: str | Path) -> RunSnapshot:
        """The run's state from its mirrored events, and from the job while those don't say it ended."""
        run_dir = Path(run_dir).resolve()
        with self._lock:
            snap = self._snapshots.setdefault(run_dir, RunSnapshot(run_dir))
            events, snap.offset = read_events(run_dir, snap.offset)
            for e in events:
                fold(snap, e)
            job_id = cloud_job_id(run_dir)
            if snap.status in TERMINAL_TYPES or job_id is None:
                return snap
            try:
                job = self.cloud().jobs.get(job_id)
            except Exception:
                return snap
            if job.state in ACTIVE:
                snap.status = "running" if snap.start else "starting"
            else:
                snap.status, snap.message = job.state, job.message
            return snap

    # --- stopping --------------------------------------------------------------------------
    def stop(self, run_dir: str | Path, grace_s: float = STOP_GRACE_S) -> bool:
        """Cancel a cloud run: its VM is deleted before this returns."""
        run_dir = Path(run_dir).resolve()
        job_id = cloud_job_id(run_dir)
        if job_id is None:
            return False
        with self._lock:
            entry = self._drivers.get(run_dir)
        if entry is not None and entry[1].is_alive():
            entry[0].request_cancel()
            entry[1].join(600)
            return True
        job = cancel(self.cloud(), job_id)
        return job.state == "cancelled"

    def shutdown(self, grace_s: float = 5.0) -> None:
        """Nothing to stop: cloud jobs go on in the cloud and are picked up again at the next start."""
