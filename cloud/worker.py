"""The worker on the cloud VM: fetch the job bundle, run `python -m engine train RUN_DIR`, sync the run folder.

Remote layout under the job prefix: `bundle.tar.gz`, `run/…` (a mirror of the run folder), `status.json`.
A VM started after a preemption finds `run/checkpoints/last.pt` there and the engine resumes from it.
Started by the VM's cloud-init as `python -m cloud.worker --bucket B --prefix P --instance-id I --deadline T`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from cloud import endpoints
from cloud.auth import MetadataTokenProvider
from cloud.bundle import extract_bundle
from cloud.http import CloudError, call
from cloud.storage import Storage

SYNCED = ("events.jsonl", "metrics.json", "labels.json", "train.log", "console.log")
SYNCED_DIRS = ("checkpoints", "artifacts")  # but not last.pt.prev: a synced last.pt is always whole
STATUS_KEY = "status.json"


def sync_interval_s() -> float:
    return float(os.environ.get("KONSTRUKTOR_WORKER_SYNC_S", "10"))


class Worker:
    def __init__(self, storage: Storage, prefix: str, instance_id: str, deadline: float, workdir: Path,
                 tokens: MetadataTokenProvider | None = None):
        self.storage = storage
        self.tokens = tokens
        self.prefix = prefix
        self.instance_id = instance_id
        self.deadline = deadline
        self.workdir = workdir
        self.run_dir = workdir / "run"
        self._seen: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.stopping = threading.Event()

    # --- remote state -------------------------------------------------------------------------
    def status(self, state: str, **extra) -> None:
        body = {"state": state, "instance_id": self.instance_id, "heartbeat": time.time(), **extra}
        self.storage.put_bytes(self.prefix + STATUS_KEY, json.dumps(body).encode())

    def prepare(self) -> None:
        """Unpack the bundle and restore whatever an earlier (preempted) VM synced, so training resumes."""
        bundle = self.workdir / "bundle.tar.gz"
        if not self.storage.get_file(self.prefix + "bundle.tar.gz", bundle):
            raise CloudError("The job bundle is missing from the bucket.", "not-found")
        extract_bundle(bundle, self.workdir)
        bundle.unlink()
        self.run_dir.mkdir(exist_ok=True)
        for key in self.storage.list(self.prefix + "run/"):
            rel = key[len(self.prefix + "run/"):]
            if rel and ".." not in Path(rel).parts:
                self.storage.get_file(key, self.run_dir / rel)
        events = self.run_dir / "events.jsonl"
        if events.exists():  # a line torn by the preempted VM would glue onto the next attempt's first event
            data = events.read_bytes()
            events.write_bytes(data[: data.rfind(b"\n") + 1])
        from engine.config import RunConfig

        cfg = RunConfig.load(self.workdir / "config.yaml")
        cfg.model_copy(update={"data": str(self.workdir / "dataset")}).save(self.run_dir)
        self._seen = {p: self._stamp(p) for p in self._files()}  # what we just downloaded is synced already

    def _files(self) -> list[str]:
        out = [n for n in SYNCED if (self.run_dir / n).is_file()]
        for d in SYNCED_DIRS:
            root = self.run_dir / d
            if root.is_dir():
                out += [p.relative_to(self.run_dir).as_posix() for p in sorted(root.rglob("*"))
                        if p.is_file() and not p.name.endswith((".tmp", ".part", ".prev"))]
        return out

    def _stamp(self, rel: str) -> tuple[int, int]:
        st = (self.run_dir / rel).stat()
        return st.st_size, st.st_mtime_ns

    def sync(self) -> int:
        """Upload every run file that changed since the last sync (events last, so they never point ahead)."""
        with self._lock:
            sent = 0
            files = self._files()
            files.sort(key=lambda rel: rel == "events.jsonl")
            for rel in files:
                try:
                    stamp = self._stamp(rel)
                except FileNotFoundError:
                    continue  # replaced between listing and reading; the next sync takes it
                if self._seen.get(rel) == stamp:
                    continue
                self.storage.put_file(self.prefix + "run/" + rel, self.run_dir / rel)
                self._seen[rel] = stamp
                sent += 1
            return sent

    # --- training -----------------------------------------------------------------------------
    def train(self) -> int:
        env = {**os.environ, "PYTHONPATH": str(self.workdir / "src"), "PYTHONUNBUFFERED": "1",
               "KONSTRUKTOR_WORKSPACE": str(self.workdir / "ws")}
        console = open(self.run_dir / "console.log", "ab")  # noqa: SIM115 - the child owns it from here
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "engine", "train", str(self.run_dir), "--quiet"],
                                         cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=console,
                                         stderr=subprocess.STDOUT)  # same process group: a VM delete ends both
        finally:
            console.close()
        self.status("running")
        interval = sync_interval_s()
        while self.proc.poll() is None:
            if time.time() > self.deadline:
                self.stop_training()
                return -1
            self.stopping.wait(interval)
            if self.stopping.is_set():
                break
            try:
                self.sync()
                self.status("running")
            except CloudError as e:  # a blip in storage must not end a training; the next sync retries
                print(f"sync failed: {e}", file=sys.stderr, flush=True)
        return self.proc.wait()

    def stop_training(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def self_destruct(self) -> None:
        """Past the hard time limit: delete this VM through the Compute API with the VM's own token."""
        try:
            call("DELETE", endpoints.endpoint("COMPUTE") + f"/compute/v1/instances/{self.instance_id}",
                 what="deleting this VM", token=self.tokens, ok=(200, 404))
        except CloudError as e:
            print(f"self-delete failed ({e}); powering off", file=sys.stderr, flush=True)
            if os.geteuid() == 0:
                subprocess.run(["shutdown", "-P", "now"], check=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cloud.worker")
    p.add_argument("--bucket", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--instance-id", required=True)
    p.add_argument("--deadline", type=float, required=True, help="Unix time after which the job is stopped")
    p.add_argument("--workdir", help="where to unpack and train (default: a new temporary folder)")
    args = p.parse_args(argv)
    tokens = MetadataTokenProvider()
    storage = Storage(args.bucket, tokens, on_unauthorized=tokens.invalidate)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="konstruktor-job-"))
    workdir.mkdir(parents=True, exist_ok=True)
    worker = Worker(storage, args.prefix, args.instance_id, args.deadline, workdir, tokens)

    def on_term(signum, frame):  # the VM is shutting down (preemption): keep what was trained
        worker.stopping.set()
        worker.stop_training()

    signal.signal(signal.SIGTERM, on_term)
    try:
        worker.prepare()
        code = worker.train()
        worker.sync()
        if worker.stopping.is_set():
            return 0  # no final status: the client sees a stopped VM and resubmits
        if code == -1:
            worker.status("failed", message="The job reached its hard time limit and was stopped.")
            worker.self_destruct()
        else:
            worker.status("done" if code == 0 else "failed", exit_code=code)
            # The client deletes the VM once it has the results; if it never comes (the app stays closed),
            # the VM deletes itself after a while instead of idling until the hard limit.
            time.sleep(float(os.environ.get("KONSTRUKTOR_WORKER_LINGER_S", "900")))
            worker.self_destruct()
        return 0
    except CloudError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        try:
            worker.status("failed", message=str(e))
        except CloudError:
            pass
        return 2


if __name__ == "__main__":
    sys.exit(main())
