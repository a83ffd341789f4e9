"""Building a dataset in the browser, class by class: add and rename classes, drop pictures (and a PDF),
use them, leave a flagged file out, see it all from a second window, and read the engine's sentences in Russian."""

from __future__ import annotations

from pathlib import Path

from imagegen import make_image
from playwright.sync_api import expect

WAIT_MS = 20_000  # each step waits on the server, which shares 2 cores with other work


def _tab(page, name: str):
    page.get_by_role("tab", name=name).click()


def _shot(page, folder: Path, name: str) -> None:
    page.wait_for_timeout(600)  # let galleries finish drawing
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _pick_class(page, name: str) -> None:
    page.locator("#k-bin-class input").click()
    page.get_by_role("option", name=name, exact=True).click()


def _name(page, text: str) -> None:
    page.locator("#k-bin-name").get_by_role("textbox").fill(text)


def _pictures(folder: Path, color, n: int, first_seed: int) -> list[str]:
    return [str(make_image(folder / f"photo_{i}.png", size=(48, 48), color=color, seed=first_seed + i))
            for i in range(n)]


def test_class_bins_become_the_projects_dataset(page, app, screenshots_dir, tmp_path):
    _tab(page, "Projects")
    page.fill("#k-new-name textarea", "Bins in the browser")
    page.click("#k-create")
    expect(page.locator("#k-data-summary")).to_contain_text("no pictures yet", timeout=WAIT_MS)
    bins_list = page.locator("#k-bins")
    status = page.locator("#k-bin-status")
    expect(bins_list).to_contain_text("No classes yet", timeout=WAIT_MS)

    # Two classes: one with the default name, one named; each gets its pictures.
    page.click("#k-bin-add")
    expect(status).to_contain_text("Class Class 1 added", timeout=WAIT_MS)
    _name(page, "кошки")
    page.click("#k-bin-add")
    expect(bins_list).to_contain_text("кошки: 0 picture(s)", timeout=WAIT_MS)
    cats = _pictures(tmp_path / "cats", (220, 40, 40), 5, 0)
    page.set_input_files("#k-bin-files input[type=file]", cats)
    expect(status).to_contain_text("Added 5 picture(s) to кошки", timeout=WAIT_MS)
    expect(bins_list).to_contain_text("кошки: 5 picture(s)", timeout=WAIT_MS)
    expect(page.locator("#k-bin-gallery img").first).to_be_visible(timeout=WAIT_MS)

    _pick_class(page, "Class 1")
    dogs = _pictures(tmp_path / "dogs", (40, 40, 220), 4, 100)
    dogs.append(str(make_image(tmp_path / "dogs" / "grey.png", size=(48, 48), mode="L", color=120)))
    dogs.append(str(make_image(tmp_path / "dogs" / "tiny.png", size=(8, 8), color=(30, 30, 160))))
    pdf = tmp_path / "dogs" / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    empty = tmp_path / "dogs" / "empty.png"
    empty.write_bytes(b"")
    page.set_input_files("#k-bin-files input[type=file]", [*dogs, str(pdf), str(empty)])
    expect(status).to_contain_text("Added 6 picture(s) to Class 1", timeout=WAIT_MS)
    expect(status).to_contain_text("'scan.pdf' is not a picture", timeout=WAIT_MS)
    expect(status).to_contain_text("'empty.png' is empty", timeout=WAIT_MS)

    # A picture dropped by mistake goes again: click it, remove it.
    extra = make_image(tmp_path / "dogs" / "oops.png", size=(48, 48), color=(0, 0, 0), seed=7)
    page.set_input_files("#k-bin-files input[type=file]", [str(extra)])
    expect(bins_list).to_contain_text("Class 1: 7 picture(s)", timeout=WAIT_MS)
    page.locator("#k-bin-gallery").get_by_text("oops.png").click()
    page.click("#k-bin-remove-picture")
    expect(status).to_contain_text("'oops.png' removed", timeout=WAIT_MS)
    expect(bins_list).to_contain_text("Class 1: 6 picture(s)", timeout=WAIT_MS)

    # Rename the default class, then use the bins: the normal import checks and splits them.
    _name(page, "dogs")
    page.click("#k-bin-rename")
    expect(status).to_contain_text("Renamed to dogs", timeout=WAIT_MS)
    expect(bins_list).to_contain_text("dogs: 6 picture(s)", timeout=WAIT_MS)
    expect(bins_list).not_to_contain_text("Class 1", timeout=WAIT_MS)
    _shot(page, screenshots_dir, "8-data-bins")
    page.click("#k-bin-use")
    expect(page.locator("#k-data-status")).to_contain_text("Imported 11 pictures in 2 classes", timeout=WAIT_MS)
    summary = page.locator("#k-data-summary")
    expect(summary).to_contain_text("Bins in the browser", timeout=WAIT_MS)
    expect(summary).to_contain_text("11 pictures in 2 classes", timeout=WAIT_MS)
    expect(page.locator("#k-counts")).to_contain_text("кошки", timeout=WAIT_MS)
    expect(page.locator("#k-counts")).to_contain_text("dogs", timeout=WAIT_MS)
    expect(page.locator("#k-problems")).to_contain_text("Converted to RGB: the image was grayscale.", timeout=WAIT_MS)

    # A second window on the same project sees the same bins, and what it adds shows here.
    other = page.context.new_page()
    other.goto(app["url"])
    other.wait_for_selector("body[data-konstruktor-ready='1']", state="attached")
    _tab(other, "1 · Data")
    expect(other.locator("#k-bins")).to_contain_text("кошки: 5 picture(s)", timeout=WAIT_MS)
    _name(other, "birds")
    other.click("#k-bin-add")
    expect(other.locator("#k-bins")).to_contain_text("birds: 0 picture(s)", timeout=WAIT_MS)
    other.close()
    _tab(page, "Projects")
    _tab(page, "1 · Data")
    expect(bins_list).to_contain_text("birds: 0 picture(s)", timeout=WAIT_MS)
    _pick_class(page, "birds")
    page.click("#k-bin-remove")
    expect(page.locator("#k-bin-confirm-text")).to_contain_text("Remove the class birds and its 0 picture(s)?", timeout=WAIT_MS)
    page.click("#k-bin-remove-yes")
    expect(status).to_contain_text("Class birds removed", timeout=WAIT_MS)
    expect(bins_list).not_to_contain_text("birds", timeout=WAIT_MS)

    # Leave the flagged tiny picture out: a new dataset without it.
    flagged = page.locator("#k-flagged")
    expect(flagged).to_contain_text("tiny.png", timeout=WAIT_MS)
    expect(flagged).not_to_contain_text("grey.png", timeout=WAIT_MS)  # converted to RGB is information, not a warning
    flagged.get_by_label("tiny.png", exact=False).check()
    _shot(page, screenshots_dir, "9-data-exclude")
    page.click("#k-exclude")
    expect(page.locator("#k-data-status")).to_contain_text("Rebuilt without 1 file(s): 10 pictures now", timeout=WAIT_MS)
    expect(summary).to_contain_text("10 pictures in 2 classes", timeout=WAIT_MS)
    expect(page.locator("#k-problems")).to_contain_text("Left out by hand", timeout=WAIT_MS)

    # In Russian the engine's sentences are Russian too: the problem details and the mode's reason.
    page.locator("#k-language input").click()
    page.get_by_role("option", name="Русский").click()
    expect(page.locator("#k-problems")).to_contain_text("Исключён вручную из набора", timeout=WAIT_MS)
    expect(page.locator("#k-problems")).to_contain_text("Преобразована в RGB: картинка была в оттенках серого.", timeout=WAIT_MS)
    expect(bins_list).to_contain_text("кошки: картинок — 5", timeout=WAIT_MS)
    _tab(page, "2 · Обучение")
    expect(page.locator("#k-mode-why")).to_contain_text("Рекомендуем", timeout=WAIT_MS)
    expect(page.locator("#k-mode-why")).to_contain_text("В самом маленьком классе картинок для обучения всего", timeout=WAIT_MS)
    page.locator("#k-language input").click()
    page.get_by_role("option", name="English").click()
    expect(page.get_by_role("tab", name="1 · Data")).to_be_visible(timeout=WAIT_MS)


