"""Konstruktor web UI (Gradio): a thin layer over the engine."""
