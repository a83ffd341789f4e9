"""What a first-time user tripped over: the problems table, the Train tab's preview, its advanced settings and
its live plots. One app for the module; the first test imports the project the others train on."""

from __future__ import annotations

import yaml
from imagegen import make_image, make_image_folder
from playwright.sync_api import expect

WAIT_MS = 20_000
TRAIN_TIMEOUT_MS = 180_000
LONG_NAME = "a_grey_picture_with_a_rather_long_file_name_that_needs_room.png"


def _tab(page, name: str):
    page.get_by_role("tab", name=name).click()


def test_the_problems_table_wraps_its_details_so_they_can_be_read(page, tmp_path):
    source = make_image_folder(tmp_path / "pictures", per_class=8, size=(48, 48))
    make_image(source / "red" / LONG_NAME, size=(48, 48), mode="L", color=100)
    make_image(source / "red" / "tiny.png", size=(8, 8))
    _tab(page, "Projects")
    page.fill("#k-new-name textarea", "First use")
    page.click("#k-create")
    expect(page.locator("#k-data-summary")).to_contain_text("no pictures yet", timeout=WAIT_MS)
    page.fill("#k-folder textarea", str(source))
    page.click("#k-import-folder")
    expect(page.locator("#k-data-status")).to_contain_text("Imported", timeout=WAIT_MS)
    details = page.locator("#k-problems").get_by_role("gridcell", name="images under 16 px on a side carry little")
    expect(details).to_be_visible(timeout=WAIT_MS)
    # Every word of the sentence is inside the table's visible width: wrapped, not cut at the edge.
    table = page.locator("#k-problems").bounding_box()
    cell = details.bounding_box()
    assert cell["x"] + cell["width"] <= table["x"] + table["width"] + 1
    assert details.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    file_cell = page.locator("#k-problems").get_by_role("gridcell", name=LONG_NAME[:20])
    assert file_cell.evaluate("e => e.scrollWidth <= e.clientWidth + 1")


def test_the_train_tab_answers_at_once_and_draws_examples_only_when_asked(page):
    _tab(page, "2 · Train")
    expect(page.locator("#k-train-data")).to_contain_text("pictures in", timeout=WAIT_MS)
    expect(page.locator("#k-preset-steps")).to_contain_text("Mirror")
    page.wait_for_timeout(1000)
    assert page.locator("#k-preview img").count() == 0  # nothing was computed behind the closed section
    page.locator("#k-preview-box").get_by_text("What training pictures may look like").click()
    expect(page.locator("#k-preview img").first).to_be_visible(timeout=WAIT_MS)


def test_advanced_settings_left_empty_are_defaults_and_a_bad_value_is_named(page, app):
    _tab(page, "2 · Train")
    page.locator("#k-model label", has_text="mobilenetv2_100").click()
    page.locator("#k-mode label", has_text="Fine-tune").click()
    page.get_by_text("Advanced settings").click()
    epochs = page.locator("#k-epochs").get_by_role("textbox")
    for field in ("#k-epochs", "#k-batch", "#k-lr", "#k-budget"):
        expect(page.locator(field).get_by_role("textbox")).to_have_value("")  # empty, the default; not a 0

    epochs.fill("0")
    page.click("#k-start")
    status = page.locator("#k-train-status")
    expect(status).to_contain_text("Epochs: 0 is not allowed. Enter a whole number from 1 to 1000", timeout=WAIT_MS)
    expect(page.get_by_text("less than minimum")).to_have_count(0)

    epochs.fill("2")
    page.click("#k-start")
    expect(status).to_contain_text("Done", timeout=TRAIN_TIMEOUT_MS)
    runs = sorted((app["workspace"] / "runs").glob("*/config.yaml"))
    config = yaml.safe_load(runs[-1].read_text())
    assert config["epochs"] == 2 and config["lr"] is None and config["budget_minutes"] is None

    # The live plots: a chart per metric, drawn by Vega (whole epochs, the best one marked; see test_ui).
    for plot in ("#k-loss-plot", "#k-acc-plot"):
        expect(page.locator(plot)).to_be_visible()
        expect(page.locator(f"{plot} canvas, {plot} svg").first).to_be_visible(timeout=WAIT_MS)
