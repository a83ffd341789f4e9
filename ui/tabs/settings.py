"""Settings tab: language, where the workspace is, and Yandex Cloud access (folder, key, zone, bucket, VM)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gradio as gr

from ui.i18n import LANGUAGES, t
from ui.state import PRIVATE, Ctx, leftover_vms, message, shown_path

ID = "settings"
LOG_LINES = 200
LOG_BYTES = 256 * 1024


def build(ctx: Ctx, tab: gr.Tab) -> None:
    from cloud.settings import ZONES, load_rates, load_settings

    T = ctx.texts.make
    language = T(gr.Radio, {"label": "app.language"}, choices=[(v, k) for k, v in LANGUAGES.items()],
                 value=ctx.texts.lang, elem_id="k-settings-language")
    ctx.language_inputs.append(language)
    T(gr.Markdown, {"value": lambda lang: t(lang, "settings.workspace", root=shown_path(ctx.ws.root))})
    if not ctx.shared:  # the log names folders of this computer: not for a shared link
        with T(gr.Accordion, {"label": "settings.log"}, open=False, elem_id="k-log"):
            show_log = T(gr.Button, {"value": "settings.log_show"}, size="sm", elem_id="k-log-show")
            log_box = T(gr.Textbox, {"label": "settings.log_file"}, lines=12, max_lines=24, interactive=False,
                        elem_id="k-log-text")
        show_log.click(lambda lang: log_tail(ctx.ws.root, lang), [ctx.lang], log_box, **PRIVATE)
    current = load_settings(ctx.ws.root)
    platforms = load_rates()["platforms"]
    with T(gr.Accordion, {"label": "settings.cloud"}, open=True, elem_id="k-cloud"):
        T(gr.Markdown, {"value": "settings.cloud_intro"})
        with gr.Row():
            folder = T(gr.Textbox, {"label": "settings.cloud_folder"}, value=current.folder_id,
                       elem_id="k-cloud-folder")
            bucket = T(gr.Textbox, {"label": "settings.cloud_bucket"}, value=current.bucket, elem_id="k-cloud-bucket")
            zone = T(gr.Dropdown, {"label": "settings.cloud_zone"}, choices=list(ZONES), value=current.zone,
                     elem_id="k-cloud-zone")
        with gr.Row():
            key_file = T(gr.File, {"label": "settings.cloud_key"}, file_types=[".json"], type="filepath",
                         elem_id="k-cloud-key")
            oauth = T(gr.Textbox, {"label": "settings.cloud_oauth"}, type="password", elem_id="k-cloud-oauth")
        with gr.Row():
            platform = T(gr.Dropdown, {"label": "settings.cloud_platform"},
                         choices=[(p["title"], name) for name, p in platforms.items()], value=current.platform,
                         elem_id="k-cloud-platform")
            gpus = T(gr.Dropdown, {"label": "settings.cloud_gpus"}, choices=sorted({n for p in platforms.values() for n in p["gpus"]}),
                     value=current.gpus,
                     elem_id="k-cloud-gpus")
            preemptible = T(gr.Checkbox, {"label": "settings.cloud_preemptible"}, value=current.preemptible,
                            elem_id="k-cloud-preemptible")
            hours = T(gr.Number, {"label": "settings.cloud_hours"}, value=current.max_hours, minimum=0.1, maximum=72,
                      elem_id="k-cloud-hours")
        with gr.Row():
            save = T(gr.Button, {"value": "settings.cloud_save"}, variant="primary", elem_id="k-cloud-save")
            check = T(gr.Button, {"value": "settings.cloud_check"}, elem_id="k-cloud-check")
            look = T(gr.Button, {"value": "settings.leftovers_check"}, elem_id="k-cloud-check-leftovers")
        # In the page's language from the start, and again when it changes (save and check answers replace it).
        status = T(gr.Markdown, {"value": lambda lang: key_status(ctx.ws.root, lang)}, elem_id="k-cloud-status")
        with gr.Row(equal_height=True):
            with gr.Column(scale=3):
                leftovers = gr.Markdown(elem_id="k-cloud-leftovers")
            with gr.Column(scale=1, min_width=200):
                delete = T(gr.Button, {"value": "settings.leftovers_delete"}, variant="stop", visible=False,
                           elem_id="k-cloud-delete-leftovers")

    def on_save(lang, *values):
        try:
            return save_form(ctx.ws.root, lang, *values), None, ""
        except Exception as e:
            return message(lang, e), None, ""

    save.click(on_save, [ctx.lang, folder, bucket, zone, platform, gpus, preemptible, hours, key_file, oauth],
               [status, key_file, oauth], **PRIVATE)
    check.click(lambda lang: check_form(ctx.ws.root, lang), [ctx.lang], status, **PRIVATE)

    def draw_known(pid, lang):
        # What the app found at start, from memory: opening the page or the tab never waits for the network.
        known = known_leftovers(ctx.runner)
        if known is None:
            return gr.skip(), gr.skip()
        return leftovers_line(lang, known), gr.update(visible=bool(known))

    ctx.on_refresh(draw_known, [leftovers, delete])
    tab.select(draw_known, [ctx.pid, ctx.lang], [leftovers, delete], show_progress="hidden", **PRIVATE)

    def on_look(lang):
        text, offer = check_leftovers(ctx.ws.root, ctx.runner, lang)
        return text, gr.update(visible=offer)

    def on_delete(lang):
        text, offer = delete_leftovers(ctx.ws.root, ctx.runner, lang)
        return text, gr.update(visible=offer)

    look.click(on_look, [ctx.lang], [leftovers, delete], **PRIVATE)
    delete.click(on_delete, [ctx.lang], [leftovers, delete], **PRIVATE)


def log_tail(root: Path, lang: str, lines: int = LOG_LINES) -> str:
    """The last lines of the app's log file (<workspace>/logs/ui.log), newest last."""
    path = Path(root) / "logs" / "ui.log"
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - LOG_BYTES))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return t(lang, "settings.log_empty")
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else t(lang, "settings.log_empty")


