"""Yandex Object Storage through its S3 API, over `requests` with a Bearer IAM token (path-style URLs)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import requests

from cloud import endpoints
from cloud.http import CloudError, call

MULTIPART_THRESHOLD = 16 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB


def _text(element: ET.Element, name: str) -> str | None:
    """A child's text by its local name: S3-compatible servers send the 2006-03-01 namespace, or none."""
    return next((child.text for child in element if child.tag.rsplit("}", 1)[-1] == name), None)


def parse_listing(body: bytes) -> tuple[dict[str, int], str | None]:
    """A ListObjectsV2 answer as ({key: size}, the continuation token or None when it is the last page)."""
    root = ET.fromstring(body)
    items = {}
    for element in root:
        if element.tag.rsplit("}", 1)[-1] == "Contents":
            key = _text(element, "Key")
            if key:
                items[key] = int(_text(element, "Size") or 0)
    truncated = (_text(root, "IsTruncated") or "").lower() == "true"
    return items, (_text(root, "NextContinuationToken") if truncated else None)


class Storage:
    """One bucket; keys are plain strings like 'jobs/<id>/run/events.jsonl'."""

    def __init__(self, bucket: str, token: Callable[[], str], *, on_unauthorized: Callable[[], None] | None = None):
        self.bucket = bucket
        self._token = token
        self._refresh = on_unauthorized
        self._session = requests.Session()

    def _url(self, key: str = "") -> str:
        return f"{endpoints.endpoint('STORAGE')}/{self.bucket}" + (f"/{quote(key)}" if key else "")

    def _call(self, method: str, key: str, what: str, **kw) -> requests.Response:
        return call(method, self._url(key), what=what, token=self._token, session=self._session,
                    on_unauthorized=self._refresh, **kw)

    # --- buckets ------------------------------------------------------------------------------
    def check_bucket(self) -> None:
        """Raise a plain CloudError unless the bucket exists and is readable with these credentials."""
        try:
            self._call("GET", "", f"listing bucket '{self.bucket}'", params={"list-type": "2", "max-keys": "1"})
        except CloudError as e:
            if e.kind == "not-found":
                raise CloudError(f"There is no bucket '{self.bucket}' (or it is in another cloud). Create it in "
                                 "Object Storage or fix the name in Settings.", "no-bucket", 404) from None
            raise

    def create_bucket(self) -> None:
        self._call("PUT", "", f"creating bucket '{self.bucket}'", ok=(200, 409))

    # --- objects ------------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes) -> None:
        if len(data) >= MULTIPART_THRESHOLD:
            self._multipart(key, lambda off, n: data[off:off + n], len(data))
        else:
            self._call("PUT", key, f"uploading {key}", data=data)

    def put_file(self, key: str, path: str | Path) -> int:
        """Upload a file (in parts when large); returns its size."""
        path = Path(path)
        size = path.stat().st_size
        if size < MULTIPART_THRESHOLD:
            self._call("PUT", key, f"uploading {key}", data=path.read_bytes())
        else:
            with open(path, "rb") as f:
                def chunk(off: int, n: int) -> bytes:
                    f.seek(off)
                    return f.read(n)

                self._multipart(key, chunk, size)
        return size

    def _multipart(self, key: str, chunk: Callable[[int, int], bytes], size: int) -> None:
        what = f"uploading {key}"
        root = ET.fromstring(self._call("POST", key, what, params={"uploads": ""}).content)
        upload_id = _text(root, "UploadId")
        parts = []
        try:
            for number, off in enumerate(range(0, size, PART_SIZE), start=1):
                resp = self._call("PUT", key, what, params={"partNumber": str(number), "uploadId": upload_id},
                                  data=chunk(off, PART_SIZE))
                parts.append((number, resp.headers.get("ETag", "")))
            body = "<CompleteMultipartUpload>" + "".join(
                f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>" for n, etag in parts
            ) + "</CompleteMultipartUpload>"
            self._call("POST", key, what, params={"uploadId": upload_id}, data=body.encode())
        except BaseException:
            try:  # leave no half-upload billing in the bucket
                self._call("DELETE", key, what, params={"uploadId": upload_id}, ok=(200, 204, 404), retries=0)
            except CloudError:
                pass
            raise

    def get_bytes(self, key: str, offset: int = 0) -> bytes | None:
        """The object's bytes from `offset` on; None if there is no such object (or nothing past `offset`)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self._call("GET", key, f"downloading {key}", ok=(200, 206, 404, 416), headers=headers)
        if resp.status_code in (404, 416):
            return None
        if offset and resp.status_code == 200:  # a server ignoring Range sends it all
            return resp.content[offset:] or None
        return resp.content

    def get_file(self, key: str, dest: str | Path) -> bool:
        """Download to `dest` (written atomically); False if there is no such object."""
        dest = Path(dest)
        resp = self._call("GET", key, f"downloading {key}", ok=(200, 404), stream=True)
        if resp.status_code == 404:
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        with open(tmp, "wb") as f:
            for block in resp.iter_content(1 << 20):
                f.write(block)
        tmp.replace(dest)
        return True

    def list(self, prefix: str = "") -> dict[str, int]:
        """Keys under `prefix` with their sizes (all pages)."""
        out: dict[str, int] = {}
        token = None
        while True:
            params = {"list-type": "2", "prefix": prefix}
            if token:
                params["continuation-token"] = token
            page, token = parse_listing(self._call("GET", "", f"listing {prefix or 'the bucket'}",
                                                   params=params).content)
            out.update(page)
            if token is None:
                return out

    def delete(self, key: str) -> None:
        self._call("DELETE", key, f"deleting {key}", ok=(200, 204, 404))

    def delete_prefix(self, prefix: str) -> int:
        keys = list(self.list(prefix))
        for key in keys:
            self.delete(key)
        return len(keys)
