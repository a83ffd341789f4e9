"""Cloud jobs: a state machine journaled in the workspace SQLite before and after every remote call.

uploading → provisioning → running → downloading → done | failed | cancelled, and running → preempted →
provisioning (a new VM resumes from the last synced checkpoint). The driver mirrors the remote run folder
into the local one, so the UI and CLI read events.jsonl exactly as for a local run. Any process can pick
a job up again from the journal (`Jobs.unfinished()` + `JobDriver.run()`).
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloud import endpoints
from cloud.auth import TokenProvider
from cloud.bundle import build_bundle
from cloud.compute import JOB_LABEL, Compute, VmSpec, new_idempotency_key, user_data
from cloud.http import CloudError
from cloud.settings import CloudSettings
from cloud.storage import Storage
from cloud.worker import STATUS_KEY
from engine.config import RunConfig
from engine.errors import UserError
from engine.events import TERMINAL_TYPES, EventWriter, read_events
from engine.workspace import sqlite_connect, sqlite_write

MAX_ATTEMPTS = 5  # VMs per job: preemptions are normal, endless ones are not
CONSOLE_LINES = 15  # of a failed VM's serial output, quoted in the job's message
RESULTS = ("metrics.json", "labels.json", "checkpoints/best.pt")  # what a finished run brings back


def _limit_s(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


ACTIVE = ("uploading", "provisioning", "running", "preempted", "downloading", "cancelling")
FINAL = ("done", "failed", "cancelled")
CLOUD_MARKER = "cloud.json"  # in the run folder: which job trains it (no secrets)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cloud_jobs (
    id TEXT PRIMARY KEY, run_dir TEXT NOT NULL, state TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 1,
    instance_id TEXT, operation_id TEXT, idempotency_key TEXT, bucket TEXT NOT NULL, prefix TEXT NOT NULL,
    folder_id TEXT NOT NULL, zone TEXT NOT NULL, spec TEXT NOT NULL, deadline REAL NOT NULL,
    events_offset INTEGER NOT NULL DEFAULT 0, message TEXT, created TEXT NOT NULL, updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cloud_journal (
    job_id TEXT NOT NULL, t TEXT NOT NULL, step TEXT NOT NULL, detail TEXT
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Job:
    id: str
    run_dir: Path
    state: str
    attempt: int
    instance_id: str | None
    operation_id: str | None
    idempotency_key: str | None
    bucket: str
    prefix: str
    folder_id: str
    zone: str
    spec: VmSpec
    deadline: float
    events_offset: int
    message: str | None

    @property
    def finished(self) -> bool:
        return self.state in FINAL


class Jobs:
    """The journal of cloud jobs in `<workspace>/index.sqlite` (short BEGIN IMMEDIATE transactions, WAL)."""

    def __init__(self, workspace_root: str | Path):
        self.path = Path(workspace_root) / "index.sqlite"
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self):
        return sqlite_connect(self.path)

    def _write(self):
        return sqlite_write(self.path)

    def create(self, run_dir: Path, settings: CloudSettings, spec: VmSpec) -> Job:
        job_id = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        deadline = time.time() + spec.max_hours * 3600
        with self._write() as db:
            db.execute("INSERT INTO cloud_jobs (id, run_dir, state, bucket, prefix, folder_id, zone, spec, deadline, "
                       "created, updated) VALUES (?, ?, 'uploading', ?, ?, ?, ?, ?, ?, ?, ?)",
                       (job_id, str(run_dir), settings.bucket, f"konstruktor/jobs/{job_id}/", settings.folder_id,
                        settings.zone, json.dumps(spec.__dict__), deadline, _now(), _now()))
            db.execute("INSERT INTO cloud_journal VALUES (?, ?, 'created', ?)", (job_id, _now(), str(run_dir)))
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        with self._connect() as db:
            row = db.execute("SELECT * FROM cloud_jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise UserError(f"There is no cloud job '{job_id}'; `python launcher.py engine cloud jobs` lists them.")
        return _job(row)

    def list(self) -> list[Job]:
        with self._connect() as db:
            return [_job(r) for r in db.execute("SELECT * FROM cloud_jobs ORDER BY created DESC").fetchall()]

    def unfinished(self) -> list[Job]:
        return [j for j in self.list() if j.state in ACTIVE]

    def update(self, job_id: str, step: str, **values: Any) -> Job:
        """Change the job's row and append the step to the journal, in one transaction."""
        if values:
            cols = ", ".join(f"{k} = ?" for k in values)
            args = [json.dumps(v.__dict__) if isinstance(v, VmSpec) else v for v in values.values()]
        with self._write() as db:
            if values:
                db.execute(f"UPDATE cloud_jobs SET {cols}, updated = ? WHERE id = ?", (*args, _now(), job_id))
            db.execute("INSERT INTO cloud_journal VALUES (?, ?, ?, ?)",
                       (job_id, _now(), step, json.dumps({k: v for k, v in values.items() if k != "spec"})))
        return self.get(job_id)

    def journal(self, job_id: str) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM cloud_journal WHERE job_id = ? ORDER BY rowid", (job_id,)).fetchall()
        return [dict(r) for r in rows]


