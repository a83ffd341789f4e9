"""Compare in the browser: two quick candidates on the sample project, a live leaderboard and a recommendation,
then the two runs side by side in the Runs tab."""

from __future__ import annotations

from playwright.sync_api import expect

COMPARE_TIMEOUT_MS = 600_000
# How many lines each visible header cell's text takes: the distinct line boxes of its text nodes.
HEADER_LINES_JS = """table => [...table.querySelectorAll('thead th')].filter(th => th.getClientRects().length)
  .map(th => {
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    const tops = new Set();
    let text = '';
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim() || node.parentElement.closest('button')) continue;
      text += node.textContent;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) if (r.width > 0) tops.add(Math.round(r.top / 4));
    }
    return [text.trim(), tops.size];
  })"""


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_compare_two_candidates_then_see_them_side_by_side(page, app, screenshots_dir):
    page.click("#k-sample")
    expect(page.locator("#k-data-summary")).to_contain_text("200 pictures in 2 classes", timeout=120_000)

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
    expect(table).to_contain_text("pictures")
    _headers_fit_on_one_line(page, "#k-cmp-table", {"accuracy", "status", "pictures", "latency, ms"})
    page.screenshot(path=str(screenshots_dir / "10-compare.png"), full_page=True)

    # The candidates are runs of the project now: pick both and see them side by side.
    _tab(page, "Runs")
    expect(page.locator("#k-runs-table")).to_contain_text("mobilenetv2_100")
    _headers_fit_on_one_line(page, "#k-runs-table", {"status", "accuracy", "macro-F1", "train, s", "size, MB"})
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


def _headers_fit_on_one_line(page, table: str, expected: set[str]) -> None:
    """At a common laptop width (1366 px) no header of `table` is broken inside a word ("accura|cy")."""
    page.set_viewport_size({"width": 1366, "height": 900})
    page.wait_for_timeout(500)  # the table re-measures its columns on resize
    headers = page.locator(table).evaluate(HEADER_LINES_JS)
    names = [name for name, _ in headers]
    assert expected <= set(names), headers
    assert [h for h in headers if h[1] != 1] == [], headers
    page.set_viewport_size({"width": 1280, "height": 900})
