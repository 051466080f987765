"""The annotated copy of a rejected file: real workbooks written, annotated and read back."""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment

from jxc_sheets.problems import problem
from jxc_sheets.sheets.annotate import (
    AUTHOR,
    HEADER,
    HEADER_ROW,
    PROBLEMS_SHEET,
    WHOLE_FILE,
    parse_where,
    write_errors_copy,
)

FIRST = HEADER_ROW + 1  # the first problem row


def make_form(path: Path) -> Path:
    """A receipt-like form: header labels with values to their right, a merged
    remark, a line table, a second sheet with a space in its name, a hidden _meta."""
    wb = Workbook()
    ws = wb.active
    ws.title = "明细"
    ws["A1"] = "入库单 receipt"
    ws["A2"], ws["B2"] = "单号 doc_no", "R-001"
    ws["A3"], ws["B3"] = "日期 doc_date", "2026-13-40"
    ws["A4"] = "备注 remark"
    ws.merge_cells("B4:D4")
    ws["B4"] = "合并的备注"
    ws["B4"].comment = Comment("用户自己的批注", "张三")
    for col, label in enumerate(("物料编码 sku", "数量 qty", "单位 unit"), start=1):
        ws.cell(6, col, label)
    ws.append(["A100", -3, "箱"])
    ws.append(["A200", "abc", ""])
    other = wb.create_sheet("my sheet")
    other["A1"], other["B1"] = "说明 note", "x"
    meta = wb.create_sheet("_meta")
    meta["A1"], meta["B1"] = "kind", "receipt"
    meta.sheet_state = "hidden"
    wb.save(path)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_red(cell) -> bool:
    return cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb.endswith("FFC7CE")


PROBLEMS = [
    problem("not-a-date", "明细!B3", "2026-13-40", label="日期 doc_date", key="doc_date"),
    problem("qty-positive", "明细!B7", "-3"),
    problem("negative", "明细!B7", "-3", label="数量 qty", key="qty"),
    problem("not-a-number", "明细!B8", "=HYPERLINK(\"http://x\")", label="数量 qty", key="qty"),
    problem("not-yes-no", "明细!A8", "+1", label="物料编码 sku", key="sku"),
    problem("required", "'my sheet'!B1", "-2", label="说明 note", key="note"),
    problem("required", "明细!C4", "@SUM(A1)", label="备注 remark", key="remark"),
    problem("missing-field", "没有的表!A1", "", label="仓库 warehouse"),
    problem("file-no-lines", ""),
]
MARKED = {("明细", "B3"), ("明细", "B7"), ("明细", "B8"), ("明细", "A8"), ("my sheet", "B1"), ("明细", "B4")}


@pytest.fixture
def copy(tmp_path):
    original = make_form(tmp_path / "receipt-0601.xlsx")
    before = sha256(original)
    dest = write_errors_copy(original, tmp_path / "rejected" / "receipt-0601.errors.xlsx", PROBLEMS, original.name)
    assert sha256(original) == before
    return load_workbook(dest)


def test_problem_sheet_comes_first_and_is_active(copy):
    assert copy.sheetnames == [PROBLEMS_SHEET, "明细", "my sheet", "_meta"]
    assert copy.active.title == PROBLEMS_SHEET
    assert [ws.title for ws in copy.worksheets if ws.sheet_view.tabSelected] == [PROBLEMS_SHEET]
    assert copy["_meta"].sheet_state == "hidden"


def test_problem_sheet_lists_every_problem_in_order(copy):
    ws = copy[PROBLEMS_SHEET]
    assert "receipt-0601.xlsx" in ws["A1"].value and "receipt-0601.xlsx" in ws["A2"].value
    assert tuple(c.value for c in ws[HEADER_ROW]) == HEADER
    assert all(c.font.b for c in ws[HEADER_ROW])
    assert ws.freeze_panes == f"A{FIRST}"
    rows = [(r[0], r[1], r[4] or "") for r in ws.iter_rows(min_row=FIRST, values_only=True)]
    assert rows == [(p.where or WHOLE_FILE, p.code, p.value) for p in PROBLEMS]
    zh_en = [(r[2], r[3]) for r in ws.iter_rows(min_row=FIRST, values_only=True)]
    assert zh_en == [(p.zh, p.en) for p in PROBLEMS]
    assert all(ws.column_dimensions[col].width >= 12 for col in "ABCDE")


