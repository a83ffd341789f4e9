"""`python launcher.py engine cloud {check,jobs,attach,cancel,cleanup}` and `train --target yandex`."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from engine.commandline import Extension, Handler, Target
from engine.errors import UserError


def add_parser(sub, common: argparse.ArgumentParser) -> dict[str, Handler]:
    """Register the `cloud` sub-command on the engine's CLI."""
    c = sub.add_parser("cloud", parents=[common], help="Yandex Cloud: check the connection, list, attach to, cancel "
                                                       "jobs, delete leftover VMs")
    cs = c.add_subparsers(dest="cloud_command", required=True)
    cs.add_parser("check", parents=[common], help="check the key, the bucket and the Compute permissions")
    cs.add_parser("jobs", parents=[common], help="list cloud jobs and leftover VMs")
    a = cs.add_parser("attach", parents=[common], help="follow an unfinished job again (after the app was closed)")
    a.add_argument("job", nargs="?", help="job id (default: every unfinished job)")
    k = cs.add_parser("cancel", parents=[common], help="cancel a job; its VM is deleted")
    k.add_argument("job")
    cs.add_parser("cleanup", parents=[common], help="delete VMs left behind by jobs that are no longer running")
    s = cs.add_parser("setup", parents=[common], help="save the folder, bucket, zone and the key file")
    s.add_argument("--folder-id")
    s.add_argument("--bucket")
    s.add_argument("--zone")
    s.add_argument("--key-file", help="a service-account authorized key (JSON); copied into the workspace, 0600")
    s.add_argument("--platform")
    s.add_argument("--gpus", type=int, help="GPUs per VM; only 1 until multi-GPU training is supported")
    s.add_argument("--preemptible", action=argparse.BooleanOptionalAction, default=None)
    s.add_argument("--max-hours", type=float)
    return {"cloud": cmd_cloud}


def _train_arguments(train: argparse.ArgumentParser) -> None:
    train.add_argument("--yes", action="store_true", help="accept the cloud cost estimate without asking")


def _choose(run_dir: Path, args) -> str:
    """`--target auto`: where this run trains, and why on stderr."""
    from cloud.target import choose_target

    target, reason = choose_target("auto", run_dir)
    if not (args.quiet or args.json):
        print(reason, file=sys.stderr)
    return target


def _cloud():
    from cloud.jobs import Cloud
    from cloud.settings import load_settings
    from engine.workspace import Workspace

    ws = Workspace()
    return Cloud(ws.root, load_settings(ws.root))


def check_connection(workspace_root: str | Path) -> list[tuple[bool, str]]:
    """Each step of reaching Yandex Cloud with the saved settings, as (ok, a sentence for people)."""
    from cloud.http import CloudError
    from cloud.jobs import Cloud
    from cloud.settings import load_settings

    settings = load_settings(workspace_root)
    if not settings.configured:
        return [(False, f"Fill in {', '.join(settings.missing())} in Settings (or with `python launcher.py engine cloud setup`).")]
    steps: list[tuple[bool, str]] = []
    try:
        cloud = Cloud(workspace_root, settings)
        cloud.tokens()
        steps.append((True, "The key works: Yandex Cloud issued an IAM token."))
        cloud.storage.check_bucket()
        steps.append((True, f"The bucket '{settings.bucket}' is reachable."))
        n = len(cloud.compute.list_instances())
        steps.append((True, f"Compute Cloud answers for folder {settings.folder_id} ({n} VMs there now)."))
        from cloud.jobs import orphans

        left = orphans(cloud)
        if left:
            steps.append((False, f"{len(left)} VM(s) left by Konstruktor jobs that no longer run are costing money: "
                                 f"{', '.join(i['id'] for i in left)}. `python launcher.py engine cloud cleanup` deletes them."))
        cloud.compute.subnet_id(settings.zone)
        steps.append((True, f"There is a subnet in {settings.zone} for the VM."))
    except CloudError as e:
        steps.append((False, str(e)))
    return steps


def cmd_cloud(args) -> int:
    return {"check": _check, "jobs": _jobs, "attach": _attach, "cancel": _cancel, "cleanup": _cleanup,
            "setup": _setup}[args.cloud_command](args)


def _setup(args) -> int:
    import dataclasses

    from cloud.auth import parse_key, save_credentials
    from cloud.settings import load_settings, save_settings
    from engine.workspace import Workspace

    root = Workspace().root
    settings = load_settings(root)
    changes = {k: v for k, v in {"folder_id": args.folder_id, "bucket": args.bucket, "zone": args.zone,
                                 "platform": args.platform, "gpus": args.gpus, "preemptible": args.preemptible,
                                 "max_hours": args.max_hours}.items() if v is not None}
    save_settings(root, dataclasses.replace(settings, **changes))
    if args.key_file:
        path = Path(args.key_file)
        if not path.is_file():
            raise UserError(f"The key file {path} does not exist.")
        save_credentials(root, key=parse_key(path.read_text(encoding="utf-8"), str(path)))
    print("Saved. Run `python launcher.py engine cloud check` to test the connection.", file=sys.stderr)
    return 0


