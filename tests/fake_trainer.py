"""Stands in for `python -m engine train RUN_DIR` in runner tests: same files, same events, no torch.

FAKE_TRAINER=run (default): starts a helper process, then reports progress until stopped by SIGTERM.
FAKE_TRAINER=stubborn: the same, but ignores SIGTERM. FAKE_TRAINER=done: finishes at once.
FAKE_TRAINER=crash: exits with 1 before writing any event.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.events import PID_FILE, EventWriter


def main() -> int:
    run_dir = Path(sys.argv[2])
    mode = os.environ.get("FAKE_TRAINER", "run")
    if mode == "crash":
        print("boom: something broke before training started", file=sys.stderr)
        return 1
    (run_dir / PID_FILE).write_text(f"{os.getpid()}\n")
    events = EventWriter(run_dir)
    events.emit("start", model="fake", mode="linear-probe", device="cpu")
    if mode == "done":
        events.emit("metrics", epoch=1, split="val", values={"loss": 0.5, "accuracy": 0.9})
        events.emit("done", metrics={})
        (run_dir / PID_FILE).unlink()
        return 0
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    (run_dir / "helper.pid").write_text(str(helper.pid))

    def on_term(signum, frame):
        events.emit("cancelled", message="stopped")
        (run_dir / PID_FILE).unlink(missing_ok=True)
        sys.exit(130)

    signal.signal(signal.SIGTERM, signal.SIG_IGN if mode == "stubborn" else on_term)
    step = 0
    while True:
        step += 1
        events.emit("progress", phase="train", epoch=1, step=step, total=1000, eta_s=100)
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