def _job(row: sqlite3.Row) -> Job:
    d = dict(row)
    d["run_dir"] = Path(d.pop("run_dir"))
    d["spec"] = VmSpec(**json.loads(d["spec"]))
    for k in ("created", "updated"):
        d.pop(k)
    return Job(**d)


class Cloud:
    """Credentials + settings turned into the three clients a job needs."""

    def __init__(self, workspace_root: str | Path, settings: CloudSettings, tokens: TokenProvider | None = None):
        self.root = Path(workspace_root)
        self.settings = settings
        self.tokens = tokens or TokenProvider.from_workspace(self.root)
        self.compute = Compute(settings.folder_id, self.tokens, on_unauthorized=self.tokens.invalidate)
        self.storage = Storage(settings.bucket, self.tokens, on_unauthorized=self.tokens.invalidate)
        self.jobs = Jobs(self.root)

    @property
    def vm_service_account(self) -> str:
        sa = self.settings.vm_service_account_id or self.tokens.service_account_id
        if not sa:
            raise CloudError("Say which service account the VM runs as (Settings → VM service account id); it "
                             "needs the storage.editor role on the bucket.", "config")
        return sa


class JobDriver:
    """Moves one job through its states until it is final; safe to start again on the same job after a crash."""

    def __init__(self, cloud: Cloud, job_id: str, poll_s: float = 2.0):
        self.cloud = cloud
        self.job_id = job_id
        self.poll_s = poll_s
        self._cancel = threading.Event()
        self._watch_since: dict[str, float] = {}  # instance id -> when this driver first watched it

    @property
    def job(self) -> Job:
        return self.cloud.jobs.get(self.job_id)

    def request_cancel(self) -> None:
        self._cancel.set()

    def _cancel_requested(self) -> bool:
        return self._cancel.is_set() or self.job.state in ("cancelling", "cancelled")

    def _log(self, job: Job, message: str) -> None:
        EventWriter(job.run_dir).emit("log", level="info", message=message, source="cloud")

    # --- the state machine --------------------------------------------------------------------
    def run(self) -> Job:
        """Drive the job to a final state and return it; errors end it as failed with the VM deleted."""
        outage = 0
        try:
            while True:
                job = self.job
                if job.finished:
                    return job
                if self._cancel_requested() or job.state == "cancelling":
                    return self._cancel_job(job, "Training was cancelled; the cloud VM is deleted.")
                if time.time() > job.deadline and job.state in ("provisioning", "running", "preempted"):
                    return self._cancel_job(job, "The job reached its hard time limit and was stopped; the cloud "
                                                 "VM is deleted. Raise the limit in Settings to train longer.")
                step = {"uploading": self._upload, "provisioning": self._provision, "running": self._watch,
                        "preempted": self._resubmit, "downloading": self._download}[job.state]
                try:
                    step(job)
                    outage = 0
                except CloudError as e:
                    # A training VM keeps going while the network is away: wait for it rather than end the job.
                    if e.kind not in ("network", "server") or job.state not in ("running", "downloading"):
                        raise
                    if outage == 0:
                        self._log(job, f"{e} Still trying; the training goes on in the cloud.")
                    outage += 1
                    self._cancel.wait(min(60.0, self.poll_s * 2**min(outage, 6)))
        except UserError as e:  # CloudError included; a bad bundle or config too
            return self._fail(str(e))
        except Exception as e:  # never leave a VM running behind an unexpected bug
            self._fail(f"The cloud job stopped on an internal error ({type(e).__name__}: {e}).")
            raise

    def _upload(self, job: Job) -> None:
        cfg = RunConfig.load(job.run_dir)
        with tempfile.TemporaryDirectory(prefix="konstruktor-bundle-") as tmp:
            bundle = build_bundle(cfg, cfg.data, Path(tmp) / "bundle.tar.gz")
            size_mb = bundle.stat().st_size / 1e6
            self._log(job, f"Uploading the job to Yandex Cloud ({size_mb:.1f} MB)")
            self.cloud.storage.put_file(job.prefix + "bundle.tar.gz", bundle)
        self.cloud.jobs.update(job.id, "uploaded", state="provisioning")

    def _provision(self, job: Job) -> None:
        if job.operation_id is None:
            key = job.idempotency_key or new_idempotency_key()
            job = self.cloud.jobs.update(job.id, "creating-vm", idempotency_key=key)  # before the call
            self._log(job, f"Starting a GPU VM ({job.spec.gpus}× {job.spec.platform}"
                           f"{', preemptible' if job.spec.preemptible else ''})")
            meta = {"bucket": job.bucket, "prefix": job.prefix, "deadline": job.deadline}
            op = self.cloud.compute.create_instance(
                job_id=job.id, spec=job.spec, zone=job.zone, service_account_id=self.cloud.vm_service_account,
                user_data=user_data(bucket=job.bucket, prefix=job.prefix, deadline=job.deadline,
                                    max_hours=job.spec.max_hours, env=endpoints.overrides()),
                job_metadata=meta, idempotency_key=key)
            job = self.cloud.jobs.update(job.id, "vm-requested", operation_id=op["id"],
                                         instance_id=(op.get("metadata") or {}).get("instanceId"))
        else:
            op = {"id": job.operation_id, "done": False}
        op = self.cloud.compute.wait(op, should_stop=self._cancel_requested)
        if not op.get("done"):
            return  # cancelled while waiting; run() deletes the VM
        instance_id = job.instance_id or (op.get("response") or {}).get("id")
        self.cloud.jobs.update(job.id, "vm-created", state="running", instance_id=instance_id)
        self._log(job, "The VM is up; waiting for the worker to start training")

    def _watch(self, job: Job) -> None:
        self._mirror(job)
        status = self._remote_status(job)
        mine = status.get("instance_id") == job.instance_id
        if status.get("state") == "startup-failed" and mine:
            self._vm_failed(job, "The cloud VM's start-up script failed before training began")
        if status.get("state") in ("done", "failed") and status.get("instance_id") in (None, job.instance_id):
            if status.get("state") == "failed":
                self._save_console(job)
            self.cloud.jobs.update(job.id, "worker-finished", state="downloading", message=status.get("message"))
            return
        instance = self.cloud.compute.get_instance(job.instance_id) if job.instance_id else None
        beat = status.get("heartbeat") if mine else None
        vm_status = None if instance is None else instance.get("status")
        if instance is None or vm_status in ("STOPPING", "STOPPED", "DELETING", "ERROR", "CRASHED"):
            if job.spec.preemptible and vm_status in ("STOPPING", "STOPPED"):  # what a preemption looks like
                self._save_console(job)
                self.cloud.jobs.update(job.id, "vm-preempted", state="preempted", message=f"VM {vm_status}")
                return
            if instance is None:
                raise CloudError("The cloud VM was deleted outside Konstruktor before training finished.",
                                 "vm-failed")
            when = "during training" if beat is not None else "before training began (its start-up failed)"
            self._vm_failed(job, f"The cloud VM stopped {when}; its status is {vm_status}"
                                 + ("" if job.spec.preemptible else " and it is not preemptible"))
        since = self._watch_since.setdefault(job.instance_id, time.monotonic())
        if beat is None and time.monotonic() - since > _limit_s("KONSTRUKTOR_YC_WORKER_START_S", 1800):
            self._vm_failed(job, "The cloud VM did not start training within 30 minutes")
        if beat is not None and time.time() - beat > _limit_s("KONSTRUKTOR_YC_HEARTBEAT_S", 600):
            if not job.spec.preemptible:
                self._vm_failed(job, "The training on the cloud VM stopped sending its heartbeat")
            self._save_console(job)  # a preemptible VM going quiet is being preempted: replace it, resume
            self.cloud.jobs.update(job.id, "worker-silent", state="preempted", message="worker silent")
            return
        self._sleep()

    def _vm_failed(self, job: Job, what: str) -> None:
        """End the job (run() deletes the VM) with the last lines of the VM's serial console in the message."""
        tail = [line.rstrip()[:200] for line in self._save_console(job).splitlines() if line.strip()][-CONSOLE_LINES:]
        console = ("; the last lines of its console:\n" + "\n".join(tail) + "\n(all of it is in vm_console.log in "
                   "the run folder)") if tail else "; its console could not be read"
        raise CloudError(f"{what}, so it is not started again{console}.", "vm-failed")

    def _save_console(self, job: Job) -> str:
        """Keep the VM's serial console in the run folder for diagnostics (best effort); returns its text."""
        try:
            text = self.cloud.compute.serial_output(job.instance_id)
        except CloudError:
            return ""
        with open(job.run_dir / "vm_console.log", "a", encoding="utf-8") as f:
            f.write(f"--- VM {job.instance_id}, attempt {job.attempt} ---\n{text}\n")
        return text

    def _sleep(self) -> None:
        self._cancel.wait(self.poll_s)

    def _resubmit(self, job: Job) -> None:
        """The VM was preempted or lost mid-run: delete it and start a new one that resumes from the checkpoint."""
        if job.attempt >= MAX_ATTEMPTS:
            raise CloudError(f"The cloud VM stopped {job.attempt} times before training finished; try again later "
                             "or turn off 'preemptible' in Settings (or with `python launcher.py engine cloud setup`).", "preempted")
        self._log(job, f"The cloud VM stopped (attempt {job.attempt}); starting a new one that resumes from the "
                       "last checkpoint")
        if job.instance_id:
            self.cloud.compute.delete_instance(job.instance_id)
        self.cloud.jobs.update(job.id, "resubmitted", state="provisioning", attempt=job.attempt + 1, instance_id=None,
                               operation_id=None, idempotency_key=None)

    def _download(self, job: Job) -> None:
        run_prefix = job.prefix + "run/"
        for key in self.cloud.storage.list(run_prefix):
            rel = key[len(run_prefix):]
            if rel and rel != "events.jsonl" and ".." not in Path(rel).parts:
                self.cloud.storage.get_file(key, job.run_dir / rel)
        missing = [rel for rel in RESULTS if not (job.run_dir / rel).is_file()]
        if missing and self._remote_status(job).get("state") == "done":
            return self._keep_remote(job, missing)
        self._mirror(job, final=True)
        if job.instance_id:
            self.cloud.compute.delete_instance(job.instance_id)
        self.cloud.jobs.update(job.id, "vm-deleted", instance_id=None)
        self.cloud.storage.delete_prefix(job.prefix)
        events, _ = read_events(job.run_dir)
        final = next((e["type"] for e in reversed(events) if e["type"] in TERMINAL_TYPES), None)
        if final is None:
            EventWriter(job.run_dir).emit("failed", message=job.message or "The cloud worker ended without a result; "
                                          "see console.log in the run folder.")
            final = "failed"
        self.cloud.jobs.update(job.id, "finished", state="done" if final == "done" else "failed")

    def _keep_remote(self, job: Job, missing: list[str]) -> None:
        """Training finished remotely but results did not come back: delete the VM, keep the bucket's copy."""
        self._mirror(job)
        self._delete_vm(job)
        message = (f"Training finished in the cloud, but {', '.join(missing)} did not come back to this computer. "
                   f"The results are kept in bucket '{job.bucket}' under {job.prefix}run/; download them from "
                   "Object Storage (the cloud VM is deleted).")
        EventWriter(job.run_dir).emit("failed", message=message)
        self.cloud.jobs.update(job.id, "results-missing", state="failed", message=message)

    # --- mirroring ----------------------------------------------------------------------------
    def _mirror(self, job: Job, final: bool = False) -> int:
        """Append the remote events that are new since the last call to the local events.jsonl.

        The worker's terminal event is held back until `final`, i.e. until the results are downloaded, so a
        reader that sees 'done' finds metrics.json and the checkpoints in place.
        """
        data = self.cloud.storage.get_bytes(job.prefix + "run/events.jsonl", job.events_offset)
        if not data:
            return 0
        take = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # a half-written last line waits for the next sync
            if not final and _is_terminal(line):
                break
            take += len(line)
        if not take:
            return 0
        with open(job.run_dir / "events.jsonl", "ab") as f:
            f.write(data[:take])
            f.flush()
        self.cloud.jobs.update(job.id, "mirrored", events_offset=job.events_offset + take)
        return take

    def _remote_status(self, job: Job) -> dict[str, Any]:
        raw = self.cloud.storage.get_bytes(job.prefix + STATUS_KEY)
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    # --- endings ------------------------------------------------------------------------------
    def _delete_vm(self, job: Job) -> None:
        """Delete the job's VM, and any other VM labelled with this job (one created by a lost request)."""
        ids = {job.instance_id} if job.instance_id else set()
        ids |= {i["id"] for i in self.cloud.compute.job_instances() if i["labels"].get(JOB_LABEL) == job.id.lower()}
        for instance_id in ids:
            self.cloud.compute.delete_instance(instance_id)
        self.cloud.jobs.update(job.id, "vm-deleted", instance_id=None)

    def _tidy_bucket(self, job: Job) -> None:
        """After a cancel or failure: keep the logs locally, then remove the job's files from the bucket."""
        try:
            for name in ("train.log", "console.log"):
                self.cloud.storage.get_file(job.prefix + "run/" + name, job.run_dir / f"cloud_{name}")
            self.cloud.storage.delete_prefix(job.prefix)
        except CloudError:
            pass  # best effort: what is left under the job prefix can go by a lifecycle rule or by hand

    def _cancel_job(self, job: Job, message: str) -> Job:
        self.cloud.jobs.update(job.id, "cancelling", state="cancelling")
        self._delete_vm(job)
        try:
            self._mirror(self.job, final=True)
        except CloudError:
            pass
        self._tidy_bucket(job)
        events, _ = read_events(job.run_dir)
        if not any(e["type"] in TERMINAL_TYPES for e in events):
            EventWriter(job.run_dir).emit("cancelled", message=message)
        return self.cloud.jobs.update(job.id, "cancelled", state="cancelled", message=message)

    def _fail(self, message: str) -> Job:
        job = self.job
        if job.idempotency_key or job.operation_id or job.instance_id:  # a VM was asked for, so one may exist
            try:
                self._delete_vm(job)
            except CloudError as e:
                why = "" if str(e) == message else f" ({e})"
                message += (f" The cloud VM may still be running: deleting it failed{why}; "
                            "`python launcher.py engine cloud cleanup` deletes it.")
        self._tidy_bucket(job)
        EventWriter(job.run_dir).emit("failed", message=message)
        return self.cloud.jobs.update(job.id, "failed", state="failed", message=message)


