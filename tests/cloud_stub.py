"""A loopback stand-in for Yandex Cloud's IAM, Compute, Operation, VPC and VM-metadata REST APIs.

It speaks the request and answer shapes of the public API reference, checks the service-account JWT
signature with the key's public half, and on "create instance" starts the real worker
(`python -m cloud.worker`) as a local process pointed at the loopback S3 server; "delete" kills it.
Faults (403, 5xx, expired tokens, preemption) are injected by the tests.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[1]
JOB_LABEL = "konstruktor-job"
JWT_AUDIENCE = "https://iam.api.cloud.yandex.net/iam/v1/tokens"  # fixed by the IAM reference, not the host


def make_key(sa_id: str = "aje-sa-1") -> dict:
    """A fresh authorized key (the JSON the console offers for download), with its RSA private key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return {"id": "ajek-" + secrets.token_hex(4), "service_account_id": sa_id, "created_at": "2026-11-30T00:00:00Z",
            "key_algorithm": "RSA_2048", "public_key": public, "private_key": pem}


class Instance:
    def __init__(self, iid: str, body: dict):
        self.id = iid
        self.body = body
        self.status = "PROVISIONING"
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None

    def resource(self) -> dict:
        return {"id": self.id, "folderId": self.body["folderId"], "name": self.body.get("name", ""),
                "labels": self.body.get("labels", {}), "zoneId": self.body["zoneId"],
                "platformId": self.body["platformId"], "status": self.status,
                "schedulingPolicy": self.body.get("schedulingPolicy", {}),
                "serviceAccountId": self.body.get("serviceAccountId")}


