"""The demo's report in a real browser (headless Chromium driven by Playwright).

Skips on a machine without Chromium or Playwright; fails instead in CI
(``MICROTRIAL_REQUIRE_SHARED=1`` or ``CI=true``), where ``.ci/run`` installs them.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
# Sections of a paper, in order (Functions when the function stage ran; the demo's trial has
# no interaction design).
SECTIONS = ["summary", "cohort", "sequencing", "composition", "alpha", "beta", "differential",
            "clinical", "associations", "functions", "truth", "exports", "methods"]
FUNCTION_FILES = ("function-differential.tsv", "function-associations.tsv", "pathway-abundance.tsv")
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
LEVEL = f"ctl{IMG}"  # a level cannot start with a quote in a TSV file (it would be a quoted field)

pytestmark = pytest.mark.slow


def _in_ci() -> bool:
    return os.environ.get("MICROTRIAL_REQUIRE_SHARED") == "1" or os.environ.get("CI", "").lower() == "true"


def _chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        if _in_ci():
            pytest.fail("Chromium and Playwright are required in CI (.ci/run installs them)")
        pytest.skip("needs Chromium (apt-get install chromium) and Playwright (pip install playwright)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's output folder (simulated trial, every stage, the report last)."""
    _chromium()  # skip before the minute-long demo when the browser is missing
    from microtrial.pipeline.demo import run_demo

    out = tmp_path_factory.mktemp("demo") / "out"
    run_demo(out, seed=1, threads=2)
    return out


class Opened:
    """A page with every console error, dialog and non-local request recorded."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def on_dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()
        self.page.on("dialog", on_dialog)

        def route(r: Any) -> None:
            url = r.request.url
            if url.startswith(("file:", "data:", "blob:", "about:")):
                r.continue_()
            else:
                self.requests.append(url)
                r.abort()
        self.page.route("**/*", route)
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("body[data-ready='1']", timeout=15000)

    def draw_all(self) -> None:
        self.page.evaluate("microtrialDrawAll()")
        self.page.wait_for_function(
            "[...document.querySelectorAll('.plot')].every(e => e.dataset.rendered === '1')", timeout=60000)


def test_demo_report_in_chromium(browser: Any, demo: Path, tmp_path: Path) -> None:
    report = demo / "report.html"
    assert report.stat().st_size < 10 * 1024**2
    o = Opened(browser, report)
    o.draw_all()
    page = o.page
    expected = [s for s in SECTIONS
                if s != "functions" or any((demo / f).exists() for f in FUNCTION_FILES)]
    ids = page.eval_on_selector_all("main > section", "els => els.map(e => e.id)")
    assert ids == expected
    nav = page.eval_on_selector_all("nav a", "els => els.map(e => e.getAttribute('href'))")
    assert nav == [f"#{s}" for s in expected]
    for sid in expected:
        sec = page.locator(f"#{sid}")
        text = sec.inner_text()
        assert len(text) > 200, (sid, text)
        assert "could not be drawn" not in text, (sid, text)
        n_plots = sec.locator(".plot .main-svg").count()
        n_rows = sec.locator(".mt-table tbody tr").count()
        if sid not in ("summary", "methods", "exports"):
            assert n_plots + n_rows > 0, sid
        sec.screenshot(path=str(tmp_path / f"{sid}.png"))
        assert (tmp_path / f"{sid}.png").stat().st_size > 5000
    for sid in ("sequencing", "composition", "alpha", "beta", "differential", "clinical", "associations"):
        assert page.locator(f"#{sid} .plot .main-svg").count() > 0, sid
    # the summary's sentences link to their sections
    links = page.eval_on_selector_all("#summary li a", "els => els.map(e => e.getAttribute('href'))")
    assert {"#alpha", "#beta", "#differential", "#clinical"} <= set(links)
    # Methods are written from what ran
    methods = page.locator("#methods-text").inner_text()
    assert "rarefied to" in methods and "Benjamini" in methods and "naive Bayesian" in methods

    # sort the read-tracking table by its 'non-chimeric' column: click once up, twice down
    table = page.locator("#sequencing .mt-table").first
    header = table.locator("th", has_text=re.compile(r"^non-chimeric$"))
    col = table.locator("th").all_inner_texts().index("non-chimeric")

    def column() -> list[float]:
        cells = table.locator(f"tbody tr td:nth-child({col + 1})").all_inner_texts()
        return [float(c.replace("\u2009", "").replace(",", "")) for c in cells]

    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    up = column()
    assert up == sorted(up) and len(up) == 15  # one page of 15 rows
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    down = column()
    assert down == sorted(down, reverse=True) and down[0] > up[-1]
    # every row is there: 41 samples over three pages
    assert "of 41" in table.locator(".mt-info").inner_text()
    table.locator("button", has_text="next").click()
    table.locator("button", has_text="next").click()
    assert table.locator("tbody tr").count() == 41 - 30
    # filtering keeps only matching rows
    table.locator("input[type=search]").fill("P01-")
    assert table.locator("tbody tr").count() == 2

    assert o.errors == []
    assert o.dialogs == []
    assert o.requests == []  # nothing fetched: the report is self-contained


def _poison(src: Path, dest: Path) -> None:
    """A copy of the demo's results with a sample id and a group level holding markup."""
    dest.mkdir()
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        if path.is_dir() or rel.parts[0] in ("simulated", "figures", "tables", "exports", ".staging") \
                or path.name in ("report.html", "feature-table.biom"):
            continue
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in (".tsv", ".yaml"):
            text = path.read_text(encoding="utf-8").replace("C01-baseline", SCRIPT)
            text = re.sub(r"(?<![-\w])control(?![-\w])", LEVEL, text)
            out.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(path, out)


def test_markup_in_ids_and_levels_shows_as_text(browser: Any, demo: Path, tmp_path: Path) -> None:
    from microtrial.report import write_report

    poisoned = tmp_path / "results"
    _poison(demo, poisoned)
    level = LEVEL
    meta = (poisoned / "metadata-with-response.tsv").read_text()
    assert SCRIPT in meta and level in meta
    report = write_report(poisoned, tmp_path / "rep", finishing_run=True, static_figures=False,
                          exports=False)
    text = report.read_text()
    assert SCRIPT not in text and IMG not in text  # never raw in the file
    o = Opened(browser, report)
    o.draw_all()
    page = o.page
    # as text in tables (Table 1's header holds the level; read tracking holds the sample id)
    assert level in page.locator("#cohort .mt-table th").all_inner_texts()
    seq = page.locator("#sequencing .mt-table").first
    seq.locator("input[type=search]").fill("alert")
    assert seq.locator("tbody td").first.inner_text() == SCRIPT
    # as text in figures: legend entries and hover labels are SVG text, not markup
    svg_text = page.eval_on_selector_all(".plot .main-svg text", "els => els.map(e => e.textContent)")
    assert any(level in t for t in svg_text)
    assert any(SCRIPT in t for t in svg_text)
    # nothing was turned into elements or run
    assert page.locator("img").count() == 0
    assert page.locator("main script:not([type='application/json'])").count() == 0
    assert o.dialogs == []
    assert o.errors == []
