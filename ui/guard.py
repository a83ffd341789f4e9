"""What every request must pass before Gradio sees it: the Host it names, the site it comes from, login throttling.

Gradio checks none of these: a page on another site may POST to a server on 127.0.0.1 (uploads need no CORS
preflight), a DNS-rebound name reaches it with a foreign `Host`, and its auth callable only gets (user, password),
so a lockout there is one counter for the whole world. This ASGI middleware sits in front of the app instead.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
UNSAFE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
LOGIN_PATHS = frozenset({"/login", "/login/"})


def is_loopback(host: str) -> bool:
    return host.strip("[]") in LOOPBACK_NAMES


def _host_and_port(netloc: str) -> tuple[str, int | None]:
    """('example.org', 8080) of 'example.org:8080', ('::1', 80) of '[::1]:80'; the name lower-cased."""
    try:
        parts = urlsplit("//" + netloc)
        return (parts.hostname or "").lower(), parts.port
    except ValueError:
        return "", None


@dataclass
class Policy:
    """What the guard accepts; `share_host` is filled in once Gradio's share link exists."""

    bind_host: str
    port: int
    share_host: str | None = None

    def allowed_host(self, host_header: str) -> bool:
        """A loopback bind answers only to loopback names on its own port (a rebound DNS name is refused)."""
        name, port = _host_and_port(host_header)
        if self.share_host and name == self.share_host:
            return True
        if not is_loopback(self.bind_host):
            return bool(name)
        return name in LOOPBACK_NAMES and (port or 80) == self.port

    def via_tunnel(self, scope: Scope, headers: Headers) -> bool:
        """A request that came through Gradio's share tunnel: from this computer, for the share link's name."""
        client = scope.get("client") or ("", 0)
        return bool(self.share_host) and is_loopback(client[0]) and \
            _host_and_port(headers.get("host", ""))[0] == self.share_host


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0
    last: float = 0.0


@dataclass
class LoginThrottle:
    """Failed logins counted per client; after `free` failures each one more makes that client wait twice as long.

    Only the client that guessed wrong waits: the owner's right password from another address always gets through.
    """

    free: int = 3
    first_delay_s: float = 2.0
    max_delay_s: float = 900.0
    forget_after_s: float = 86400.0
    max_clients: int = 4096
    _records: OrderedDict[str, _Record] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_s(self, client: str, now: float | None = None) -> float:
        """Seconds `client` must wait before its next try (0: it may try now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            record = self._records.get(client)
            return max(0.0, record.blocked_until - now) if record else 0.0

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            record = self._records.pop(client, None)
            if record is None or now - record.last > self.forget_after_s:
                record = _Record()
            record.failures += 1
            record.last = now
            over = record.failures - self.free
            if over > 0:
                record.blocked_until = now + min(self.max_delay_s, self.first_delay_s * 2 ** (over - 1))
            self._records[client] = record
            while len(self._records) > self.max_clients:  # many addresses must not grow memory without end
                self._records.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._records.pop(client, None)


def client_key(scope: Scope, headers: Headers, policy: Policy) -> str:
    """Who is asking: the peer address, or behind the share tunnel the address the tunnel saw.

    The tunnel appends the address it saw to X-Forwarded-For, so only the last entry is trusted; the ones before
    it are whatever the client chose to send.
    """
    if policy.via_tunnel(scope, headers):
        forwarded = [part.strip() for part in ",".join(headers.getlist("x-forwarded-for")).split(",") if part.strip()]
        return f"tunnel:{forwarded[-1]}" if forwarded else "tunnel"
    client = scope.get("client")
    return client[0] if client else "unknown"


def _same_site(url: str, host_header: str, policy: Policy) -> bool:
    """`url` is of this app: the address the request names, or the share link (whatever Host the tunnel sends)."""
    if not url or url == "null":
        return False
    netloc = urlsplit(url).netloc.lower()
    return netloc == host_header.lower() or bool(policy.share_host) and _host_and_port(netloc)[0] == policy.share_host


class RequestGuard:
    """ASGI middleware: refuse foreign Host names, foreign-site writes and throttled logins before the app runs."""

    def __init__(self, app: ASGIApp, policy: Policy, throttle: LoginThrottle):
        self.app = app
        self.policy = policy
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not self.policy.allowed_host(host):
            await self._refuse(scope, receive, send, 403, "This address is not served here; open the app by the "
                                                           "address it printed when it started.")
            return
        method = scope.get("method", "GET")
        if method in UNSAFE_METHODS or scope["type"] == "websocket":
            origin = headers.get("origin")
            referer = headers.get("referer")
            foreign = (origin is not None and not _same_site(origin, host, self.policy)) or \
                      (origin is None and referer is not None and not _same_site(referer, host, self.policy))
            if foreign:
                await self._refuse(scope, receive, send, 403, "Requests from another site are refused.")
                return
        if method == "POST" and scope.get("path") in LOGIN_PATHS:
            await self._login(scope, receive, send, client_key(scope, headers, self.policy))
            return
        await self.app(scope, receive, send)

    async def _login(self, scope: Scope, receive: Receive, send: Send, client: str) -> None:
        wait = self.throttle.wait_s(client)
        if wait > 0:
            retry = str(math.ceil(wait))
            await self._refuse(scope, receive, send, 429, f"Too many wrong passwords; try again in {retry} s.",
                               {"Retry-After": retry})
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] == 200:
                    self.throttle.succeeded(client)
                elif 400 <= message["status"] < 500:
                    self.throttle.failed(client)
            await send(message)

        await self.app(scope, receive, watch)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, text: str,
                      headers: dict[str, str] | None = None) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await PlainTextResponse(text, status_code=status, headers=headers)(scope, receive, send)