def _is_terminal(line: bytes) -> bool:
    try:
        return json.loads(line).get("type") in TERMINAL_TYPES
    except ValueError:
        return False


def submit(cloud: Cloud, run_dir: Path) -> Job:
    """Register a cloud job for an existing run folder (config.yaml with an imported dataset)."""
    from cloud.settings import vm_spec

    if not cloud.settings.configured:
        raise CloudError(f"Yandex Cloud is not set up: fill in {', '.join(cloud.settings.missing())} in Settings.",
                         "config")
    job = cloud.jobs.create(Path(run_dir).resolve(), cloud.settings, vm_spec(cloud.settings))
    (Path(run_dir) / CLOUD_MARKER).write_text(json.dumps({"job": job.id, "target": "yandex"}), encoding="utf-8")
    return job


def cancel(cloud: Cloud, job_id: str) -> Job:
    """Cancel a job from any process: the VM is deleted (and verified gone) before this returns."""
    job = cloud.jobs.get(job_id)
    if job.finished:
        return job
    return JobDriver(cloud, job_id)._cancel_job(job, "Training was cancelled; the cloud VM is deleted.")


def orphans(cloud: Cloud) -> list[dict[str, Any]]:
    """Labelled VMs whose job is not running any more (or is unknown to this workspace)."""
    active = {j.id.lower() for j in cloud.jobs.unfinished() if j.state != "cancelling"}
    return [i for i in cloud.compute.job_instances() if i["labels"].get(JOB_LABEL) not in active]


def cleanup(cloud: Cloud) -> list[str]:
    """Delete the orphaned VMs; returns their ids."""
    deleted = []
    for inst in orphans(cloud):
        cloud.compute.delete_instance(inst["id"])
        deleted.append(inst["id"])
    return deleted
