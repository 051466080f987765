"""Bad files, each made for real in the test and dropped through the real pipeline
(run_inbox, or the `jxc` command where a failure could take the test process
down): what it produced, where, in both languages; the errors copy; the
ledger untouched; and the next good file still posting."""
from __future__ import annotations

import json
import re
import time
import zipfile
from pathlib import Path
from typing import Callable

from msoffcrypto.format.ooxml import OOXMLFile
import openpyxl
import pytest
from hypothesis import given, strategies as st
import xlsxwriter
import xlwt
from defusedxml import DTDForbidden
from sqlalchemy import select

from conftest import D, drop_master, jxc, make_form, make_table
from jxc_sheets import kinds
from jxc_sheets.config import Config, ReaderConfig, Settings, load_settings
from jxc_sheets.ledger import schema
from jxc_sheets.ledger.db import open_ledger
from jxc_sheets.pipeline import run_inbox
from jxc_sheets.records import Outcome
from jxc_sheets.sheets import read
from jxc_sheets.sheets.annotate import PROBLEMS_SHEET

RECEIPT = {"doc_no": "R-1", "doc_date": D, "warehouse": "WH1", "supplier": "S01"}
BATCH_LABELS = ["单据类型", "单号", "日期", "仓库", "供应商", "物料编码", "数量", "单价成本", "备注"]
FIRST_PROBLEM_ROW = 5  # the problem sheet's first problem row
CJK = re.compile(r"[\u4e00-\u9fff]")


# --- the drop, the ledger, the answer ------------------------------------------------------

@pytest.fixture
def ready(workspace, engine):
    """A workspace whose ledger knows the master data, nothing else."""
    drop_master(workspace.inbox)
    assert {o.status for o in run_inbox(workspace, engine=engine)} == {"posted"}
    return workspace, engine


def ledger_state(engine) -> dict[str, list]:
    tables = (schema.documents, schema.lines, schema.movements, schema.balances, schema.items, schema.warehouses)
    with engine.connect() as conn:
        return {t.name: sorted(map(tuple, conn.execute(select(t))), key=repr) for t in tables}


def drop(settings: Settings, engine, name: str, write: Callable[[Path], object]) -> Outcome:
    return timed_drop(settings, engine, name, write)[0]


def timed_drop(settings: Settings, engine, name: str, write: Callable[[Path], object]) -> tuple[Outcome, float]:
    """Drops one file, runs the inbox, and returns its outcome and the seconds the run
    took. A rejection must leave the ledger as it was; then a good receipt dropped
    next must still post."""
    before = ledger_state(engine)
    write(settings.inbox / name)
    started = time.perf_counter()
    [outcome] = run_inbox(settings, engine=engine)
    elapsed = time.perf_counter() - started
    if outcome.status == "rejected":
        assert ledger_state(engine) == before
    good = f"GOOD-{len(before['documents'])}"
    make_form(settings.inbox / "zz-next.xlsx", "receipt", {**RECEIPT, "doc_no": good}, [{"sku": "A001", "qty": 1, "unit_cost": 3}])
    [after] = run_inbox(settings, engine=engine)
    assert (after.file, after.status) == ("zz-next.xlsx", "posted")
    return outcome, elapsed


def assert_bilingual(problem) -> None:
    assert CJK.search(problem.zh), problem.zh
    assert re.search(r"[a-z]{3,} [a-z]{2,}", problem.en), problem.en
    assert problem.zh != problem.en


def errors_copy(settings: Settings, outcome) -> openpyxl.Workbook:
    """The errors copy, opened: its first sheet lists every problem of the outcome."""
    path = settings.root / outcome.moved_to
    assert path.name.endswith(".errors.xlsx") and path.parent == settings.rejected
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == PROBLEMS_SHEET
    listed = [row[:2] for row in wb[PROBLEMS_SHEET].iter_rows(min_row=FIRST_PROBLEM_ROW, values_only=True)]
    assert listed == [(p.where or "整个文件 whole file", p.code) for p in outcome.problems]
    return wb


def problems_only(settings: Settings, outcome) -> None:
    assert errors_copy(settings, outcome).sheetnames == [PROBLEMS_SHEET]


def marked(ws, coordinate: str, code: str) -> bool:
    cell = ws[coordinate]
    return cell.comment is not None and code in cell.comment.text and cell.fill.fgColor.rgb.endswith("FFC7CE")


def posted_documents(engine) -> dict[str, int]:
    """doc_no → number of lines, of everything posted."""
    with engine.connect() as conn:
        rows = conn.execute(select(schema.documents.c.doc_no, schema.lines.c.line_no)
                            .join(schema.lines, schema.lines.c.document_id == schema.documents.c.id))
        found: dict[str, int] = {}
        for doc_no, _ in rows:
            found[doc_no] = found.get(doc_no, 0) + 1
        return found