class CloudStub:
    """The server plus its state; `url` is the base for every overridden endpoint."""

    def __init__(self, storage_url: str, workdir: Path, keys: list[dict] | None = None, oauth_tokens=(),
                 token_lifetime_s: float = 3600):
        self.storage_url = storage_url
        self.workdir = Path(workdir)
        self.public_keys = {k["id"]: (k["service_account_id"], k["public_key"]) for k in keys or []}
        self.oauth_tokens = set(oauth_tokens)
        self.token_lifetime_s = token_lifetime_s
        self.tokens: dict[str, float] = {}
        self.instances: dict[str, Instance] = {}
        self.deleted: list[str] = []
        self.operations: dict[str, dict] = {}
        self.idempotency: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[dict] = []
        self.faults: dict[str, list[int]] = {}  # route name -> statuses to answer next (popped one by one)
        self.subnets = [{"id": "e9b-subnet-a", "zoneId": "ru-central1-a"}]
        self.max_page_size = 1000  # list calls answer at most this many items per page (the API's own limit)
        # A start-up script that fails (say, the bundle cannot be fetched): the VM prints this on its console
        # and powers itself off; with boot_failure_reported it first writes the startup-failed status.
        self.boot_failure: str | None = None
        self.boot_failure_reported = False
        self.start_workers = True  # False: VMs boot but their worker never starts (a broken image, say)
        self.lock = threading.RLock()
        self.created = threading.Condition(self.lock)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> CloudStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        for inst in list(self.instances.values()):
            self._kill(inst)
        self.server.shutdown()
        self.server.server_close()

    def env(self) -> dict[str, str]:
        """Environment variables that point the client (and the worker) at this stub and the S3 server."""
        return {"KONSTRUKTOR_YC_IAM_ENDPOINT": self.url, "KONSTRUKTOR_YC_COMPUTE_ENDPOINT": self.url,
                "KONSTRUKTOR_YC_OPERATION_ENDPOINT": self.url, "KONSTRUKTOR_YC_VPC_ENDPOINT": self.url,
                "KONSTRUKTOR_YC_METADATA_ENDPOINT": self.url, "KONSTRUKTOR_YC_STORAGE_ENDPOINT": self.storage_url,
                "KONSTRUKTOR_YC_RETRY_BASE_S": "0.05"}

    # --- test controls --------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens = {t: 0.0 for t in self.tokens}

    def preempt(self, instance_id: str) -> None:
        """What a preemptible VM does: it is stopped without warning (the worker dies)."""
        with self.lock:
            inst = self.instances[instance_id]
            self._kill(inst)
            inst.status = "STOPPED"

    def live_instances(self) -> list[str]:
        with self.lock:
            return list(self.instances)

    def worker_log(self, instance_id: str) -> str:
        inst = self.instances.get(instance_id)
        return inst.log_path.read_text(errors="replace") if inst and inst.log_path and inst.log_path.exists() else ""

    # --- behaviour ----------------------------------------------------------------------------
    def _operation(self, description: str, metadata: dict, response: dict | None = None,
                   error: dict | None = None) -> dict:
        op = {"id": "op-" + secrets.token_hex(6), "description": description, "createdAt": _iso(),
              "createdBy": "aje-sa-1", "modifiedAt": _iso(), "done": True, "metadata": metadata}
        if error:
            op["error"] = error
        else:
            op["response"] = response or {}
        self.operations[op["id"]] = op
        return op

    def _start_worker(self, inst: Instance) -> None:
        job = json.loads(inst.body["metadata"]["konstruktor-job"])
        env = {**os.environ, **self.env(), "PYTHONPATH": str(ROOT), "KONSTRUKTOR_WORKER_SYNC_S": "0.5",
               "KONSTRUKTOR_OFFLINE": "1"}
        work = self.workdir / inst.id
        work.mkdir(parents=True, exist_ok=True)
        inst.log_path = work / "worker.log"
        with open(inst.log_path, "wb") as log:
            inst.proc = subprocess.Popen(
                [sys.executable, "-m", "cloud.worker", "--bucket", job["bucket"], "--prefix", job["prefix"],
                 "--instance-id", inst.id, "--deadline", str(job["deadline"]), "--workdir", str(work / "job")],
                cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        inst.status = "RUNNING"

    def _fail_boot(self, inst: Instance) -> None:
        import requests

        if self.boot_failure_reported:
            job = json.loads(inst.body["metadata"]["konstruktor-job"])
            requests.put(f"{self.storage_url}/{job['bucket']}/{job['prefix']}status.json", timeout=10,
                         data=json.dumps({"state": "startup-failed", "instance_id": inst.id}))
        with self.lock:
            inst.status = "STOPPED"

    def _kill(self, inst: Instance) -> None:
        if inst.proc is not None:
            try:  # the whole group: the worker and the training it started, even if the worker already ended
                os.killpg(inst.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            inst.proc.wait()


class BareListingProxy:
    """An S3 front that answers listings without the XML namespace (as some S3-compatible servers do).

    Everything else passes through to `upstream` unchanged; keys ending in one of `hide` are left out of
    listings, as if the server could not list them.
    """

    def __init__(self, upstream: str, hide: tuple[str, ...] = ()):
        import requests

        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                resp = requests.request(self.command, upstream + self.path, headers=headers, data=body,
                                        timeout=60, allow_redirects=False)
                data = resp.content
                if self.command == "GET" and "list-type=2" in self.path:
                    data = _bare_listing(data.decode(), proxy.hide).encode()
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.hide = hide
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _bare_listing(xml: str, hide: tuple[str, ...]) -> str:
    import re

    xml = re.sub(r' xmlns="[^"]*"', "", xml)
    return re.sub(r"<Contents>(?:(?!</Contents>).)*?<Key>[^<]*?(?:" + "|".join(map(re.escape, hide)) +
                  r")</Key>.*?</Contents>", "", xml, flags=re.S) if hide else xml


def _iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())


def _handler(stub: CloudStub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet test output
            pass

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, code: int, grpc: int, message: str) -> None:
            self._send(code, {"code": grpc, "message": message, "details": []})

        def _body(self) -> dict:
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n) or b"{}")

        def _fault(self, route: str) -> bool:
            with stub.lock:
                queue = stub.faults.get(route)
                code = queue.pop(0) if queue else None
            if code is None:
                return False
            message = {403: "Permission denied", 503: "Service unavailable", 500: "Internal error",
                       429: "Quota limit compute.instances.count exceeded"}.get(code, "error")
            self._error(code, {403: 7, 429: 8}.get(code, 14), message)
            return True

        def _authorized(self) -> bool:
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ").strip()
            with stub.lock:
                expires = stub.tokens.get(token)
            if expires is None or expires < time.time():
                self._error(401, 16, "The token is invalid or has expired")
                return False
            return True

        def _issue(self) -> tuple[str, float]:
            token = "t1." + secrets.token_urlsafe(24)
            expires = time.time() + stub.token_lifetime_s
            with stub.lock:
                stub.tokens[token] = expires
            return token, expires

        def do_POST(self):  # noqa: N802
            path = urlparse(self.path).path
            stub.requests.append(("POST", path))
            if path == "/iam/v1/tokens":
                return self._iam(self._body())
            if not self._authorized():
                return None
            if path == "/compute/v1/instances":
                if self._fault("create"):
                    return None
                return self._create(self._body())
            return self._error(404, 5, f"No route {path}")

        def _iam(self, body: dict) -> None:
            if self._fault("iam"):
                return
            if "yandexPassportOauthToken" in body:
                if body["yandexPassportOauthToken"] not in stub.oauth_tokens:
                    return self._error(401, 16, "The OAuth token is invalid")
            else:
                try:
                    kid = jwt.get_unverified_header(body.get("jwt", ""))["kid"]
                    sa_id, public = stub.public_keys[kid]
                    claims = jwt.decode(body["jwt"], public, algorithms=["PS256"],
                                        audience=JWT_AUDIENCE, issuer=sa_id)
                    assert claims["exp"] - claims["iat"] <= 3600
                except (jwt.PyJWTError, KeyError, AssertionError):
                    return self._error(401, 16, "Invalid JWT: signature verification failed or unknown key")
            token, expires = self._issue()
            self._send(200, {"iamToken": token, "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%S.123456789Z",
                                                                           time.gmtime(expires))})

        def _create(self, body: dict) -> None:
            key = self.headers.get("Idempotency-Key")
            with stub.lock:
                if key and key in stub.idempotency:
                    return self._send(200, stub.operations[stub.idempotency[key]])
                stub.bodies.append(body)
                iid = "fhm" + secrets.token_hex(8)
                inst = Instance(iid, body)
                stub.instances[iid] = inst
                if stub.boot_failure is not None:
                    inst.status = "RUNNING"
                    threading.Timer(0.5, stub._fail_boot, (inst,)).start()
                elif stub.start_workers:
                    stub._start_worker(inst)
                else:
                    inst.status = "RUNNING"
                op = stub._operation("Create instance", {"@type": "type.googleapis.com/yandex.cloud.compute.v1."
                                                         "CreateInstanceMetadata", "instanceId": iid},
                                     inst.resource())
                if key:
                    stub.idempotency[key] = op["id"]
                stub.created.notify_all()
            self._send(200, {**op, "done": False})

        def _page(self, field: str, items: list[dict], query: dict) -> dict:
            """One page of a list answer: pageSize items (default 50) from pageToken, and nextPageToken if more."""
            size = min(int(query.get("pageSize", ["50"])[0]), stub.max_page_size)
            start = int(query.get("pageToken", ["0"])[0])
            out: dict = {field: items[start:start + size]}
            if start + size < len(items):
                out["nextPageToken"] = str(start + size)
            return out

        def do_GET(self):  # noqa: N802
            url = urlparse(self.path)
            path, query = url.path, parse_qs(url.query)
            stub.requests.append(("GET", path))
            if path == "/computeMetadata/v1/instance/service-accounts/default/token":
                if self.headers.get("Metadata-Flavor") != "Google":
                    return self._error(403, 7, "Missing Metadata-Flavor header")
                token, _ = self._issue()
                return self._send(200, {"access_token": token, "expires_in": int(stub.token_lifetime_s),
                                        "token_type": "Bearer"})
            if not self._authorized():
                return None
            if path.startswith("/operations/"):
                op = stub.operations.get(path.rsplit("/", 1)[1])
                return self._send(200, op) if op else self._error(404, 5, "Operation not found")
            if path == "/compute/v1/images:latestByFamily":
                return self._send(200, {"id": "fd8-" + query["family"][0], "family": query["family"][0]})
            if path == "/vpc/v1/subnets":
                items = [{**s, "folderId": query["folderId"][0]} for s in stub.subnets]
                return self._send(200, self._page("subnets", items, query))
            if path == "/compute/v1/instances":
                if self._fault("list"):
                    return None
                with stub.lock:
                    items = [i.resource() for i in stub.instances.values()
                             if i.body["folderId"] == query.get("folderId", [""])[0]]
                return self._send(200, self._page("instances", items, query))
            if path.startswith("/compute/v1/instances/"):
                rest = path.removeprefix("/compute/v1/instances/")
                iid, _, action = rest.partition(":")
                inst = stub.instances.get(iid)
                if inst is None:
                    return self._error(404, 5, f"Instance {iid} not found")
                if action == "serialPortOutput":
                    return self._send(200, {"contents": "cloud-init: boot\n" + (stub.boot_failure or "")
                                            + stub.worker_log(iid)})
                return self._send(200, inst.resource())
            return self._error(404, 5, f"No route {path}")

        def do_DELETE(self):  # noqa: N802
            path = urlparse(self.path).path
            stub.requests.append(("DELETE", path))
            if not self._authorized():
                return None
            if self._fault("delete"):
                return None
            iid = path.removeprefix("/compute/v1/instances/")
            with stub.lock:
                inst = stub.instances.pop(iid, None)
            if inst is None:
                return self._error(404, 5, f"Instance {iid} not found")
            threading.Thread(target=stub._kill, args=(inst,), daemon=True).start()
            stub.deleted.append(iid)
            op = stub._operation("Delete instance", {"instanceId": iid})
            return self._send(200, {**op, "done": False})

    return Handler