def test_red_fill_on_exactly_the_problem_cells(copy):
    for sheet in ("明细", "my sheet", "_meta"):
        for row in copy[sheet].iter_rows():
            for cell in row:
                assert is_red(cell) == ((sheet, cell.coordinate) in MARKED), (sheet, cell.coordinate)
    assert copy["明细"]["B7"].font.color.rgb.endswith("9C0006")


def test_comment_holds_every_problem_of_its_cell(copy):
    comment = copy["明细"]["B7"].comment
    assert comment.author == AUTHOR
    assert "[qty-positive]" in comment.text and "[negative]" in comment.text
    assert PROBLEMS[1].zh in comment.text and PROBLEMS[2].en in comment.text
    assert copy["明细"]["A8"].comment.text.count("[") == 1
    assert copy["明细"]["A2"].comment is None


def test_where_links_to_its_cell(copy):
    ws = copy[PROBLEMS_SHEET]
    links = [ws.cell(r, 1).hyperlink.location if ws.cell(r, 1).hyperlink else None
             for r in range(FIRST, FIRST + len(PROBLEMS))]
    assert links == ["'明细'!B3", "'明细'!B7", "'明细'!B7", "'明细'!B8", "'明细'!A8",
                     "'my sheet'!B1", "'明细'!B4", None, None]