def key_status(root: Path, lang: str) -> str:
    """Which credentials are saved (never their content)."""
    from cloud.auth import load_credentials

    try:
        creds = load_credentials(root) or {}
    except Exception as e:
        return message(lang, e)
    if "key" in creds:
        return t(lang, "settings.cloud_key_saved", sa=creds["key"]["service_account_id"])
    if "oauth_token" in creds:
        return t(lang, "settings.cloud_oauth_saved")
    return t(lang, "settings.cloud_no_key")


def save_form(root: Path, lang: str, folder, bucket, zone, platform, gpus, preemptible, hours, key_file,
              oauth) -> str:
    """Check and save the form (the browser is not trusted); a key file's content goes to secrets/ only."""
    from cloud.auth import parse_key, save_credentials
    from cloud.settings import ZONES, estimate, load_settings, save_settings
    from engine.errors import UserError

    if zone not in ZONES:
        raise UserError(t(lang, "settings.cloud_bad_zone"))
    try:
        n_gpus, limit = int(gpus), float(hours)
    except (TypeError, ValueError):
        raise UserError(t(lang, "settings.cloud_bad_number")) from None
    settings = dataclasses.replace(load_settings(root), folder_id=str(folder or "").strip(),
                                   bucket=str(bucket or "").strip(), zone=zone, platform=str(platform),
                                   gpus=n_gpus, preemptible=bool(preemptible), max_hours=limit)
    save_settings(root, settings)
    if key_file:
        path = Path(key_file)
        try:
            key = parse_key(path.read_text(encoding="utf-8"), path.name)
        finally:
            path.unlink(missing_ok=True)  # the upload's temporary copy must not outlive this call
        save_credentials(root, key=key)
    elif oauth and str(oauth).strip():
        save_credentials(root, oauth_token=str(oauth))
    return "\n\n".join([t(lang, "settings.cloud_saved"), key_status(root, lang),
                        t(lang, "settings.cloud_estimate", text=cost_text(lang, estimate(settings)))])


def cost_text(lang: str, e: dict) -> str:
    """cloud.settings.estimate's price sentence, in `lang`."""
    return t(lang, "train.cost", gpus=e["gpus"], title=e["title"],
             preemptible=t(lang, "train.cost_preemptible") if e["preemptible"] else "", hourly=f"{e['hourly']:.0f}",
             currency=e["currency"], total=f"{e['total']:.0f}", hours=f"{e['hours']:g}", date=e["rates_date"])


def check_form(root: Path, lang: str) -> str:
    """The 'Check connection' answer: one line per step, the first failure says what to do."""
    from cloud.cli import check_connection

    try:
        steps = check_connection(root)
    except Exception as e:
        return message(lang, e)
    return "\n".join(f"- {'✓' if ok else '✗'} {text}" for ok, text in steps)


# --- leftover VMs: running in the cloud, owned by no job, costing money ----------------------------

def known_leftovers(runner) -> list[dict] | None:
    """The leftover VMs the app found when it started (no network call); None while it is still looking."""
    vms = leftover_vms(runner)
    if vms is None:  # a runner without the cloud
        return []
    return list(vms.orphans) if vms.orphans_checked.is_set() else None


def leftovers_line(lang: str, instances: list[dict]) -> str:
    """'Leftover cloud VMs: N …: ids', or nothing when there are none."""
    if not instances:
        return ""
    return t(lang, "settings.leftovers", n=len(instances), ids=", ".join(f"`{i['id']}`" for i in instances))


def _vm_runner(root: Path, runner):
    """The runner that keeps track of leftover VMs, when the cloud is set up; else None."""
    from cloud.target import cloud_ready

    vms = leftover_vms(runner)
    return vms if vms is not None and cloud_ready(root) else None


def check_leftovers(root: Path, runner, lang: str) -> tuple[str, bool]:
    """'Check for leftover VMs': asks Yandex Cloud now; the answer and whether to offer deleting them."""
    runner = _vm_runner(root, runner)
    if runner is None:
        return t(lang, "settings.leftovers_no_cloud"), False
    try:
        found = runner.check_orphans()
    except Exception as e:
        return message(lang, e), bool(runner.orphans)
    return leftovers_line(lang, found) or t(lang, "settings.leftovers_none"), bool(found)


def delete_leftovers(root: Path, runner, lang: str) -> tuple[str, bool]:
    """'Delete leftover VMs': deletes those Yandex Cloud lists now (not the list on the page); says how many."""
    runner = _vm_runner(root, runner)
    if runner is None:
        return t(lang, "settings.leftovers_no_cloud"), False
    try:
        deleted = runner.delete_orphans()
    except Exception as e:
        return "\n\n".join(filter(None, [message(lang, e), leftovers_line(lang, runner.orphans)])), bool(runner.orphans)
    left = runner.orphans
    return "\n\n".join(filter(None, [t(lang, "settings.leftovers_deleted", n=len(deleted)),
                                       leftovers_line(lang, left)])), bool(left)
