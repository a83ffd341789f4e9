"""Konstruktor engine: data import, models, training, evaluation and export, with no UI."""

__version__ = "0.1.0"
