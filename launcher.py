"""Konstruktor's entry point: parses arguments, opens the workspace, starts the UI; `launcher.py engine ...`
is the engine's full command line, where the engine and the cloud are composed.

Double-click target of the desktop build and `python launcher.py` from source. It must answer
quickly: torch, Ultralytics and albumentations are imported only where first needed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("ULTRALYTICS_SAFE_LOAD", "true")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def free_port(host: str = "127.0.0.1", preferred: int = 7860) -> int:
    """The preferred port when free, else any free port the OS gives."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
                return s.getsockname()[1]
            except OSError:
                continue
    raise RuntimeError("no free port")


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")


def resolve_auth(args: argparse.Namespace) -> tuple[str, str] | None:
    """(user, password) the app asks for, or None on this computer only.

    A shared link or a non-loopback address is never served without a password: one is generated
    and printed when --auth is not given.
    """
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep or not user or not password:
            raise ValueError("--auth must be USER:PASS, both non-empty")
        return user, password
    if args.share or not _loopback(args.host):
        user, password = "konstruktor", secrets.token_urlsafe(12)
        print(f"The app is reachable beyond this computer, so it asks for a password. "
              f"User: {user}  Password: {password}", flush=True)
        return user, password
    return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="konstruktor", description="Konstruktor: train image classifiers on small data.")
    p.add_argument("--workspace", help="folder for projects, datasets and runs")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this computer only)")
    p.add_argument("--port", type=int, default=0, help="port (default: 7860 or the next free one)")
    p.add_argument("--share", action="store_true", help="also make a public link (always behind a password)")
    p.add_argument("--auth", help="USER:PASS required to open the app")
    p.add_argument("--no-browser", action="store_true", help="don't open a browser tab")
    return p.parse_args(argv)


def engine_cli(argv: list[str]) -> int:
    """The engine's command line with the cloud's commands and targets: `Konstruktor engine ...`."""
    from cloud.cli import EXTENSION
    from engine.__main__ import main as engine_main

    prog = "Konstruktor engine" if getattr(sys, "frozen", False) else "python launcher.py engine"
    return engine_main(argv, extensions=[EXTENSION], prog=prog)


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "engine":
        # The frozen (PyInstaller) app has no `python -m`: it runs the engine as a sub-command.
        return engine_cli(sys.argv[2:])
    args = parse_args(argv)
    if args.workspace:
        os.environ["KONSTRUKTOR_WORKSPACE"] = os.path.abspath(os.path.expanduser(args.workspace))
    try:
        auth = resolve_auth(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from engine.workspace import Workspace

    ws = Workspace()
    from ui.instance import running

    if url := running(ws.root):
        # A second double-click: the app already serves this workspace; open it instead of a second server.
        print(f"Konstruktor is already running at {url}", flush=True)
        if not args.no_browser:
            import webbrowser

            webbrowser.open(url)
        return 0
    port = args.port or free_port(args.host)
    from ui.app import launch

    return launch(ws, host=args.host, port=port, share=args.share, auth=auth, open_browser=not args.no_browser)


if __name__ == "__main__":
    import multiprocessing

    # In the frozen app a data-loader worker (spawned on Windows and macOS) re-runs this file: this makes it
    # the worker instead of a second app.
    multiprocessing.freeze_support()
    sys.exit(main())