def test_bins_refuse_bad_names_too_many_files_and_need_two_classes(page, tmp_path):
    _tab(page, "Projects")
    page.fill("#k-new-name textarea", "Bins with mistakes")
    page.click("#k-create")
    expect(page.locator("#k-data-summary")).to_contain_text("no pictures yet", timeout=WAIT_MS)
    status = page.locator("#k-bin-status")
    _name(page, "a/b")
    page.click("#k-bin-add")
    expect(status).to_contain_text("cannot be a folder name", timeout=WAIT_MS)
    _name(page, "many")
    page.click("#k-bin-add")
    expect(page.locator("#k-bins")).to_contain_text("many: 0 picture(s)", timeout=WAIT_MS)
    # One more file than a drop may hold: refused with a message (5,000 take ~25 s to upload; same answer).
    one = make_image(tmp_path / "many" / "0.png", size=(1, 1))
    drop = [one] + [one.with_name(f"{i}.png") for i in range(1, 1001)]
    for path in drop[1:]:
        path.write_bytes(one.read_bytes())
    page.set_input_files("#k-bin-files input[type=file]", [str(p) for p in drop])
    expect(status).to_contain_text("1001 files were dropped at once; add at most 1000 at a time", timeout=60_000)
    expect(page.locator("#k-bins")).to_contain_text("many: 0 picture(s)", timeout=WAIT_MS)
    page.click("#k-bin-use")
    expect(page.locator("#k-data-status")).to_contain_text("Add at least two classes", timeout=WAIT_MS)


