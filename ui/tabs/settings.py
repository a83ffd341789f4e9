"""Settings tab: language, where the workspace is, and (a placeholder for now) Yandex Cloud access."""

from __future__ import annotations

import gradio as gr

from ui.i18n import LANGUAGES, t
from ui.state import Ctx

ID = "settings"


def build(ctx: Ctx, tab: gr.Tab) -> None:
    T = ctx.texts.make
    language = T(gr.Radio, {"label": "app.language"}, choices=[(v, k) for k, v in LANGUAGES.items()],
                 value=ctx.texts.lang, elem_id="k-settings-language")
    ctx.language_inputs.append(language)
    T(gr.Markdown, {"value": lambda lang: t(lang, "settings.workspace", root=str(ctx.ws.root))})
    with T(gr.Accordion, {"label": "settings.cloud"}, open=True):
        T(gr.Markdown, {"value": "settings.cloud_intro"})
        with gr.Row():
            T(gr.Textbox, {"label": "settings.cloud_folder"}, interactive=False)
            T(gr.Textbox, {"label": "settings.cloud_key"}, interactive=False)