def rewrite_part(path: Path, part: str, change: Callable[[bytes], bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    """The workbook with one part's bytes changed, every other part as it was."""
    with zipfile.ZipFile(path) as src:
        parts = [(info.filename, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", method) as dst:
        for name, data in parts:
            dst.writestr(name, change(data) if name == part else data)
    return path


def batch_rows(*lines: list[object]) -> list[list[object]]:
    return [BATCH_LABELS, *lines]


LINE_1 = ["采购入库", "CSV-1", "2026-11-03", "WH1", "S01", "A001", "10", "20.5", "=1+2"]
LINE_2 = ["receipt", "CSV-1", "2026-11-03", "WH1", "S01", "00123", "4", "3", "订书钉"]


def write_csv(rows: list[list[object]], encoding: str = "gbk", delimiter: str = ",") -> Callable[[Path], None]:
    def write(path: Path) -> None:
        text = "\r\n".join(delimiter.join(str(v) for v in row) for row in rows) + "\r\n"
        path.write_bytes(text.encode(encoding))
    return write


# --- 1. CSV and HTML tables named .xlsx / .xls ---------------------------------------------

@pytest.mark.parametrize("encoding, delimiter", [
    ("gbk", ","),  # what Chinese Excel saves as "CSV (逗号分隔)"
    ("utf-8-sig", ","),  # "CSV UTF-8"
    ("utf-16", "\t"),  # "Unicode 文本": UTF-16 with a BOM, tab-separated
])
def test_a_csv_export_named_xlsx_with_a_kind_column_posts(ready, encoding, delimiter):
    settings, engine = ready
    outcome = drop(settings, engine, "订单导出.xlsx", write_csv(batch_rows(LINE_1, LINE_2), encoding, delimiter))
    assert (outcome.status, outcome.kind, outcome.documents, outcome.lines) == ("posted", "receipt", 1, 2)
    assert posted_documents(engine)["CSV-1"] == 2


def test_a_csv_with_bad_cells_is_answered_at_csv_cells_and_copied_as_a_workbook(ready):
    settings, engine = ready
    bad = ["采购入库", "CSV-2", "2026-11-03", "WH1", "S01", "A001", "-3", "20.5", "=cmd|' /C calc'!A0"]
    outcome = drop(settings, engine, "导出 11月.xlsx", write_csv(batch_rows(LINE_1, bad)))
    assert outcome.status == "rejected"
    assert [(p.where, p.code) for p in outcome.problems] == [("导出 11月!G3", "qty-positive")]
    assert_bilingual(outcome.problems[0])
    copy = errors_copy(settings, outcome)
    assert copy.sheetnames == [PROBLEMS_SHEET, "导出 11月"]
    sheet = copy["导出 11月"]
    assert marked(sheet, "G3", "qty-positive")
    assert [c.value for c in sheet[3]] == bad
    assert (sheet["I3"].data_type, sheet["I2"].data_type) == ("s", "s")  # user text never becomes a formula


@pytest.mark.parametrize("name, content, what_zh, what_en", [
    ("orders.xlsx", b"doc_no,qty\r\nR1,5\r\n", "这是 CSV 文件 (扩展名被改成了 .xlsx)", "this is a CSV file renamed .xlsx"),
    ("orders.xls", "单号\t数量\r\nR1\t5\r\n".encode("gbk"), "制表符分隔的文本", "tab-separated text file renamed .xls"),
    ("orders.csv", b"doc_no;qty\nR1;5\n", "这是 CSV 文件,", "this is a CSV file, not an Excel workbook"),
    ("notes.xlsx", "只是一段文字".encode(), "纯文本", "plain text file renamed .xlsx"),
])
def test_a_text_file_without_a_kind_column_is_refused_saying_what_it_is(ready, name, content, what_zh, what_en):
    settings, engine = ready
    outcome = drop(settings, engine, name, lambda path: path.write_bytes(content))
    assert outcome.status == "rejected"
    [found] = outcome.problems
    assert (found.where, found.code) == ("", "file-unreadable")
    assert what_zh in found.zh and what_en in found.en
    assert "kind" in found.en and ".xlsx" in found.en
    assert_bilingual(found)
    problems_only(settings, outcome)


def html_export(rows: list[str], charset: str = "gbk") -> bytes:
    """A table as web systems export it "for Excel": Office namespaces, a charset meta,
    a title row spanning the table, &nbsp; in empty cells."""
    page = (f'<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:x="urn:schemas-microsoft-com:office:excel">'
            f'<head><meta http-equiv="Content-Type" content="text/html; charset={charset}">'
            f'<style>td {{ mso-number-format:"\\@"; }}</style><script>var x = "<td>not a cell</td>";</script></head>'
            f'<body><table border="1"><tr><th colspan="9">采购入库导出 2026-11</th></tr>{"".join(rows)}</table></body></html>')
    return page.encode(charset)


def tr(*cells: str) -> str:
    return "<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in cells) + "</tr>"


HTML_LABELS = tr(*BATCH_LABELS).replace("<td>", "<th>").replace("</td>", "</th>")


def test_an_html_table_named_xls_with_a_kind_column_posts(ready):
    """The document number spans its two lines (rowspan), as a merged cell would."""
    settings, engine = ready
    page = html_export([
        HTML_LABELS,
        tr("采购入库", '<td rowspan="2">HT-1</td>', "2026-11-03", "WH1", "S01", "A001", "10", "20", "&nbsp;"),
        tr("采购入库", "2026-11-03", "WH1", "S01", "B002", "6", "1.5", "急 &amp; 快"),
    ])
    outcome = drop(settings, engine, "export.xls", lambda path: path.write_bytes(page))
    assert (outcome.status, outcome.documents, outcome.lines) == ("posted", 1, 2)
    assert posted_documents(engine)["HT-1"] == 2


def test_an_html_table_with_a_bad_cell_is_answered_at_its_cell(ready):
    settings, engine = ready
    page = html_export([
        HTML_LABELS,
        tr("采购入库", "HT-2", "2026-11-03", "WH1", "S01", "A001", "10", "20", ""),
        tr("采购入库", "HT-2", "2026-11-03", "WH1", "S01", "A001", "0", "20", ""),
    ], charset="utf-8")
    outcome = drop(settings, engine, "export.xls", lambda path: path.write_bytes(page))
    assert outcome.status == "rejected"
    # row 1 is the title, row 2 the labels: the bad qty is the 4th row of the table, column G
    assert [(p.where, p.code) for p in outcome.problems] == [("export!G4", "qty-positive")]
    copy = errors_copy(settings, outcome)
    assert copy["export"]["A1"].value == "采购入库导出 2026-11"
    assert marked(copy["export"], "G4", "qty-positive")


@pytest.mark.parametrize("page, reason_en", [
    (html_export([tr("单号", "数量"), tr("R1", "5")]), "this is an HTML file renamed .xls"),
    (b"<!DOCTYPE html><html><body><p>Session expired, please log in again</p></body></html>",
     "an HTML page, not an Excel workbook, and it holds no table"),
])
def test_an_html_page_that_is_no_batch_table_is_refused_saying_what_it_is(ready, page, reason_en):
    settings, engine = ready
    outcome = drop(settings, engine, "export.xls", lambda path: path.write_bytes(page))
    [found] = outcome.problems
    assert (outcome.status, found.where, found.code) == ("rejected", "", "file-unreadable")
    assert reason_en in found.en and "HTML" in found.zh
    assert_bilingual(found)
    problems_only(settings, outcome)


def test_an_html_cell_spanning_a_million_rows_and_columns_is_refused_not_built(ready):
    settings, engine = ready
    page = html_export([HTML_LABELS, tr("采购入库", '<td rowspan="1000000" colspan="1000000">x</td>')])
    outcome, seconds = timed_drop(settings, engine, "export.xls", lambda path: path.write_bytes(page))
    [found] = outcome.problems
    assert (outcome.status, found.where, found.code) == ("rejected", "export", "sheet-too-large")
    assert "reader.max_columns" in found.en and seconds < 10


# --- 2. legacy .xls ---------------------------------------------------------------------------

def write_xls_form(header: dict, lines: list[dict]) -> Callable[[Path], None]:
    """A receipt form laid out as make_form lays it out, saved as Excel 97-2003 (BIFF8)."""
    def write(path: Path) -> None:
        k = kinds.KINDS["receipt"]
        wb = xlwt.Workbook(encoding="utf-8")
        ws = wb.add_sheet("明细")
        ws.write(0, 0, f"{k.zh}单 {k.name}")
        for i, f in enumerate(k.header):
            row, col = 2 + i // 2, 0 if i % 2 == 0 else 3
            ws.write(row, col, f.label)
            if f.key in header:
                ws.write(row, col + 1, header[f.key])
        table = 2 + (len(k.header) + 1) // 2 + 1
        for j, f in enumerate(k.lines):
            ws.write(table, j, f.label)
            for i, line in enumerate(lines, start=1):
                if f.key in line:
                    ws.write(table + i, j, line[f.key])
        meta = wb.add_sheet("_meta")
        for i, (key, value) in enumerate((("kind", "receipt"), ("version", kinds.FORM_VERSION), ("layout", "form"))):
            meta.write(i, 0, key)
            meta.write(i, 1, value)
        meta.visibility = 1
        wb.save(str(path))
    return write


def test_a_legacy_xls_form_posts(ready):
    settings, engine = ready
    header = {**RECEIPT, "doc_no": "XLS-1", "doc_date": "2026-11-03"}
    outcome = drop(settings, engine, "入库单.xls", write_xls_form(header, [{"sku": "A001", "qty": 4, "unit_cost": 2.5}]))
    assert (outcome.status, outcome.documents, outcome.lines) == ("posted", 1, 1)
    assert (settings.inbox / "入库单.xls").exists() is False


def test_a_legacy_xls_with_a_bad_cell_comes_back_as_its_values_marked(ready):
    settings, engine = ready
    header = {**RECEIPT, "doc_no": "XLS-2", "doc_date": "2026-11-03"}
    outcome = drop(settings, engine, "入库单.xls", write_xls_form(header, [{"sku": "A001", "qty": "12箱", "unit_cost": 2.5}]))
    assert outcome.status == "rejected"
    assert [(p.where, p.code) for p in outcome.problems] == [("明细!B9", "not-a-number")]
    copy = errors_copy(settings, outcome)
    assert copy["明细"]["B3"].value == "XLS-2"
    assert marked(copy["明细"], "B9", "not-a-number")


# --- 3. .xlsm: the data is read, no macro is ever run or kept --------------------------------

def write_xlsm(tmp_path: Path, rows: list[list[object]]) -> Callable[[Path], None]:
    """A macro-enabled batch workbook (xlsxwriter embeds the VBA project as given)."""
    vba = tmp_path / "vbaProject.bin"
    vba.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"Attribute VB_Name = \"ThisWorkbook\"\r\n"
                    b"Private Sub Workbook_Open()\r\n Shell \"calc.exe\"\r\nEnd Sub\r\n" * 20)

    def write(path: Path) -> None:
        wb = xlsxwriter.Workbook(str(path))
        ws = wb.add_worksheet("明细")
        for r, row in enumerate(rows):
            ws.write_row(r, 0, row)
        meta = wb.add_worksheet("_meta")
        for r, row in enumerate((["kind", "receipt"], ["version", kinds.FORM_VERSION], ["layout", "batch"])):
            meta.write_row(r, 0, row)
        meta.hide()
        wb.add_vba_project(str(vba))
        wb.close()
    return write


XLSM_LABELS = ["单号 doc_no", "日期 doc_date", "仓库 warehouse", "供应商 supplier", "物料编码 sku", "数量 qty", "单价成本 unit_cost"]


def test_an_xlsm_posts_its_data(ready, tmp_path):
    settings, engine = ready
    outcome = drop(settings, engine, "入库.xlsm", write_xlsm(tmp_path, [XLSM_LABELS, ["M-1", "2026-11-03", "WH1", "S01", "A001", 2, 5]]))
    with zipfile.ZipFile(settings.root / outcome.moved_to) as archived:  # the original, archived as it came
        assert "xl/vbaProject.bin" in archived.namelist()
        assert b"macroEnabled" in archived.read("[Content_Types].xml")
    assert (outcome.status, outcome.documents) == ("posted", 1)


def test_a_rejected_xlsm_comes_back_marked_without_its_macros(ready, tmp_path):
    settings, engine = ready
    outcome = drop(settings, engine, "入库.xlsm", write_xlsm(tmp_path, [XLSM_LABELS, ["M-2", "2026-11-03", "WH1", "S01", "A001", -2, 5]]))
    assert [(p.where, p.code) for p in outcome.problems] == [("明细!F2", "qty-positive")]
    assert marked(errors_copy(settings, outcome)["明细"], "F2", "qty-positive")
    with zipfile.ZipFile(settings.root / outcome.moved_to) as copy:
        assert not [n for n in copy.namelist() if "vba" in n.lower()]
        assert b"macroEnabled" not in copy.read("[Content_Types].xml")


# --- 4. a password ------------------------------------------------------------------------------

def test_a_password_protected_workbook_is_refused_asking_to_save_it_without(ready, tmp_path):
    settings, engine = ready
    plain = make_form(tmp_path / "plain.xlsx", "receipt", {**RECEIPT, "doc_no": "PW-1"}, [{"sku": "A001", "qty": 1}])

    def encrypted(path: Path) -> None:
        with open(plain, "rb") as f, open(path, "wb") as out:
            OOXMLFile(f).encrypt("秘密", out)

    outcome = drop(settings, engine, "locked.xlsx", encrypted)
    [found] = outcome.problems
    assert (outcome.status, found.where, found.code) == ("rejected", "", "file-unreadable")
    assert "save it without a password" in found.en and "另存为无密码" in found.zh
    problems_only(settings, outcome)


# --- 5. XML entities --------------------------------------------------------------------------

def billion_laughs() -> bytes:
    """Nine entities of ten references each: &lol9; is a thousand million "lol"s."""
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return f'<!DOCTYPE workbook [{"".join(entities)}]>'.encode()


def with_doctype(doctype: bytes, root: bytes) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        return data.replace(b"<" + root, doctype + b"<" + root, 1)
    return change


def xlsxwriter_form(path: Path, text: str = "A001") -> Path:
    """A batch receipt saved by xlsxwriter, so its text sits in xl/sharedStrings.xml."""
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("明细")
    ws.write_row(0, 0, XLSM_LABELS)
    ws.write_row(1, 0, ["X-1", "2026-11-03", "WH1", "S01", text, 1, 1])
    meta = wb.add_worksheet("_meta")
    for r, row in enumerate((["kind", "receipt"], ["version", 1], ["layout", "batch"])):
        meta.write_row(r, 0, row)
    wb.close()
    return path


def test_billion_laughs_in_the_workbook_part_is_refused_quickly(ready):
    settings, engine = ready

    def write(path: Path) -> None:
        rewrite_part(xlsxwriter_form(path), "xl/workbook.xml",
                     lambda data: with_doctype(billion_laughs(), b"workbook")(data).replace(b'appName="xl"', b'appName="&lol9;"'))
        assert b"&lol9;" in zipfile.ZipFile(path).read("xl/workbook.xml")

    outcome, seconds = timed_drop(settings, engine, "laughs.xlsx", write)
    [found] = outcome.problems
    assert (outcome.status, found.code, found.where) == ("rejected", "file-unsafe-xml", "")
    assert "xl/workbook.xml" in found.en and "xl/workbook.xml" in found.zh
    assert_bilingual(found)
    assert seconds < 10
    problems_only(settings, outcome)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_an_external_entity_reads_nothing_from_the_local_file(ready, tmp_path, encoding):
    settings, engine = ready
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711", encoding="utf-8")
    doctype = f'<!DOCTYPE sst [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'.encode()

    def change(data: bytes) -> bytes:
        xml = with_doctype(doctype, b"sst")(data).replace(b">A001<", b">&xxe;<")
        return xml if encoding == "utf-8" else xml.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")

    outcome = drop(settings, engine, "xxe.xlsx", lambda path: rewrite_part(xlsxwriter_form(path), "xl/sharedStrings.xml", change))
    assert [(p.where, p.code) for p in outcome.problems] == [("", "file-unsafe-xml")]
    assert "xl/sharedStrings.xml" in outcome.problems[0].en
    problems_only(settings, outcome)
    outputs = [p for folder in (settings.rejected, settings.outbox) for p in folder.rglob("*") if p.is_file()]
    for path in outputs:
        text = path.read_bytes() if path.suffix != ".xlsx" else b"".join(
            zipfile.ZipFile(path).read(n) for n in zipfile.ZipFile(path).namelist())
        assert b"TOP-SECRET" not in text, path


def test_our_own_xml_parsing_refuses_a_dtd_even_past_the_package_check(tmp_path):
    """Belt and braces: the parts the reader parses itself go through defusedxml with
    DTDs forbidden, and so does openpyxl's parsing for the errors copy."""
    path = rewrite_part(xlsxwriter_form(tmp_path / "x.xlsx"), "xl/workbook.xml", with_doctype(billion_laughs(), b"workbook"))
    with zipfile.ZipFile(path) as archive, pytest.raises(DTDForbidden):
        read._sheet_part(archive, "明细")
    sheet = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><worksheet><c r="A1"><f>1+1</f></c></worksheet>'
    with pytest.raises(DTDForbidden):
        read._cells_without_value(sheet)
    import openpyxl.xml
    assert openpyxl.xml.DEFUSEDXML


def test_no_module_parses_xml_without_defusedxml():
    package = Path(read.__file__).parents[1]
    unsafe = re.compile(r"^\s*(from|import)\s+(xml\.(etree|dom|sax)|lxml|xml\b)", re.M)
    offenders = [p.name for p in package.rglob("*.py") if unsafe.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


# --- 6. zip bombs and size limits ---------------------------------------------------------------

def test_a_zip_bomb_is_refused_before_anything_is_unpacked(ready):
    settings, engine = ready

    def write(path: Path) -> None:
        padding = b" " * (40 * 1024 * 1024)  # 40 MB of blanks packs into some 40 KB
        make_form(path, "receipt", {**RECEIPT, "doc_no": "ZB-1"}, [{"sku": "A001", "qty": 1}])
        rewrite_part(path, "xl/worksheets/sheet1.xml", lambda data: data.replace(b"<sheetData>", b"<sheetData>" + padding))

    outcome = drop(settings, engine, "bomb.xlsx", write)
    [found] = outcome.problems
    assert (outcome.status, found.code) == ("rejected", "file-zip-bomb")
    assert "xl/worksheets/sheet1.xml" in found.en and "limit of 200" in found.en and "200 倍" in found.zh
    assert_bilingual(found)
    problems_only(settings, outcome)


def limited(tmp_path: Path, **limits) -> tuple[Settings, object]:
    settings = Settings(Config(reader=ReaderConfig(**limits)), tmp_path / "limited")
    for name in ("inbox", "outbox", "archive", "rejected", "templates"):
        getattr(settings, name).mkdir(parents=True)
    engine = open_ledger(settings.ledger_url)
    drop_master(settings.inbox)
    run_inbox(settings, engine=engine)
    return settings, engine


def test_over_the_configured_sizes_the_answer_names_the_limit_and_the_number(tmp_path):
    settings, engine = limited(tmp_path, max_file_mb=1, max_uncompressed_mb=2)
    noise = bytes(range(256)) * (5 * 4096)  # 5 MB that does not pack

    def big_file(path: Path) -> None:
        make_form(path, "receipt", {**RECEIPT, "doc_no": "BIG-1"}, [{"sku": "A001", "qty": 1}])
        with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as z:
            z.writestr("xl/media/photo.bin", noise[: 1536 * 1024])

    def unpacks_big(path: Path) -> None:
        make_form(path, "receipt", {**RECEIPT, "doc_no": "BIG-2"}, [{"sku": "A001", "qty": 1}])
        with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
            z.writestr("xl/media/white.bmp", b"\xff" * (3 * 1024 * 1024))

    first = drop(settings, engine, "big.xlsx", big_file)
    second = drop(settings, engine, "unpacks.xlsx", unpacks_big)
    assert [(p.code, p.where) for p in first.problems + second.problems] == [("file-too-large", "")] * 2
    assert "size is 1.5 MB, over the limit of 1 MB (config reader.max_file_mb)" in first.problems[0].en
    assert "unpacked size is 3.0 MB, over the limit of 2 MB (config reader.max_uncompressed_mb)" in second.problems[0].en
    for outcome in (first, second):
        assert_bilingual(outcome.problems[0])
        problems_only(settings, outcome)


def test_a_csv_over_the_row_limit_is_refused_with_its_row_count(tmp_path):
    settings, engine = limited(tmp_path, max_rows=50)
    rows = batch_rows(*([["采购入库", "CSV-9", "2026-11-03", "WH1", "S01", "A001", "1", "1", ""]] * 60))
    outcome = drop(settings, engine, "long.csv", write_csv(rows))
    [found] = outcome.problems
    assert (found.where, found.code) == ("long", "sheet-too-large")
    assert "A1:I61 has 61 rows, over the limit of 50 (config reader.max_rows)" in found.en


def far_apart_cells(last: str) -> Callable[[Path], None]:
    """A receipt form plus one value far away: calamine would hold every cell between."""
    def write(path: Path) -> None:
        make_form(path, "receipt", {**RECEIPT, "doc_no": "FAR-1"}, [{"sku": "A001", "qty": 1}])
        cell = f'<row r="{re.sub("[A-Z]", "", last)}"><c r="{last}" t="inlineStr"><is><t>x</t></is></c></row>'.encode()
        rewrite_part(path, "xl/worksheets/sheet1.xml", lambda data: data.replace(b"</sheetData>", cell + b"</sheetData>"))
    return write


@pytest.mark.slow
def test_two_values_far_apart_are_refused_by_jxc_run_without_a_crash(tmp_path):
    """Two cells at A1 and XFD1048576 would make calamine ask for 550 GB and abort the
    process: measured from the XML first, the file is refused (run as a subprocess,
    so a regression cannot take the test run down with it)."""
    root = tmp_path / "ws"
    jxc("init", str(root), cwd=tmp_path)
    drop_master(root / "inbox")
    jxc("run", cwd=root)
    far = {"far-wide.xlsx": ("XFD1048576", "max_columns"), "far-big.xlsx": ("GR1048576", "max_cells")}
    for name, (last, _) in far.items():
        far_apart_cells(last)(root / "inbox" / name)
    make_form(root / "inbox" / "zz-next.xlsx", "receipt", {**RECEIPT, "doc_no": "NEXT-1"}, [{"sku": "A001", "qty": 1, "unit_cost": 2}])
    engine = open_ledger(load_settings(root / "config.yaml").ledger_url)
    before = ledger_state(engine)
    started = time.perf_counter()
    result = jxc("run", "--json", cwd=root)
    assert time.perf_counter() - started < 60
    outcomes = {o["file"]: o for o in map(json.loads, result.stdout.splitlines())}
    assert outcomes["zz-next.xlsx"]["status"] == "posted"
    after = ledger_state(engine)
    assert [d for d in after["documents"] if d not in before["documents"]] == [
        d for d in after["documents"] if "NEXT-1" in d]  # only the good file's document is new
    for name, (last, limit) in far.items():
        assert outcomes[name]["status"] == "rejected"
        [found] = outcomes[name]["problems"]
        assert (found["where"], found["code"]) == ("明细", "sheet-too-large")
        assert f"A1:{last}" in found["en"] and f"reader.{limit}" in found["en"]
        errors = root / "rejected" / name.replace(".xlsx", ".errors.xlsx")
        assert openpyxl.load_workbook(errors).sheetnames == [PROBLEMS_SHEET]


@pytest.mark.parametrize("prefix", ["", "x:"])
def test_the_extent_of_a_big_sheet_is_found_across_the_pieces_its_xml_is_read_in(prefix):
    """The sheet XML is searched a few MB at a time: a cell at a piece's edge, and the
    farthest ones at the very end, still count (written plainly, and with a namespace prefix)."""
    from jxc_sheets.sheets import sniff

    rows = "".join(f'<{prefix}row r="{r}"><{prefix}c r="B{r}" t="n"><{prefix}v>{r}</{prefix}v></{prefix}c>'
                   f'<{prefix}c r="C{r}" t="n"><{prefix}v>1</{prefix}v></{prefix}c></{prefix}row>' for r in range(3, 120_003))
    far = f'<{prefix}row r="700000"><{prefix}c r="AZ700000" t="n"><{prefix}v>9</{prefix}v></{prefix}c></{prefix}row>'
    xml = f"<{prefix}worksheet><{prefix}sheetData>{rows}{far}</{prefix}sheetData></{prefix}worksheet>".encode()
    assert len(xml) > 2 * (1 << 22)  # read in several pieces
    assert sniff.cell_extent(xml) == sniff.Extent(3, 700_000, 2, 52)


def test_a_declared_dimension_of_a_million_rows_with_three_real_rows_reads_fast(ready):
    settings, engine = ready

    def write(path: Path) -> None:
        make_table(path, "receipt", [
            {"doc_no": "DIM-1", "doc_date": D, "warehouse": "WH1", "supplier": "S01", "sku": "A001", "qty": 1, "unit_cost": 2},
            {"doc_no": "DIM-1", "doc_date": D, "warehouse": "WH1", "supplier": "S01", "sku": "B002", "qty": 3, "unit_cost": 4},
        ], columns=["doc_no", "doc_date", "warehouse", "supplier", "sku", "qty", "unit_cost"], layout="batch")
        rewrite_part(path, "xl/worksheets/sheet1.xml",
                     lambda data: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:J1048576"', data))
        assert b'ref="A1:J1048576"' in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")

    outcome, seconds = timed_drop(settings, engine, "dimension.xlsx", write)
    assert (outcome.status, outcome.documents, outcome.lines) == ("posted", 1, 2)
    assert seconds < 5


# --- 7. Excel's longest cell --------------------------------------------------------------------

def test_a_remark_of_32767_characters_posts_whole(ready):
    settings, engine = ready
    remark = ("备注" * 20000)[:32767]
    outcome = drop(settings, engine, "long-remark.xlsx", lambda path: make_form(
        path, "receipt", {**RECEIPT, "doc_no": "LONG-1"}, [{"sku": "A001", "qty": 1, "unit_cost": 1, "remark": remark}]))
    assert outcome.status == "posted"
    with engine.connect() as conn:
        assert conn.execute(select(schema.lines.c.remark).where(schema.lines.c.remark != "")).scalar_one() == remark


def test_a_sku_of_32767_characters_is_too_long_at_its_cell_and_the_copy_still_writes(ready):
    settings, engine = ready
    sku = "A" * 32767
    remark = "长" * 32767
    outcome = drop(settings, engine, "long-sku.xlsx", lambda path: make_form(
        path, "receipt", {**RECEIPT, "doc_no": "LONG-2"}, [{"sku": sku, "qty": 1, "unit_cost": 1, "remark": remark}]))
    assert [(p.where, p.code) for p in outcome.problems] == [("明细!A9", "too-long")]
    assert outcome.problems[0].value == "A" * 80
    sheet = errors_copy(settings, outcome)["明细"]
    assert marked(sheet, "A9", "too-long")
    assert (sheet["A9"].value, sheet["P9"].value) == (sku, remark)  # remark after the price, tax, batch and inspection columns


# --- 8. a truncated workbook, and other files that are no workbook ------------------------------

def test_a_truncated_workbook_is_refused_as_incomplete(ready, tmp_path):
    settings, engine = ready
    whole = make_form(tmp_path / "whole.xlsx", "receipt", {**RECEIPT, "doc_no": "HALF-1"}, [{"sku": "A001", "qty": 1}]).read_bytes()
    outcome = drop(settings, engine, "half.xlsx", lambda path: path.write_bytes(whole[: len(whole) // 2]))
    [found] = outcome.problems
    assert (outcome.status, found.where, found.code) == ("rejected", "", "file-unreadable")
    assert "incomplete or damaged" in found.en and "不完整或已损坏" in found.zh
    problems_only(settings, outcome)


def docx(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<document/>")


def photos_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("IMG_0001.jpg", b"\xff\xd8\xff" + bytes(500))


@pytest.mark.parametrize("name, write, reason_en", [
    ("empty.xlsx", lambda p: p.write_bytes(b""), "the file is empty (0 bytes)"),
    ("report.xlsx", docx, "this is a Word document"),
    ("photos.xlsx", photos_zip, "this is a zip archive"),
    ("old.xml.xls", lambda p: p.write_text('<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">'
                                           '<Worksheet ss:Name="明细"><Table><Row><Cell><Data ss:Type="String">单号</Data></Cell></Row></Table>'
                                           '</Worksheet></Workbook>', encoding="utf-8"), "Excel 2003 XML spreadsheet"),
    ("scan.xlsx", lambda p: p.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 64), "in no format jxc reads"),
])
def test_files_that_are_no_workbook_are_told_what_they_are(ready, name, write, reason_en):
    settings, engine = ready
    outcome = drop(settings, engine, name, write)
    [found] = outcome.problems
    assert (outcome.status, found.where, found.code) == ("rejected", "", "file-unreadable")
    assert reason_en in found.en
    assert_bilingual(found)
    problems_only(settings, outcome)


def test_an_html_table_with_an_external_entity_posts_the_text_and_reads_no_file(ready, tmp_path):
    """HTML goes through the standard library's HTML parser: it knows HTML's character
    references only, so an entity declared in a DOCTYPE stays the text it is."""
    settings, engine = ready
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711", encoding="utf-8")
    page = (f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'.encode()
            + html_export([HTML_LABELS, tr("采购入库", "HT-9", "2026-11-03", "WH1", "S01", "A001", "1", "2", "&xxe;")], "utf-8"))
    outcome = drop(settings, engine, "export.xls", lambda path: path.write_bytes(page))
    assert outcome.status == "posted"
    with engine.connect() as conn:
        assert conn.execute(select(schema.lines.c.remark).where(schema.lines.c.remark != "")).scalar_one() == "&xxe;"


def _sheet_xml(dimension: str, cells: list[tuple[str, int, bool]]) -> bytes:
    """A worksheet part declaring `dimension`, its cells (column letters, row, holds a value) one row tag each."""
    body = "".join(f'<row r="{r}"><c r="{c}{r}" s="1"/></row>' if not value else
                   f'<row r="{r}"><c r="{c}{r}" t="n"><v>1</v></c></row>' for c, r, value in cells)
    return (f'<worksheet><dimension ref="{dimension}"/><sheetData>{body}</sheetData></worksheet>').encode()


@given(st.lists(st.tuples(st.sampled_from(["A", "B", "J", "K", "Z", "AA", "AB", "BA", "XFD"]),
                          st.sampled_from([1, 2, 9, 10, 11, 99, 100, 101, 109, 110, 1000, 1048576]), st.booleans()),
                min_size=1, max_size=8),
       st.sampled_from(["A1:J10", "A1:Z100", "A1:AA101", "A1:B2", "A1:XFD1048576", "B2:J10", "A1:A1"]))
def test_a_declared_dimension_is_taken_only_where_the_cells_bear_it_out(cells, dimension):
    """The sheet's extent from its `<dimension>` is the one its cells give, one by one, for
    any dimension and cells: a dimension too large (A1:XFD1048576 over three rows), too small
    (a cell beyond it), or with no value cell in its last row or column is not taken."""
    from jxc_sheets.sheets import sniff

    xml = _sheet_xml(dimension, cells)
    cell_by_cell = sniff.cell_extent(xml.replace(b"<dimension", b"<notdimension"))
    assert sniff.cell_extent(xml) == cell_by_cell


def test_a_declared_dimension_beside_a_cell_with_a_leading_zero_row_is_not_taken():
    """`<c r="A010">` is row 10 to the cell-by-cell count, beyond a declared A1:B2."""
    from jxc_sheets.sheets import sniff

    xml = _sheet_xml("A1:B2", [("A", 1, True), ("B", 2, True)]).replace(b"</sheetData>", b'<row r="10"><c r="A010"><v>1</v></c></row></sheetData>')
    assert sniff.cell_extent(xml) == sniff.Extent(1, 10, 1, 2)
