"""Compare in the browser: two quick candidates on the sample project, a live leaderboard and a recommendation,
then the two runs side by side in the Runs tab."""

from __future__ import annotations

from playwright.sync_api import expect

COMPARE_TIMEOUT_MS = 600_000


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_compare_two_candidates_then_see_them_side_by_side(page, app, screenshots_dir):
    page.click("#k-sample")
    expect(page.locator("#k-data-summary")).to_contain_text("200 pictures in 2 classes")

    _tab(page, "Compare")
    expect(page.locator("#k-cmp-data")).to_contain_text("200")
    boxes = page.locator("#k-cmp-candidates")
    # The default set is ticked; keep the two linear probes (seconds each), untick the slow ones.
    expect(boxes.get_by_label("tf_efficientnet_lite0 · linear probe")).to_be_checked()
    for label in ("tf_efficientnet_lite0 · fine-tune", "yolo11n-cls · full training"):
        box = boxes.get_by_label(label)
        if box.count() and box.is_checked():
            box.uncheck()
    expect(boxes.get_by_label("mobilenetv2_100 · linear probe")).to_be_checked()
    page.click("#k-cmp-start")
    expect(page.locator("#k-cmp-stop")).to_be_enabled()
    expect(page.locator("#k-cmp-status")).to_contain_text("Done", timeout=COMPARE_TIMEOUT_MS)
    table = page.locator("#k-cmp-table")
    expect(table).to_contain_text("tf_efficientnet_lite0")
    expect(table).to_contain_text("mobilenetv2_100")
    expect(page.locator("#k-cmp-rec")).to_contain_text("Recommended:")
    expect(page.locator("#k-cmp-start")).to_be_enabled()
    page.screenshot(path=str(screenshots_dir / "10-compare.png"), full_page=True)

    # The candidates are runs of the project now: pick both and see them side by side.
    _tab(page, "Runs")
    expect(page.locator("#k-runs-table")).to_contain_text("mobilenetv2_100")
    picks = page.locator("#k-runs-several input[type=checkbox]")
    expect(picks).to_have_count(2)
    picks.nth(0).check()
    picks.nth(1).check()
    page.click("#k-runs-side")
    expect(page.locator("#k-runs-side-table")).to_contain_text("macro-F1")
    expect(page.locator("#k-runs-side-f1")).to_contain_text("not_face")
    expect(page.locator("#k-runs-side-cm img").first).to_be_visible()
    expect(page.locator("#k-runs-side-note")).to_contain_text("same data")
    page.screenshot(path=str(screenshots_dir / "11-runs-side-by-side.png"), full_page=True)