# --- pytest fixtures shared by tests/test_cloud_*.py (imported there by name) ---------------------
import pytest  # noqa: E402

BUCKET = "konstruktor-test"
FOLDER = "b1g-folder"


@pytest.fixture(scope="module")
def s3_url():
    """A moto S3 server on 127.0.0.1 (real HTTP; it does not check the Bearer token)."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def sa_key() -> dict:
    return make_key()


@pytest.fixture
def stub(s3_url, sa_key, tmp_path, monkeypatch):
    """The Compute/IAM stub, the client environment pointed at it, and a fresh bucket."""
    import requests

    server = CloudStub(s3_url, tmp_path / "vms", keys=[sa_key], oauth_tokens=["y0_good-oauth"]).start()
    for k, v in server.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("KONSTRUKTOR_OFFLINE", "1")
    requests.put(f"{s3_url}/{BUCKET}", timeout=10)
    yield server
    server.stop()


@pytest.fixture
def cloud_ws(tmp_path, monkeypatch, sa_key, stub) -> Path:
    """A workspace with Yandex Cloud set up (settings + the key in secrets/) against the stub."""
    from cloud.auth import save_credentials
    from cloud.settings import CloudSettings, save_settings

    root = tmp_path / "ws"
    monkeypatch.setenv("KONSTRUKTOR_WORKSPACE", str(root))
    root.mkdir()
    save_settings(root, CloudSettings(folder_id=FOLDER, bucket=BUCKET, max_hours=1.0))
    save_credentials(root, key=sa_key)
    return root


def prepare_run(root: Path, data: Path, **cfg) -> Path:
    """A run folder (config.yaml on an imported dataset) as the CLI or UI would create before training."""
    from engine.config import RunConfig
    from engine.workspace import Workspace, import_into_workspace

    dataset_dir, manifest, _ = import_into_workspace(str(data))
    rc = RunConfig.from_dict({"data": str(dataset_dir), "image_size": 64, "batch_size": 8, **cfg})
    ws = Workspace(root)
    run_dir = ws.new_run_dir(rc.model)
    rc.save(run_dir)
    ws.register_run(run_dir, dataset_id=manifest["id"], model=rc.model, mode=rc.mode)
    return run_dir


def wait_for(predicate, timeout: float = 240, what: str = "condition", poll: float = 0.1):
    """Event-driven wait with a generous ceiling: returns the predicate's first truthy value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")