def test_webcam_photos_go_into_the_chosen_class(browser, app):
    """Chromium's fake camera (a test pattern) stands in for a real one."""
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    camera = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=[
        *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    try:
        context = camera.new_context(viewport={"width": 1280, "height": 900}, permissions=["camera"])
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(app["url"])
        page.wait_for_selector("body[data-konstruktor-ready='1']", state="attached")
        _tab(page, "Projects")
        page.fill("#k-new-name textarea", "Webcam bins")
        page.click("#k-create")
        expect(page.locator("#k-data-summary")).to_contain_text("no pictures yet", timeout=WAIT_MS)
        _name(page, "faces")
        page.click("#k-bin-add")
        expect(page.locator("#k-bins")).to_contain_text("faces: 0 picture(s)", timeout=WAIT_MS)
        page.locator("#k-bin-webcam").get_by_text("Click to Access Webcam").click()
        page.wait_for_function("() => document.querySelector('#k-bin-webcam video')?.readyState >= 2")
        page.locator("#k-bin-webcam [aria-label='capture photo']").click()
        expect(page.locator("#k-bin-status")).to_contain_text("Added 1 picture(s) to faces", timeout=WAIT_MS)
        expect(page.locator("#k-bins")).to_contain_text("faces: 1 picture(s)", timeout=WAIT_MS)
        expect(page.locator("#k-bin-gallery img").first).to_be_visible(timeout=WAIT_MS)

        # The Test tab takes a snapshot too: with no model yet, the answer says what to do first.
        _tab(page, "4 · Test")
        page.locator("#k-test-image").get_by_role("button", name="Capture from camera").click()
        page.locator("#k-test-image").get_by_text("Click to Access Webcam").click()
        page.wait_for_function("() => document.querySelector('#k-test-image video')?.readyState >= 2")
        page.locator("#k-test-image [aria-label='capture photo']").click()
        expect(page.locator("#k-test-note")).to_contain_text("Choose a finished run of this project first", timeout=WAIT_MS)
    finally:
        camera.close()
