"""The whole app in Russian: every tab, Gradio's own widgets and toasts included, shows no English sentence."""

from __future__ import annotations

import re

from imagegen import make_image_folder
from playwright.sync_api import expect

WAIT_MS = 20_000
TABS = ("Проекты", "1 · Данные", "2 · Обучение", "3 · Оценка", "4 · Проверка", "5 · Экспорт", "Запуски",
        "Сравнение", "Настройки")
# Latin-only text that is no sentence: names of products, models and formats, units, codes, the workspace path.
ALLOWED = re.compile(
    r"^(Konstruktor( \d+\.\d+\.\d+)?|English|Yandex Cloud|Grad-CAM|ONNX|GPU|CPU|RGB|JSON|OAuth|ID|px|MB|M|F1"
    r"|macro-F1"
    r"|NVIDIA [\w. ()]+|ru-central\d-[a-d]|[\w.-]+\.(png|jpe?g|json|onnx|pt|zip|py|log)"
    r"|(tf_efficientnet_lite\d|mobilenetv\d_\d+|yolo[\w-]+|resnet\d+|convnext\w*|vit\w*|efficientnet\w*)"
    r"|--workspace DIR|/\S*|[\d\s.,:%×·–—/()+-]*)$")
VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement, text = node.nodeValue.trim();
    if (text && el && el.checkVisibility({visibilityProperty: true, opacityProperty: true})
        && !el.closest("code, pre, script, style")) out.push(text);
  }
  return out;
}"""


def _english(texts: list[str]) -> list[str]:
    return sorted({s for s in texts if re.search(r"[A-Za-z]", s) and not re.search(r"[А-Яа-яЁё]", s)
                   and not ALLOWED.match(s)})


def test_every_tab_in_russian_shows_no_english_sentence(page, tmp_path):
    source = make_image_folder(tmp_path / "картинки", per_class=6, classes={"красные": (220, 30, 30),
                                                                             "синие": (40, 50, 220)})
    _switch(page, "Русский")
    page.get_by_role("tab", name="Проекты").click()
    page.fill("#k-new-name textarea", "Проверка языка")
    page.click("#k-create")
    expect(page.locator("#k-data-summary")).to_contain_text("пока нет картинок", timeout=WAIT_MS)
    page.fill("#k-folder textarea", str(source))
    page.click("#k-import-folder")
    expect(page.locator("#k-data-status")).to_contain_text("Импортировано", timeout=WAIT_MS)

    found: dict[str, list[str]] = {}
    for name in TABS:
        page.get_by_role("tab", name=name).click()
        page.wait_for_timeout(800)  # let the tab's refresh land
        english = _english(page.evaluate(VISIBLE_TEXT))
        if english:
            found[name] = english
    assert found == {}, f"English text in the Russian UI: {found}"

    # Gradio's own upload area and its refusal of a file that is not a picture, in Russian too.
    page.get_by_role("tab", name="4 · Проверка").click()
    expect(page.locator("#k-test-image")).to_contain_text("Перетащите изображение сюда")
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    page.set_input_files("#k-test-image input[type=file]", str(pdf))
    expect(page.get_by_text("scan.pdf: такой тип файла здесь не принимается")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Ошибка", exact=True).first).to_be_visible()
    assert _english(page.evaluate(VISIBLE_TEXT)) == []
    page.get_by_role("tab", name="Настройки").click()
    expect(page.locator("#k-cloud-status")).to_contain_text("Ключ ещё не сохранён")
    _switch(page, "English")
    expect(page.get_by_role("tab", name="1 · Data")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#k-cloud-status")).to_contain_text("No key is saved yet")


def _switch(page, language: str) -> None:
    page.locator("#k-language input").click()
    page.get_by_role("option", name=language).click()
