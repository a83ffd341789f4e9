"""A first-time user's whole path in the browser: sample project, training, metrics, a prediction, a
download, Russian, and bad uploads that must answer with a message."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from playwright.sync_api import expect

TRAIN_TIMEOUT_MS = 150_000
EXPORT_TIMEOUT_MS = 240_000


def _tab(page, name: str):
    page.get_by_role("tab", name=name).click()


def _shot(page, folder: Path, name: str) -> None:
    page.wait_for_timeout(600)  # let plots and galleries finish drawing
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_sample_project_trains_evaluates_predicts_and_downloads(page, app, screenshots_dir, tmp_path):
    # Projects → the sample: 200 faces and non-faces, imported and shown.
    page.click("#k-sample")
    expect(page.locator("#k-data-summary")).to_contain_text("200 pictures in 2 classes")
    expect(page.locator("#k-thumbs img").first).to_be_visible()
    expect(page.locator("#k-project input")).to_have_value("Sample: faces vs. non-faces")
    _shot(page, screenshots_dir, "1-data")

    # Train a linear probe on the fastest offline model; progress shows, then the result.
    _tab(page, "2 · Train")
    expect(page.locator("#k-mode-why")).to_contain_text("Recommended")
    page.locator("#k-model label", has_text="mobilenetv2_100").click()
    page.locator("#k-mode label", has_text="Linear probe").click()
    page.locator("#k-preview-box").get_by_text("What training pictures may look like").click()
    expect(page.locator("#k-preview img").first).to_be_visible()
    # Cross-validation on, by choice: the sample's 30 validation pictures are not few enough for `auto`.
    page.get_by_text("Advanced settings").click()
    page.locator("#k-cv label").get_by_text("on", exact=True).click()
    page.get_by_text("Advanced settings").click()
    page.click("#k-start")
    expect(page.locator("#k-stop")).to_be_enabled()
    expect(page.locator("#k-train-status")).to_contain_text("Done", timeout=TRAIN_TIMEOUT_MS)
    expect(page.locator("#k-progress")).to_contain_text("done")
    expect(page.locator("#k-start")).to_be_enabled()
    _shot(page, screenshots_dir, "2-train")

    # Evaluate: the headline metrics with their meaning, per-class table and confusion matrix.
    _tab(page, "3 · Evaluate")
    cards = page.locator("#k-eval-cards")
    expect(cards).to_contain_text("Accuracy")
    expect(cards).to_contain_text("Macro-F1")
    expect(cards).to_contain_text("%")
    expect(page.locator("#k-per-class")).to_contain_text("not_face")
    expect(page.locator("#k-confusion img")).to_be_visible()
    expect(page.locator("#k-eval-cv")).to_contain_text("cross-validation")
    _shot(page, screenshots_dir, "3-evaluate")

    # Test: a face from the sample is recognised as one, with the heat map on.
    _tab(page, "4 · Test")
    face = app["workspace"] / "samples" / "faces-vs-non-faces" / "face" / "face_007.png"
    page.locator("#k-test-cam-toggle input").check()
    page.set_input_files("#k-test-image input[type=file]", str(face))
    expect(page.locator("#k-test-label")).to_contain_text("face", timeout=60_000)
    expect(page.locator("#k-test-cam img")).to_be_visible(timeout=60_000)
    _shot(page, screenshots_dir, "4-test")

    # Export: the checkpoint and the class names download.
    _tab(page, "5 · Export")
    expect(page.locator("#k-export-note")).to_contain_text("MB")
    with page.expect_download() as dl:
        page.click("#k-dl-checkpoint")
    checkpoint = tmp_path / "best.pt"
    dl.value.save_as(checkpoint)
    assert checkpoint.stat().st_size > 1_000_000 and checkpoint.read_bytes()[:2] == b"PK"  # a torch zip file
    with page.expect_download() as dl:
        page.click("#k-dl-labels")
    labels = tmp_path / "labels.json"
    dl.value.save_as(labels)
    assert json.loads(labels.read_text()) == ["face", "not_face"]

    # Export for use elsewhere: the engine builds the ONNX package in a child process, the tab sums it up.
    expect(page.locator("#k-dl-package")).to_be_disabled()
    page.click("#k-export-package")
    summary = page.locator("#k-export-summary")
    expect(summary).to_contain_text("Exported", timeout=EXPORT_TIMEOUT_MS)
    expect(summary).to_contain_text("model.onnx")
    expect(summary).to_contain_text("same top class for")
    expect(page.locator("#k-dl-package")).to_be_enabled()
    with page.expect_download() as dl:
        page.click("#k-dl-package")
    package = tmp_path / "package.zip"
    dl.value.save_as(package)
    with zipfile.ZipFile(package) as z:
        names = {Path(n).name for n in z.namelist()}
        assert {"model.onnx", "predict.py", "konstruktor_preprocess.py", "labels.json", "preprocess.json"} <= names
        labels_in_zip = next(n for n in z.namelist() if Path(n).name == "labels.json")
        assert json.loads(z.read(labels_in_zip)) == ["face", "not_face"]
    assert str(app["workspace"]) not in dl.value.url  # served from a staging copy, never the workspace
    _shot(page, screenshots_dir, "5-export")

    _tab(page, "Runs")
    expect(page.locator("#k-runs-table")).to_contain_text("mobilenetv2_100")
    expect(page.locator("#k-runs-table")).to_contain_text("done")
    # The package just downloaded comes back in as a model of this project, checked and scored on its data.
    page.set_input_files("#k-open-file input[type=file]", str(package))
    page.click("#k-open-model")
    expect(page.locator("#k-open-status")).to_contain_text("Opened the exported package", timeout=60_000)
    expect(page.locator("#k-open-status")).to_contain_text("Scored on this project's data")
    expect(page.locator("#k-runs-table")).to_contain_text("imported", timeout=60_000)  # after every tab's redraw
    _shot(page, screenshots_dir, "6-runs")
    _tab(page, "Projects")
    expect(page.locator("#k-projects-table")).to_contain_text("Sample: faces vs. non-faces")
    _shot(page, screenshots_dir, "0-projects")

    # Russian: the labels change everywhere, and the choice survives a reload.
    page.locator("#k-language input").click()
    page.get_by_role("option", name="Русский").click()
    expect(page.get_by_role("tab", name="1 · Данные")).to_be_visible()
    # Every tab redraws in the new language; with two runs, one imported, that took over 5 s under CI's load.
    expect(page.locator("#k-runs-table")).to_contain_text("готово", timeout=30_000)
    _tab(page, "Настройки")
    expect(page.locator("body")).to_contain_text("рабочая папка")
    _shot(page, screenshots_dir, "7-settings-ru")
    page.reload()  # reopens where the person left off: same project, same tab, same language
    expect(page.get_by_role("tab", name="Настройки")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#k-project input")).to_have_value("Sample: faces vs. non-faces")
    page.locator("#k-language input").click()
    page.get_by_role("option", name="English").click()
    expect(page.get_by_role("tab", name="2 · Train")).to_be_visible()


def test_bad_uploads_answer_with_a_message(page, tmp_path):
    _tab(page, "Projects")
    page.fill("#k-new-name textarea", "Bad uploads")
    page.click("#k-create")
    expect(page.locator("#k-data-summary")).to_contain_text("no pictures yet")

    fake = tmp_path / "photos.zip"
    fake.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    page.set_input_files("#k-zip input[type=file]", str(fake))
    status = page.locator("#k-data-status")
    expect(status).to_contain_text("Could not import")
    expect(status).to_contain_text("photos.zip")

    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    page.set_input_files("#k-zip input[type=file]", str(empty))
    expect(status).to_contain_text("empty")
    expect(page.locator("#k-data-summary")).to_contain_text("no pictures yet")

    page.fill("#k-folder textarea", str(tmp_path / "no-such-folder"))
    page.click("#k-import-folder")
    expect(status).to_contain_text("does not exist")

    # Training without data says what to do instead of failing somewhere out of sight.
    _tab(page, "2 · Train")
    page.click("#k-start")
    expect(page.locator("#k-train-status")).to_contain_text("Import pictures in the Data tab first")
