"""One way to call Yandex Cloud over HTTP: timeouts on every request, retries with backoff, plain-language errors."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import requests

from engine.errors import UserError

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
RETRIES = 4
RETRY_STATUSES = (429, 500, 502, 503, 504)


class CloudError(UserError):
    """Something in Yandex Cloud went wrong; `kind` says what (auth, permission, quota, not-found, network, server)."""

    def __init__(self, message: str, kind: str = "error", status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status


def _backoff_s(attempt: int) -> float:
    base = float(os.environ.get("KONSTRUKTOR_YC_RETRY_BASE_S", "0.5"))
    return min(base * 2**attempt, 20.0)


def remote_message(resp: requests.Response) -> str:
    """The server's own words about an error: Yandex Cloud's JSON `message`, S3's XML <Message>, or the status."""
    try:
        body = resp.json()
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
    except ValueError:
        pass
    text = resp.text or ""
    if "<Message>" in text:
        return text.split("<Message>", 1)[1].split("</Message>", 1)[0]
    return resp.reason or f"HTTP {resp.status_code}"


def error_for(resp: requests.Response, what: str) -> CloudError:
    """A one-sentence error for a failed answer to `what` (e.g. 'creating the VM')."""
    code, said = resp.status_code, remote_message(resp)
    if code == 401:
        return CloudError(f"Yandex Cloud did not accept the credentials while {what} ({said}). "
                          "Check the key file in Settings.", "auth", code)
    if code == 403:
        return CloudError(f"Yandex Cloud refused permission for {what} ({said}). Give the service account the "
                          "needed roles (compute.editor, storage.editor, iam.serviceAccounts.user) in the folder.",
                          "permission", code)
    if code == 404:
        return CloudError(f"Yandex Cloud could not find what was asked for while {what} ({said}). "
                          "Check the folder id and bucket name in Settings.", "not-found", code)
    if code == 429 or "quota" in said.lower():
        return CloudError(f"Yandex Cloud quota or rate limit reached while {what} ({said}). "
                          "Ask for a bigger quota in the console or try again later.", "quota", code)
    if code >= 500:
        return CloudError(f"Yandex Cloud had a server error while {what} (HTTP {code}: {said}). "
                          "Try again in a few minutes.", "server", code)
    return CloudError(f"Yandex Cloud rejected the request while {what} (HTTP {code}: {said}).", "request", code)


def call(method: str, url: str, *, what: str, token: str | Callable[[], str] | None = None,
         ok: tuple[int, ...] = (200,), retries: int = RETRIES, session: requests.Session | None = None,
         on_unauthorized: Callable[[], None] | None = None, **kwargs: Any) -> requests.Response:
    """Send one request (retrying network errors, 429 and 5xx); raise CloudError unless the status is in `ok`.

    `token` may be a callable so a refreshed IAM token is used on the retry after a 401.
    """
    headers = dict(kwargs.pop("headers", None) or {})
    kwargs.setdefault("timeout", (CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
    send = (session or requests).request
    refreshed = False
    attempt = 0
    while True:
        if token is not None:
            headers["Authorization"] = f"Bearer {token() if callable(token) else token}"
        try:
            resp = send(method, url, headers=headers, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as e:
            if attempt < retries:
                time.sleep(_backoff_s(attempt))
                attempt += 1
                continue
            host = url.split("/")[2] if "//" in url else url
            raise CloudError(f"Cannot reach Yandex Cloud ({host}: {type(e).__name__}) while {what}. "
                             "Check the internet connection or proxy.", "network") from None
        if resp.status_code in ok:
            return resp
        if resp.status_code == 401 and on_unauthorized is not None and not refreshed:
            # An IAM token can be revoked or expire early; get a fresh one once before giving up.
            on_unauthorized()
            refreshed = True
            continue
        if resp.status_code in RETRY_STATUSES and attempt < retries:
            time.sleep(_backoff_s(attempt))
            attempt += 1
            continue
        raise error_for(resp, what)
