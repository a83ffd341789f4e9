"""IAM tokens for Yandex Cloud: from a service-account authorized key (PS256 JWT) or an OAuth token.

Credentials live only in `<workspace>/secrets/yandex.json` (folder 0700, file 0600); they are never
logged and never travel into a run folder, an export, a job bundle or a VM's metadata.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt

from cloud import endpoints
from cloud.http import CloudError, call

SECRETS_DIR = "secrets"
SECRETS_FILE = "yandex.json"
JWT_LIFETIME_S = 600
# Yandex's reference fixes the JWT audience to this URL, whichever IAM endpoint the token request goes to.
JWT_AUDIENCE = "https://iam.api.cloud.yandex.net/iam/v1/tokens"
REFRESH_MARGIN_S = 300  # a token is replaced this long before it expires


def secrets_path(workspace_root: str | Path) -> Path:
    return Path(workspace_root) / SECRETS_DIR / SECRETS_FILE


def parse_key(text: str, source: str = "the key file") -> dict[str, str]:
    """Validate an authorized key JSON (`id`, `service_account_id`, `private_key`) and return it."""
    try:
        key = json.loads(text)
    except ValueError:
        raise CloudError(f"{source} is not JSON. Download an authorized key for the service account "
                         "(IAM → Service accounts → Create new key → Authorized key) and choose that file.",
                         "auth") from None
    missing = [k for k in ("id", "service_account_id", "private_key") if not isinstance(key, dict) or not key.get(k)]
    if missing:
        raise CloudError(f"{source} is not a service-account authorized key (missing {', '.join(missing)}).", "auth")
    if "PRIVATE KEY" not in key["private_key"]:
        raise CloudError(f"{source} has no usable private key; create a new authorized key.", "auth")
    return {k: key[k] for k in ("id", "service_account_id", "private_key")}


def save_credentials(workspace_root: str | Path, *, key: dict | None = None, oauth_token: str | None = None) -> Path:
    """Store credentials owner-only in the workspace (exactly one of `key`, `oauth_token`)."""
    if (key is None) == (oauth_token is None):
        raise ValueError("give exactly one of key, oauth_token")
    path = secrets_path(workspace_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    payload = {"key": parse_key(json.dumps(key))} if key is not None else {"oauth_token": oauth_token.strip()}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(payload, f)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def load_credentials(workspace_root: str | Path) -> dict[str, Any] | None:
    """The stored credentials, or None when none are saved."""
    path = secrets_path(workspace_root)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise CloudError(f"The saved Yandex Cloud credentials in {path} are damaged; add the key again in Settings.",
                         "auth") from None


def make_jwt(key: dict[str, str], now: float | None = None) -> str:
    """A PS256-signed JWT asking the IAM service for a token on behalf of the key's service account."""
    now = int(now if now is not None else time.time())
    claims = {"iss": key["service_account_id"], "aud": JWT_AUDIENCE, "iat": now,
              "exp": now + JWT_LIFETIME_S}
    try:
        return jwt.encode(claims, key["private_key"], algorithm="PS256", headers={"kid": key["id"]})
    except (ValueError, TypeError) as e:
        raise CloudError(f"The private key in the key file cannot sign ({type(e).__name__}); create a new "
                         "authorized key.", "auth") from None


def _expiry(expires_at: str | None, fallback_s: float = 3600) -> float:
    if not expires_at:
        return time.time() + fallback_s
    try:
        # Yandex sends nanoseconds ("...T12:00:00.123456789Z"); Python parses at most microseconds.
        head, _, frac = expires_at.rstrip("Z").partition(".")
        stamp = datetime.fromisoformat(head + "+00:00").timestamp()
        return stamp + (float("0." + frac) if frac.isdigit() else 0.0)
    except ValueError:
        return time.time() + fallback_s


class TokenProvider:
    """Hands out a valid IAM token; thread-safe, cached, refreshed before it expires or after a 401."""

    def __init__(self, credentials: dict[str, Any]):
        if not credentials or not ({"key", "oauth_token"} & set(credentials)):
            raise CloudError("No Yandex Cloud credentials are set; add a service-account key in Settings (or `python launcher.py engine cloud setup --key-file KEY.json`).", "auth")
        self._creds = credentials
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    @classmethod
    def from_workspace(cls, workspace_root: str | Path) -> TokenProvider:
        return cls(load_credentials(workspace_root) or {})

    @property
    def service_account_id(self) -> str | None:
        return (self._creds.get("key") or {}).get("service_account_id")

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or time.time() > self._expires - REFRESH_MARGIN_S:
                self._token, self._expires = self._exchange()
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _exchange(self) -> tuple[str, float]:
        if "key" in self._creds:
            body = {"jwt": make_jwt(self._creds["key"])}
        else:
            body = {"yandexPassportOauthToken": self._creds["oauth_token"]}
        try:
            resp = call("POST", endpoints.iam_tokens_url(), json=body, what="getting an IAM token", ok=(200,))
        except CloudError as e:
            if e.kind not in ("auth", "request", "permission"):
                raise
            what = "service-account key" if "key" in self._creds else "OAuth token"
            raise CloudError(f"Yandex Cloud did not accept the {what} ({e.status}). Check that it is current and "
                             "belongs to this cloud, or create a new one and add it in Settings.", "auth",
                             e.status) from None
        data = resp.json()
        if not data.get("iamToken"):
            raise CloudError("The IAM service answered without a token; try again later.", "server")
        return data["iamToken"], _expiry(data.get("expiresAt"))


class MetadataTokenProvider(TokenProvider):
    """On a VM: the attached service account's token from the metadata service (no key on the VM)."""

    def __init__(self):  # noqa: D107 - no stored credentials by design
        self._lock = threading.Lock()
        self._token = None
        self._expires = 0.0
        self._creds = {}

    def _exchange(self) -> tuple[str, float]:
        url = endpoints.endpoint("METADATA") + "/computeMetadata/v1/instance/service-accounts/default/token"
        data = call("GET", url, headers={"Metadata-Flavor": "Google"}, what="getting the VM's token").json()
        return data["access_token"], time.time() + float(data.get("expires_in", 3600))
