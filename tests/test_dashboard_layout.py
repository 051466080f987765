"""The dashboard as a browser lays it out: outbox/index.html of a real workspace, opened in
headless Chromium at 1920, 1400 and 420 px, measured by a script the test adds to a copy.

Skipped, with a line saying so, where Chromium is not installed (`apt-get install chromium
fonts-noto-cjk`)."""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import WAREHOUSES, make_form, make_table, run_files
from jxc_sheets import clock
from jxc_sheets.config import Config, Settings
from jxc_sheets.ledger.db import open_ledger

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

MEASURE = """
const page = frame.contentDocument, view = frame.contentWindow;
const within = (inner, outer) => inner.getBoundingClientRect().right <= outer.getBoundingClientRect().right + 1;
const layout = {
  width: view.innerWidth,
  cardRows: Object.values([...page.querySelectorAll('.cards .card')].reduce((rows, card) => {
    const top = Math.round(card.getBoundingClientRect().top);
    rows[top] = (rows[top] || 0) + 1;
    return rows;
  }, {})),
  scrolledTables: [...page.querySelectorAll('.grid .scroll')]
    .filter(box => box.scrollWidth > box.clientWidth + 1)
    .map(box => box.closest('section').querySelector('h2').textContent.trim()),
  chartsOutside: [...page.querySelectorAll('section svg')].filter(svg => !within(svg, svg.closest('section'))).length,
  sectionsOutside: [...page.querySelectorAll('section')].filter(s => s.getBoundingClientRect().right > view.innerWidth + 1).length,
};
document.body.setAttribute('data-layout', JSON.stringify(layout));
"""


def _layout(page: Path, width: int, tmp_path: Path) -> dict:
    """The dashboard in a frame exactly `width` px wide (a headless window is never narrower
    than 500 px), measured once it has loaded."""
    outer = tmp_path / f"at-{width}.html"
    outer.write_text(f'<!DOCTYPE html><html><body style="margin:0"><iframe id="frame" style="border:0;width:{width}px;'
                     f'height:1200px" srcdoc="{html.escape(page.read_text(encoding="utf-8"))}"></iframe>'
                     f'<script>frame.onload = () => {{{MEASURE}}};</script></body></html>', encoding="utf-8")
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--window-size={width + 40},1300", f"--user-data-dir={tmp_path / 'profile'}",
                           "--dump-dom", outer.as_uri()], capture_output=True, text=True, timeout=120)
    found = re.search(r"data-layout=\"([^\"]*)\"", done.stdout)
    assert found, done.stderr[-2000:]
    layout = json.loads(html.unescape(found.group(1)))
    assert layout["width"] == width
    return layout


@pytest.fixture
def dashboard(tmp_path) -> Path:
    """Late purchase orders and backorders with names as long as real companies have."""
    settings = Settings(Config(), tmp_path / "ws")
    for name in ("inbox", "outbox", "archive", "rejected"):
        getattr(settings, name).mkdir(parents=True)
    today = clock.today()
    inbox = settings.inbox
    make_table(inbox / "warehouses.xlsx", "warehouses", WAREHOUSES)
    make_table(inbox / "suppliers.xlsx", "suppliers", [{"code": "SUP03", "name": "苏州洁美日化用品有限公司"}])
    make_table(inbox / "customers.xlsx", "customers", [{"code": "CUS04", "name": "杭州悦享办公服务有限公司"}])
    make_table(inbox / "items.xlsx", "items", [{"sku": "CLN-002", "name": "洗手液 500ml 家庭装", "unit": "瓶"},
                                               {"sku": "BEV-001", "name": "矿泉水 550ml×24", "unit": "箱"}])
    make_form(inbox / "po.xlsx", "purchase_order",
              {"doc_no": "PO20261125-01", "doc_date": today - timedelta(days=20), "supplier": "SUP03",
               "expected_date": today - timedelta(days=6)},
              [{"sku": "CLN-002", "qty": 12345, "unit_price": 8}])
    make_form(inbox / "so.xlsx", "sales_order",
              {"doc_no": "SO20261202-01", "doc_date": today - timedelta(days=5), "customer": "CUS04",
               "promised_date": today - timedelta(days=1)},
              [{"sku": "BEV-001", "qty": 20000, "unit_price": 30}])
    engine = open_ledger(settings.ledger_url)
    outcomes = run_files(settings, engine)
    assert {o.status for o in outcomes.values()} == {"posted"}
    return settings.outbox / "index.html"


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: apt-get install chromium fonts-noto-cjk to look at the dashboard")
@pytest.mark.parametrize("width", [1920, 1400])
def test_on_a_desktop_the_cards_sit_in_even_rows_and_the_key_columns_show_without_scrolling(dashboard, width, tmp_path):
    layout = _layout(dashboard, width, tmp_path)
    assert len(set(layout["cardRows"])) == 1, layout  # every row of cards holds as many
    assert layout["scrolledTables"] == []  # 逾期天数 and 承诺交期 in view, no sideways scrolling
    assert layout["sectionsOutside"] == 0


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: apt-get install chromium fonts-noto-cjk to look at the dashboard")
def test_on_a_phone_the_charts_fit_their_cards_and_nothing_leaves_the_screen(dashboard, tmp_path):
    layout = _layout(dashboard, 420, tmp_path)
    assert layout["chartsOutside"] == 0 and layout["sectionsOutside"] == 0, layout
