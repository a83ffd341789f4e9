"""Renders a run's events in a terminal: a tqdm bar per phase, log lines and final metrics."""

from __future__ import annotations

from typing import IO

from engine.snapshot import upgrade_event


class ProgressPrinter:
    """Callable that takes events (as EventWriter's echo) and draws them on a stream."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self._bar = None
        self._phase = None

    def __call__(self, event: dict) -> None:
        event = upgrade_event(event)  # an older run's "resumed" / "epoch N/M done" logs are events too
        kind = event["type"]
        if kind == "progress":
            self._progress(event)
        elif kind == "start":
            self._write(f"Training {event['model']} ({event['mode']}) on {event['device']}: "
                        f"{event['n_train']} train / {event['n_val']} val / {event['n_test']} test images."
                        + (" Resuming." if event.get("resumed") else ""))
        elif kind == "log":  # epoch_end and resumed are not drawn: the metrics line and the start say them
            self._write(("warning: " if event.get("level") == "warning" else "") + event["message"])
        elif kind == "metrics" and event.get("epoch") is not None and event.get("split") == "val":
            v = event["values"]
            if "map50" in v:  # a detector's validation
                self._write(f"epoch {event['epoch']}: val mAP50 {v['map50']:.3f}, mAP50-95 {v['map50_95']:.3f}")
                return
            self._write(f"epoch {event['epoch']}: val accuracy {v['accuracy']:.3f}, macro-F1 {v['macro_f1']:.3f}, "
                        f"loss {v['loss']:.3f}")
        elif kind in ("failed", "cancelled"):
            self.close()

    def _progress(self, event: dict) -> None:
        from tqdm import tqdm

        phase = event["phase"]
        if phase != self._phase or self._bar is None:
            self.close()
            self._phase = phase
            # No rate or tqdm's own remaining time: steps are set, not counted, so its rate would be nonsense;
            # the engine's estimate (eta_s) says what is left.
            self._bar = tqdm(total=event["total"], desc=phase, file=self.stream, leave=False, dynamic_ncols=True,
                             mininterval=0.5, bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                                         "[{elapsed}{postfix}]")
        self._bar.total = event["total"]
        self._bar.n = event["step"]
        notes = [f"epoch {event['epoch']}"] if event.get("epoch") else []
        if event.get("eta_s") is not None and event["step"] < event["total"]:
            notes.append(f"about {_clock(event['eta_s'])} left")
        self._bar.set_postfix_str(", ".join(notes), refresh=False)
        self._bar.refresh()
        if event["step"] >= event["total"]:
            self.close()

    def _write(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar = None
        self._phase = None


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"