def _check(args) -> int:
    from engine.workspace import Workspace

    steps = check_connection(Workspace().root)
    for ok, text in steps:
        print(f"{'ok ' if ok else 'FAIL'} {text}")
    return 0 if all(ok for ok, _ in steps) else 2


def _jobs(args) -> int:
    from cloud.http import CloudError
    from cloud.jobs import Jobs, orphans
    from engine.workspace import Workspace

    jobs = Jobs(Workspace().root).list()
    if not jobs:
        print("No cloud jobs yet.")
    for j in jobs:
        print(f"{j.id}  {j.state:12} attempt {j.attempt}  {j.instance_id or '-':22} {j.run_dir}"
              + (f"  ({j.message})" if j.message else ""))
    try:
        cloud = _cloud()
        left = orphans(cloud) if cloud.settings.configured else []
    except CloudError as e:
        print(f"(leftover VMs not checked: {e})", file=sys.stderr)
        left = []
    for inst in left:
        print(f"leftover VM {inst['id']} ({inst.get('status')}); `python launcher.py engine cloud cleanup` deletes it")
    return 0


def _cancel(args) -> int:
    from cloud.jobs import cancel

    job = cancel(_cloud(), args.job)
    print(f"{job.id}: {job.state}. {job.message or ''}".strip())
    return 0


def _cleanup(args) -> int:
    from cloud.jobs import cleanup

    deleted = cleanup(_cloud())
    print(f"Deleted {len(deleted)} leftover VM(s){': ' + ', '.join(deleted) if deleted else '.'}")
    return 0


def _attach(args) -> int:
    cloud = _cloud()
    jobs = [cloud.jobs.get(args.job)] if args.job else cloud.jobs.unfinished()
    if not jobs:
        print("No unfinished cloud jobs.", file=sys.stderr)
        return 0
    codes = []
    for j in jobs:
        codes.append(follow(cloud, j.id, quiet=False))
        final = cloud.jobs.get(j.id)
        print(f"{final.id}: {final.state}" + (f" ({final.message})" if final.message else "")
              + f"; run folder {final.run_dir}")
    return max(codes)


def follow(cloud, job_id: str, *, quiet: bool) -> int:
    """Drive a job in a background thread and render its mirrored events like a local run; Ctrl+C cancels."""
    from cloud.jobs import JobDriver
    from engine.events import read_events
    from engine.progress import ProgressPrinter

    driver = JobDriver(cloud, job_id)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("job", driver.run()), daemon=True)
    thread.start()
    job = cloud.jobs.get(job_id)
    printer = None if quiet else ProgressPrinter(sys.stderr)
    offset = 0
    try:
        while True:
            alive = thread.is_alive()
            events, offset = read_events(job.run_dir, offset)
            for event in events:
                if printer:
                    printer(event)
            if not alive:
                break
            thread.join(0.3)
    except KeyboardInterrupt:
        print("Cancelling: deleting the cloud VM…", file=sys.stderr)
        driver.request_cancel()
        thread.join(600)
        raise
    finally:
        if printer:
            printer.close()
    final = result.get("job") or cloud.jobs.get(job_id)
    if final.state == "done":
        return 0
    return 130 if final.state == "cancelled" else 1


def confirm_cloud(*, yes: bool) -> bool:
    """Check that Yandex Cloud is set up, show the cost estimate and ask (unless `yes`); False when declined."""
    from cloud.auth import secrets_path
    from cloud.settings import estimate, load_settings
    from engine.workspace import Workspace

    root = Workspace().root
    settings = load_settings(root)
    if not settings.configured or not secrets_path(root).exists():
        missing = settings.missing() + ([] if secrets_path(root).exists() else ["the key"])
        raise UserError(f"Yandex Cloud is not set up yet: give {', '.join(missing)} with `python launcher.py engine cloud "
                        "setup` or in the app's Settings.")
    print(f"Yandex Cloud: {estimate(settings)['text']}", file=sys.stderr)
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UserError("Confirm the cloud cost with --yes (no terminal to ask on).")
    if input("Start? [y/N] ").strip().lower() in ("y", "yes", "д", "да"):
        return True
    print("Not started.", file=sys.stderr)
    return False


def train_in_cloud(run_dir: Path, *, yes: bool, quiet: bool, confirmed: bool = False) -> int:
    """Submit a prepared run folder to Yandex Cloud after showing the cost estimate, and follow it to the end."""
    from cloud.jobs import submit

    if not confirmed and not confirm_cloud(yes=yes):
        return 130
    cloud = _cloud()
    job = submit(cloud, run_dir)
    print(f"cloud job {job.id}", file=sys.stderr)
    return follow(cloud, job.id, quiet=quiet)


EXTENSION = Extension(
    commands=add_parser,
    train_arguments=_train_arguments,
    targets={
        "yandex": Target("a Yandex Cloud GPU VM", confirm=lambda args: confirm_cloud(yes=args.yes),
                         train=lambda run_dir, args, confirmed: train_in_cloud(
                             run_dir, yes=args.yes, quiet=args.quiet or args.json, confirmed=confirmed)),
        "auto": Target("a local GPU, this CPU for small jobs, else Yandex Cloud; see README", choose=_choose),
    },
)
