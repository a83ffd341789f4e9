"""The Gradio app. For now a single page over the engine; the full workflow comes in ui/tabs/."""

from __future__ import annotations

import gradio as gr

from engine import __version__


def build(ws) -> gr.Blocks:
    with gr.Blocks(title="Konstruktor") as demo:
        gr.Markdown(f"# Konstruktor {__version__}\nTrain an image classifier on a few dozen images per class, "
                    f"on this computer, offline.\n\nWorkspace: `{ws.root}`")
        with gr.Row():
            data = gr.Textbox(label="Data folder, .zip or .csv", scale=4)
            check = gr.Button("Check data", scale=1)
        report = gr.Textbox(label="Report", lines=8)

        def on_check(path: str) -> str:
            from engine.errors import UserError
            from engine.workspace import import_into_workspace

            if not path or not path.strip():
                return "Type the path of a folder of class folders, a .zip or a .csv."
            try:
                _, _, rep = import_into_workspace(path.strip())
            except UserError as e:
                return str(e)
            return rep.summary() if rep else "This folder is an imported dataset already."

        check.click(on_check, data, report, api_name=False)
    return demo


def launch(ws, *, host: str, port: int, share: bool, auth, open_browser: bool) -> int:
    demo = build(ws)
    app, local_url, share_url = demo.launch(
        server_name=host, server_port=port, share=share, auth=auth, inbrowser=open_browser,
        prevent_thread_lock=True, max_file_size="2gb", enable_monitoring=False, quiet=True,
        blocked_paths=[str(ws.index_path)],
    )

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "version": __version__}

    print(f"Konstruktor is running at {local_url}" + (f" and {share_url}" if share_url else ""), flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
    return 0
