"""Gradio's own words (upload areas, buttons, its toasts) in the app's language, not the browser's.

Gradio's front end picks the language of its built-in strings from the browser's locale when the page
loads; the app's language is a setting kept on the server. A small script on the page hands the app's
language to Gradio's own i18n (`changeLocale` of its front-end core module, which already has Russian),
and puts our sentence in place of the few messages Gradio writes in English only.
"""

from __future__ import annotations

import json

import gradio as gr

from ui.i18n import LANGUAGES, t
from ui.state import PRIVATE

# Gradio's English-only messages, as regular expressions, and the strings that replace their words.
_HARDCODED = [{"pattern": r"^Invalid file types?: (.+)\. Only (.+) allowed\.$", "key": "app.invalid_file_type"},
              {"pattern": r"^Error$", "key": "app.toast_error"}, {"pattern": r"^Warning$", "key": "app.toast_warning"},
              {"pattern": r"^Info$", "key": "app.toast_info"},
              {"pattern": r"^Click to Access Webcam$", "key": "app.gradio_webcam"},
              # A status key Gradio's Russian lacks (shown as the bare key once a handler with progress ends).
              {"pattern": r"^common\.complete$", "key": "app.gradio_complete"}]

# Gradio's front-end core module holds its i18n; importing it again returns the same, loaded module. The locale
# changes only once the page has settled. (No `//` comments inside: Gradio may put the script on one line.)
_SCRIPT = """
async (lang) => {
  const replacements = %(replacements)s;
  if (!lang) return;
  window.konstruktorLang = lang;
  const urls = performance.getEntriesByType("resource").map((e) => e.name)
    .concat([...document.querySelectorAll("link[rel=modulepreload], script[src]")].map((e) => e.href || e.src));
  const core = urls.find((u) => /\\/assets\\/core-[^/]+\\.js$/.test(new URL(u, location.href).pathname));
  const apply = async () => {
    if (!document.body.dataset.konstruktorReady) return setTimeout(apply, 200);
    if (!core || document.documentElement.lang === window.konstruktorLang) return;
    try {
      (await import(core)).changeLocale(window.konstruktorLang);
    } catch (e) {
      console.warn("Konstruktor: Gradio's language could not be set", e);
    }
  };
  apply();
  if (window.konstruktorTranslating) return;
  window.konstruktorTranslating = true;
  const translate = (node) => {
    const text = node.nodeValue && node.nodeValue.trim();
    if (!text) return;
    for (const r of replacements) {
      const found = text.match(new RegExp(r.pattern));
      const sentence = found && r.text[window.konstruktorLang];
      if (sentence) {
        const filled = sentence.replace(/\\{(\\d)\\}/g, (_, i) => found[Number(i)]);
        if (filled !== text) node.nodeValue = filled;
        return;
      }
    }
  };
  const walk = (root) => {
    if (root.nodeType === Node.TEXT_NODE) return translate(root);
    const it = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (it.nextNode()) translate(it.currentNode);
  };
  new MutationObserver((changes) => {
    for (const c of changes) {
      if (c.type === "characterData") translate(c.target);
      c.addedNodes.forEach(walk);
    }
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
}
"""


def script() -> str:
    """The page script: `(lang) => …`, with our sentences for Gradio's English-only messages in every language."""
    replacements = [{"pattern": h["pattern"], "text": {lang: t(lang, h["key"]) for lang in LANGUAGES}}
                    for h in _HARDCODED]
    return _SCRIPT % {"replacements": json.dumps(replacements, ensure_ascii=False)}


def follow_language(event, language: gr.Dropdown):
    """After `event` (the page loaded, the language changed), Gradio's own strings follow the `language` control:
    its value is the language's code, which a gr.State would not do (its value never reaches the page)."""
    return event.then(None, language, None, js=script(), **PRIVATE)