def test_formula_looking_values_stay_text(copy):
    ws = copy[PROBLEMS_SHEET]
    seen = {ws.cell(r, 5).value: ws.cell(r, 5).data_type for r in range(FIRST, FIRST + len(PROBLEMS))}
    for text in ('=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)"):
        assert seen[text] == "s"


def test_formula_looking_values_are_not_formulas_in_the_file(tmp_path):
    original = make_form(tmp_path / "f.xlsx")
    dest = write_errors_copy(original, tmp_path / "f.errors.xlsx", PROBLEMS, "f.xlsx")
    with zipfile.ZipFile(dest) as z:
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml


def test_merged_range_problem_lands_on_top_left(copy):
    ws = copy["明细"]
    assert is_red(ws["B4"])
    assert "[required]" in ws["B4"].comment.text
    assert ws["B4"].value == "合并的备注"


def test_users_own_note_is_kept_below_ours(copy):
    text = copy["明细"]["B4"].comment.text
    assert text.index("[required]") < text.index("用户自己的批注")


def test_unknown_sheet_is_listed_only(copy):
    ws = copy[PROBLEMS_SHEET]
    row = FIRST + 7
    assert (ws.cell(row, 1).value, ws.cell(row, 2).value) == ("没有的表!A1", "missing-field")
    assert ws.cell(row, 1).hyperlink is None
    assert "没有的表" not in copy.sheetnames


@pytest.mark.parametrize("content", [b"this is not a workbook\n", b"sku,qty\nA100,3\n", b"PK\x03\x04truncated"])
def test_not_a_workbook_gives_the_problem_sheet_only(tmp_path, content):
    original = tmp_path / "bad.xlsx"
    original.write_bytes(content)
    problems = [problem("file-unreadable", "", reason_zh="不是 zip", reason="not a zip"), problem("qty-positive", "明细!D7", "-3")]
    dest = write_errors_copy(original, tmp_path / "bad.errors.xlsx", problems, "bad.xlsx")
    wb = load_workbook(dest)
    assert wb.sheetnames == [PROBLEMS_SHEET]
    ws = wb[PROBLEMS_SHEET]
    assert [r[:2] for r in ws.iter_rows(min_row=FIRST, values_only=True)] == [
        (WHOLE_FILE, "file-unreadable"), ("明细!D7", "qty-positive")]
    assert ws.cell(FIRST + 1, 1).hyperlink is None
    assert original.read_bytes() == content


def test_truncated_real_workbook_falls_back(tmp_path):
    whole = make_form(tmp_path / "whole.xlsx").read_bytes()
    original = tmp_path / "cut.xlsx"
    original.write_bytes(whole[: len(whole) // 2])
    dest = write_errors_copy(original, tmp_path / "cut.errors.xlsx", PROBLEMS[:1], "cut.xlsx")
    assert load_workbook(dest).sheetnames == [PROBLEMS_SHEET]


def test_written_atomically_leaving_no_temp_file(tmp_path):
    original = make_form(tmp_path / "r.xlsx")
    out = tmp_path / "rejected"
    out.mkdir()
    (out / "r.errors.xlsx").write_bytes(b"an older copy")
    dest = write_errors_copy(original, out / "r.errors.xlsx", PROBLEMS, "r.xlsx")
    assert sorted(p.name for p in out.iterdir()) == ["r.errors.xlsx"]
    assert load_workbook(dest).sheetnames[0] == PROBLEMS_SHEET


def test_template_original_is_saved_as_plain_xlsx(tmp_path):
    wb = load_workbook(make_form(tmp_path / "form.xlsx"))
    wb.template = True
    wb.save(tmp_path / "form.xltx")
    dest = write_errors_copy(tmp_path / "form.xltx", tmp_path / "form.errors.xlsx", PROBLEMS[:1], "form.xltx")
    with zipfile.ZipFile(dest) as z:
        types = z.read("[Content_Types].xml").decode()
    assert "spreadsheetml.sheet.main+xml" in types and "template" not in types


def test_a_corrected_copy_dropped_again_is_annotated_afresh(tmp_path):
    original = make_form(tmp_path / "r.xlsx")
    first = write_errors_copy(original, tmp_path / "r.errors.xlsx", PROBLEMS, "r.xlsx")
    again = [problem("qty-positive", "明细!B7", "-3")]
    second = write_errors_copy(first, tmp_path / "r.errors.errors.xlsx", again, "r.errors.xlsx")
    wb = load_workbook(second)
    assert wb.sheetnames == [PROBLEMS_SHEET, "明细", "my sheet", "_meta"]
    assert [r[1] for r in wb[PROBLEMS_SHEET].iter_rows(min_row=FIRST, values_only=True)] == ["qty-positive"]
    assert is_red(wb["明细"]["B7"]) and not is_red(wb["明细"]["B3"]) and not is_red(wb["明细"]["B4"])
    assert wb["明细"]["B3"].comment is None
    assert wb["明细"]["B4"].comment.text == "用户自己的批注"


def test_control_characters_in_a_seen_value_do_not_break_the_copy(tmp_path):
    original = make_form(tmp_path / "r.xlsx")
    odd = [problem("not-a-number", "明细!B8", "1\x002\x07", label="数量 qty", key="qty")]
    dest = write_errors_copy(original, tmp_path / "r.errors.xlsx", odd, "r.xlsx")
    assert load_workbook(dest)[PROBLEMS_SHEET].cell(FIRST, 5).value == "1\ufffd2\ufffd"


@pytest.mark.parametrize("where, expected", [
    ("明细!D7", ("明细", 7, 4)),
    ("'my sheet'!D7", ("my sheet", 7, 4)),
    ("'it''s'!$B$2", ("it's", 2, 2)),
    ("明细!D7:F9", ("明细", 7, 4)),
    ("'a!b'!c3", ("a!b", 3, 3)),
    ("", None),
    ("明细", None),
    ("明细!", None),
    ("明细!7", None),
    ("明细!ZZZZ1", None),
    ("明细!A0", None),
])
def test_parse_where(where, expected):
    assert parse_where(where) == expected


# --- the copy is the user's own package, patched: what openpyxl used to drop survives -------------

def tiny_png() -> bytes:
    """A 1×1 red PNG, made by hand (no imaging library needed)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def rich_form(path: Path) -> Path:
    """A workbook as Excel users make them, written by xlsxwriter: an image, a text box, a
    sparkline, a dropdown, a formula with its saved result, a bold date cell, a gap in a
    row and a missing row, a second sheet that is the active one with a print area and a
    user's note, and a name."""
    import xlsxwriter

    image = path.with_suffix(".png")
    image.write_bytes(tiny_png())
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("明细")
    bold_date = wb.add_format({"bold": True, "num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, ["物料编码 sku", "数量 qty", "单位 unit", "备注 remark", "金额 amount"])
    for r in range(1, 10):
        if r == 6:
            continue  # row 7 is not in the file at all
        ws.write_row(r, 0, [f"A{r:03d}", r, "箱"])
        if r != 2:
            ws.write(r, 3, "ok")  # D3 is not in the file: row 3 has A–C and E
        ws.write_formula(r, 4, f"=B{r + 1}*2", None, r * 2)
    ws.write_datetime(1, 5, __import__("datetime").datetime(2026, 11, 3), bold_date)
    ws.data_validation("C2:C10", {"validate": "list", "source": ["箱", "个"]})
    ws.insert_image("H2", str(image))
    ws.insert_textbox("H8", "请按单位填写 / fill in by unit", {"width": 200, "height": 40})
    ws.add_sparkline("G2", {"range": "明细!B2:B10"})
    other = wb.add_worksheet("other")
    other.write("A1", "说明 note")
    other.write_comment("A1", "用户自己的批注")
    other.print_area("A1:C5")
    other.activate()
    wb.define_name("units", "=明细!$C$2:$C$10")
    wb.close()
    return path


RICH_PROBLEMS = [
    problem("not-a-date", "明细!F2", "x", label="日期 doc_date", key="doc_date"),
    problem("required", "明细!D3", "", label="备注 remark", key="remark"),
    problem("required", "明细!A7", "", label="物料编码 sku", key="sku"),
    problem("required", "明细!B20", "", label="数量 qty", key="qty"),
    problem("required", "other!A1", "", label="说明 note", key="note"),
]
RICH_MARKED = {("明细", "F2"), ("明细", "D3"), ("明细", "A7"), ("明细", "B20"), ("other", "A1")}


@pytest.fixture
def rich(tmp_path):
    original = rich_form(tmp_path / "rich.xlsx")
    dest = write_errors_copy(original, tmp_path / "rich.errors.xlsx", RICH_PROBLEMS, "rich.xlsx")
    return original, dest


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_images_shapes_and_sparklines_are_copied_as_they_came(rich):
    original, dest = rich
    before, after = parts(original), parts(dest)
    drawing = [n for n in before if n.startswith(("xl/media/", "xl/drawings/drawing", "xl/drawings/_rels/"))]
    assert any(n.startswith("xl/media/") for n in drawing) and "xl/drawings/drawing1.xml" in drawing
    assert {n: after.get(n) for n in drawing} == {n: before[n] for n in drawing}
    assert b"<xdr:sp " in after["xl/drawings/drawing1.xml"] or b"<xdr:sp>" in after["xl/drawings/drawing1.xml"]
    assert b"x14:sparklineGroups" in after["xl/worksheets/sheet1.xml"]
    assert b"<drawing " in after["xl/worksheets/sheet1.xml"]


@pytest.mark.filterwarnings("ignore:Sparkline Group extension")  # openpyxl reading the copy
def test_dropdowns_names_and_saved_formula_results_survive(rich):
    import python_calamine

    original, dest = rich
    wb = load_workbook(dest)
    [validation] = wb["明细"].data_validations.dataValidation
    assert (str(validation.sqref), validation.formula1) == ("C2:C10", '"箱,个"')
    assert wb.defined_names["units"].attr_text == "明细!$C$2:$C$10"
    assert wb["other"].print_area == "'other'!$A$1:$C$5"
    assert wb["明细"]["E5"].value == "=B5*2"
    with python_calamine.CalamineWorkbook.from_path(str(original)) as before, \
            python_calamine.CalamineWorkbook.from_path(str(dest)) as after:
        assert after.sheet_names == [PROBLEMS_SHEET, "明细", "other"]
        for name in ("明细", "other"):  # every value as calamine reads it, the formulas' saved results too
            assert after.get_sheet_by_name(name).to_python() == before.get_sheet_by_name(name).to_python()
        assert after.get_sheet_by_name("明细").to_python()[4][4] == 8
        listed = after.get_sheet_by_name(PROBLEMS_SHEET).to_python()[HEADER_ROW:]
        assert [(row[0], row[1]) for row in listed] == [(p.where, p.code) for p in RICH_PROBLEMS]


@pytest.mark.filterwarnings("ignore:Sparkline Group extension")  # openpyxl reading the copy
def test_red_cells_and_comments_land_also_where_the_file_had_no_cell(rich):
    _, dest = rich
    wb = load_workbook(dest)
    for sheet in ("明细", "other"):
        for row in wb[sheet].iter_rows(min_row=1, max_row=25, max_col=8):
            for cell in row:
                assert is_red(cell) == ((sheet, cell.coordinate) in RICH_MARKED), (sheet, cell.coordinate)
    for sheet, coordinate in RICH_MARKED:
        comment = wb[sheet][coordinate].comment
        assert comment.author == AUTHOR and "[" in comment.text, (sheet, coordinate)
    assert wb["明细"]["F2"].font.b and wb["明细"]["F2"].number_format == "yyyy-mm-dd"
    text = wb["other"]["A1"].comment.text
    assert text.index("[required]") < text.index("用户自己的批注")
    assert (wb.active.title, [ws.title for ws in wb.worksheets if ws.sheet_view.tabSelected]) == (
        PROBLEMS_SHEET, [PROBLEMS_SHEET])


def test_cells_added_to_the_sheet_keep_the_order_of_columns_and_rows(rich):
    import re

    _, dest = rich
    xml = parts(dest)["xl/worksheets/sheet1.xml"].decode()
    rows = [int(n) for n in re.findall(r'<row r="(\d+)"', xml)]
    assert rows == sorted(rows) and 7 in rows and rows[-1] == 20
    for row in re.findall(r"<row [^>]*>(.*?)</row>", xml):
        columns = [re.match(r"[A-Z]+", ref).group(0) for ref in re.findall(r'<c r="([A-Z]+\d+)"', row)]
        assert columns == sorted(columns, key=lambda c: (len(c), c))


def test_a_sheet_streamed_in_pieces_of_any_size_is_patched_alike(rich):
    from jxc_sheets.sheets.package import SheetPatch, patch_sheet

    original, _ = rich
    xml = parts(original)["xl/worksheets/sheet1.xml"]
    patch = SheetPatch({(2, 6): lambda s: s + 100, (3, 4): lambda s: 200, (7, 1): lambda s: 300,
                        (20, 2): lambda s: 400}, head=lambda h: h.replace(b'tabSelected="1"', b""))
    whole = b"".join(patch_sheet(iter([xml]), patch))
    for size in (1, 7, 64, 1000):
        assert b"".join(patch_sheet((xml[i:i + size] for i in range(0, len(xml), size)), patch)) == whole, size
    assert b'r="D3" s="200"' in whole and b'<row r="20"><c r="B20" s="400"/></row>' in whole
    assert b'<row r="7"><c r="A7" s="300"/></row>' in whole


def soffice() -> str | None:
    import shutil
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(path: Path, to: str, out: Path) -> Path:
    import subprocess

    out.mkdir(exist_ok=True)
    profile = (out / "profile").as_uri()  # its own profile: another LibreOffice running does not block this one
    done = subprocess.run([soffice(), f"-env:UserInstallation={profile}", "--headless", "--convert-to", to,
                           "--outdir", str(out), str(path)], capture_output=True, timeout=180)
    converted = out / f"{path.stem}.{to}"
    assert done.returncode == 0 and converted.exists() and converted.stat().st_size > 0, done.stderr
    return converted


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Sparkline Group extension")
@pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_opens_the_copy_and_sees_its_marks(rich, tmp_path):
    """LibreOffice converts the copy to PDF, and to an .xlsx of its own in which the red
    cells and our comments are still there; a file LibreOffice saved is annotated too."""
    _, dest = rich
    convert(dest, "pdf", tmp_path / "pdf")
    wb = load_workbook(convert(dest, "xlsx", tmp_path / "lo"))
    assert wb.sheetnames[0] == PROBLEMS_SHEET
    assert is_red(wb["明细"]["F2"]) and "[not-a-date]" in wb["明细"]["F2"].comment.text
    assert is_red(wb["明细"]["B20"]) and "[required]" in wb["明细"]["B20"].comment.text
    resaved = convert(make_form(tmp_path / "form.xlsx"), "xlsx", tmp_path / "lo-form")
    again = load_workbook(write_errors_copy(resaved, tmp_path / "form.errors.xlsx", PROBLEMS, "form.xlsx"))
    assert again.sheetnames == [PROBLEMS_SHEET, "明细", "my sheet", "_meta"]
    for sheet, coordinate in MARKED:
        assert is_red(again[sheet][coordinate]) and again[sheet][coordinate].comment.author == AUTHOR


def rewritten(path: Path, change) -> Path:
    """The workbook with its parts changed by `change(parts)`, written again."""
    with zipfile.ZipFile(path) as z:
        contents = {name: z.read(name) for name in z.namelist()}
    change(contents)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in contents.items():
            z.writestr(name, data)
    return path


def test_parts_written_with_a_namespace_prefix_are_patched_alike(tmp_path):
    """Some generators write `<x:row>`, `<x:c>` … under a prefix, not the default namespace."""
    import re

    def prefixed(contents: dict[str, bytes]) -> None:
        for name in ("xl/worksheets/sheet1.xml", "xl/styles.xml", "xl/workbook.xml"):
            xml = re.sub(rb"<(/?)([A-Za-z]\w*)(?=[\s/>])", rb"<\1x:\2", contents[name])
            contents[name] = xml.replace(b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
                                         b'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"')

    original = rewritten(make_form(tmp_path / "x.xlsx"), prefixed)
    assert b"<x:row " in parts(original)["xl/worksheets/sheet1.xml"]
    wb = load_workbook(write_errors_copy(original, tmp_path / "x.errors.xlsx", PROBLEMS, "x.xlsx"))
    assert wb.sheetnames == [PROBLEMS_SHEET, "明细", "my sheet", "_meta"]
    assert all(is_red(wb[sheet][coordinate]) for sheet, coordinate in MARKED)
    assert b"<x:c r=\"B7\" t=\"n\" s=" in parts(tmp_path / "x.errors.xlsx")["xl/worksheets/sheet1.xml"]


def test_a_package_the_patch_cannot_read_is_copied_as_its_values(tmp_path):
    """No styles part (Excel always writes one; a few generators do not): the copy holds the
    sheet the reader read, as values, marked the same way."""
    def without_styles(contents: dict[str, bytes]) -> None:
        del contents["xl/styles.xml"]
        contents["xl/_rels/workbook.xml.rels"] = contents["xl/_rels/workbook.xml.rels"].replace(b"/styles\"", b"/nostyles\"")

    original = rewritten(make_form(tmp_path / "s.xlsx"), without_styles)
    wb = load_workbook(write_errors_copy(original, tmp_path / "s.errors.xlsx", PROBLEMS[:2], "s.xlsx"))
    assert wb.sheetnames == [PROBLEMS_SHEET, "明细"]
    assert is_red(wb["明细"]["B7"]) and "[qty-positive]" in wb["明细"]["B7"].comment.text
    assert wb["明细"]["A7"].value == "A100"
