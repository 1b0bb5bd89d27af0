"""`townstat targets --template`: an Excel template for the county's yearly targets
(contract v4 section 6.2) that `pipelines.ingest.references` reads back as it is.

The workbook has three sheets, in this order (the reader takes the first):

- ``目标`` (the data sheet): one header row, the Chinese headers `TARGETS_REF` accepts
  (层级, 编号, 年度, 指标, 目标值; each with a bilingual comment), no data rows, and Excel
  data validation on the rows below: 层级 from a drop-down (乡镇/专业镇/town/specialty_town),
  编号 from a drop-down of every specialty-town id and town code, 指标 from a drop-down of the
  indicators of ind_town_year and ind_specialty_town_year, 年度 a whole number 2000-2100,
  目标值 a decimal;
- ``填写说明``: how to fill it in and where to put it, Chinese then English, worked examples
  (not on the data sheet, so they are never read as targets), every indicator with its Chinese
  name, unit and the levels it applies to, and the specialty towns;
- ``代码表`` (hidden): the long lists the drop-downs refer to (an inline list is limited to
  255 characters): ids with their names, indicator names.

The ids come from the warehouse (dim_town, dim_specialty_town) when one answers, else from the
reference files the pipeline would use: the raw area's reference/towns.csv (else the shipped
Shanxi towns) and reference/specialty_towns.csv, read by the pipeline's own reader.

Safe to open (contract v4 section 9): created with `safe_cells.XLSX_OPTIONS`, text written
with ``write_string`` (a formula-like text also carries a quote prefix).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import xlsxwriter
from xlsxwriter.utility import quote_sheetname

from pipelines.echo import printable
from pipelines.evaluation.progress import LEVEL_ZH
from pipelines.indicators.catalogue import indicators
from pipelines.ingest.references import TARGET_LEVELS, TARGET_TABLES
from pipelines.lineage.display import display_width
from pipelines.reports.safe_cells import XLSX_OPTIONS, looks_like_formula
from schemas.columns import TARGETS_REF

DATA_SHEET = "目标"
NOTE_SHEET = "填写说明"
LIST_SHEET = "代码表"
#: data rows that carry the drop-downs (below the header row)
TEMPLATE_ROWS = 2000
YEAR_MIN, YEAR_MAX = 2000, 2100
TARGET_LIMIT = 1e15  # |target| accepted by the decimal validation (yuan: far above any county)
UNIT_EN = {"元": "yuan", "人": "persons", "家": "enterprises", "件": "items", "ratio": "fraction"}
NOTE_WIDTH = 140  # display columns of the merged text cells of 填写说明 (for row heights)
HOW_ZH = {"元": "元（1 万元填 10000）", "人": "人", "家": "家", "件": "件", "ratio": "小数（5% 填 0.05）"}


def header_cells() -> list[str]:
    """The data sheet's headers: for each TARGETS_REF column its first Chinese accepted header
    (层级, 编号, 年度, 指标, 目标值), else its first accepted header."""
    out = []
    for col in TARGETS_REF.columns:
        chinese = [h for h in col.headers if not h.isascii()]
        out.append((chinese or list(col.headers) or [col.name])[0])
    return out


def level_choices() -> list[str]:
    """The level words the reader accepts, Chinese first (乡镇, 专业镇, town, specialty_town)."""
    return sorted(TARGET_LEVELS, key=lambda w: (w.isascii(), list(TARGET_LEVELS.values()).index(TARGET_LEVELS[w])))


def indicator_rows() -> pl.DataFrame:
    """Every indicator a target may name: name, Chinese name, unit, and the levels it applies
    to (ind_town_year's order first, then the specialty-town-only ones)."""
    rows: dict[str, dict] = {}
    for level, table in TARGET_TABLES.items():
        for ind in indicators(table):
            r = rows.setdefault(ind.name, {"indicator": ind.name, "name_zh": ind.name_zh,
                                           "unit": ind.unit, "town": False, "specialty_town": False})
            if ind.name_zh not in r["name_zh"]:  # 工业总产值 for a town is 总产值 for a specialty town
                r["name_zh"] += f"（{LEVEL_ZH[level]}：{ind.name_zh}）"
            r[level] = True
    return pl.DataFrame(list(rows.values()), schema={"indicator": pl.String, "name_zh": pl.String,
                                                     "unit": pl.String, "town": pl.Boolean,
                                                     "specialty_town": pl.Boolean})


@dataclass(frozen=True)
class TemplateChoices:
    """The ids a target may name, and where they came from."""

    towns: pl.DataFrame  # town_code, town_name, county_code, county_name
    specialty: pl.DataFrame  # id, name, county_code
    source_zh: str
    source_en: str

    def ids(self) -> pl.DataFrame:
        """(id, name, level): the specialty towns first, then the towns of their counties, then
        every other town, by code (the drop-down's order)."""
        home = set(self.specialty["county_code"].drop_nulls().to_list())
        towns = (self.towns.with_columns((~pl.col("county_code").is_in(list(home))).alias("_away"))
                 .sort("_away", "town_code"))
        return pl.concat([
            self.specialty.select("id", "name", pl.lit("专业镇").alias("level")),
            towns.select(pl.col("town_code").alias("id"),
                         pl.concat_str([pl.col("town_name"), pl.col("county_name")], separator="，",
                                       ignore_nulls=True).alias("name"),
                         pl.lit("乡镇").alias("level")),
        ])


_TOWN_COLUMNS = ["town_code", "town_name", "county_code", "county_name"]
_SPECIALTY_COLUMNS = ["id", "name", "county_code"]


def _from_warehouse(url: str) -> TemplateChoices | None:
    from pipelines.evaluation.target_terminal import warehouse_tables
    from pipelines.warehouse.read import read_table

    try:
        if not {"dim_town", "dim_specialty_town"} <= warehouse_tables(url):
            return None
        towns = read_table(url, "dim_town").select(_TOWN_COLUMNS)
        specialty = read_table(url, "dim_specialty_town").select(_SPECIALTY_COLUMNS)
    except Exception:  # noqa: BLE001 - a warehouse that does not answer: use the reference files
        return None
    if towns.is_empty():
        return None
    return TemplateChoices(towns, specialty, "数据仓库 dim_town、dim_specialty_town",
                           "the warehouse (dim_town, dim_specialty_town)")


def _from_raw_area(raw: Path | None) -> TemplateChoices:
    """The towns and specialty towns a refresh of ``raw`` would use, read by the pipeline's
    reader (towns.csv, else the shipped Shanxi list; specialty_towns.csv)."""
    from pipelines.ingest.inventory import RawFile, list_raw_area
    from pipelines.ingest.references import read_references

    files = []
    if raw is not None and raw.is_dir():
        for e in list_raw_area(raw):
            if e.problem is None and e.relpath in ("reference/towns.csv", "reference/specialty_towns.csv"):
                files.append(RawFile(e.path, e.relpath, e.source, e.size, e.mtime_ns // 1_000_000_000, ""))
    refs = read_references(sorted(files, key=lambda f: (f.mtime, f.relpath)))
    have = {f.relpath for f in files}
    towns_zh = (f"原始区 {raw}/reference/towns.csv" if "reference/towns.csv" in have
                else "系统自带的山西乡镇名录")
    towns_en = (f"{raw}/reference/towns.csv" if "reference/towns.csv" in have
                else "the shipped Shanxi towns list")
    spec_zh = (f"原始区 {raw}/reference/specialty_towns.csv" if "reference/specialty_towns.csv" in have
               else "（未找到 specialty_towns.csv，没有专业镇编号）")
    spec_en = (f"{raw}/reference/specialty_towns.csv" if "reference/specialty_towns.csv" in have
               else "(no specialty_towns.csv found: no specialty-town ids)")
    return TemplateChoices(refs.towns.select(_TOWN_COLUMNS), refs.specialty_towns.select(_SPECIALTY_COLUMNS),
                           f"{towns_zh}；{spec_zh}", f"{towns_en}; {spec_en}")


def template_choices(url: str | None, raw: Path | None) -> TemplateChoices:
    """The ids from the warehouse at ``url`` when it answers with its dimension tables, else
    from the reference files of the raw area ``raw`` (or the shipped towns)."""
    return (_from_warehouse(url) if url else None) or _from_raw_area(raw)


class _Writer:
    """Text cells written safely: always strings, a formula-like text with a quote prefix."""

    def __init__(self, wb: xlsxwriter.Workbook):
        self.plain = wb.add_format({"font_name": "宋体", "font_size": 11, "valign": "top"})
        self.quoted = wb.add_format({"font_name": "宋体", "font_size": 11, "valign": "top",
                                     "quote_prefix": True})

    def text(self, ws, row: int, col: int, value: str | None, fmt=None) -> None:
        shown = printable(value) or ""
        if looks_like_formula(shown):
            ws.write_string(row, col, shown, self.quoted)
        else:
            ws.write_string(row, col, shown, fmt or self.plain)


def _instructions(choices: TemplateChoices, year: int, n_towns: int, n_specialty: int) -> list[tuple[str, str]]:
    """(kind, text) paragraphs of the 填写说明 sheet: title, heading, or text."""
    headers = header_cells()
    h = dict(zip([c.name for c in TARGETS_REF.columns], headers, strict=True))
    return [
        ("title", "年度目标填报说明 / How to fill in the targets template"),
        ("heading", "一、用途"),
        ("text", "本表用于填报县里给各乡镇、各专业镇下达的年度目标（实施方案 四(五)、五(四)）。刷新数据仓库后，"
                 f"目标及完成进度写入 eval_target，可用 townstat targets --year {year} 查看。"),
        ("heading", "二、怎样填写"),
        ("text", f"在工作表“{DATA_SHEET}”中，从第 2 行起每行填一项目标，五列都必填，不要改动第 1 行表头，"
                 "也不要在表中加合计行、说明行或空列。"),
        ("text", f"{h['level']}：从下拉列表选择“乡镇”或“专业镇”（也可写 town / specialty_town）。"),
        ("text", f"{h['id']}：乡镇填 9 位统计用区划代码（12 位且以 000 结尾的代码会截为 9 位），专业镇填专业镇编号"
                 "（specialty_towns.csv 中的 id）。下拉列表中先列专业镇编号，再列乡镇代码；编号与名称的对照见"
                 f"隐藏工作表“{LIST_SHEET}”（右键工作表标签，选“取消隐藏”）。"),
        ("text", f"{h['year']}：4 位数字年份，如 {year}；不能早于 2000 年，也不能晚于刷新时的当年"
                 "（次年的目标请到次年再放入原始区）。"),
        ("text", f"{h['indicator']}：从下拉列表选择指标的英文名（如 tax_total），对照下表的中文名；乡镇只能用"
                 "“乡镇”一栏为“是”的指标，专业镇只能用“专业镇”一栏为“是”的指标。"),
        ("text", f"{h['target']}：按指标本身的单位填写纯数字，不带单位、不带百分号：金额以元计（1 万元填 10000，"
                 "1 亿元填 100000000），人数以人计，企业数以家计，专利以件计；比率和增速填小数"
                 "（5% 填 0.05）。可以填 0。"),
        ("text", "同一层级、编号、年度、指标只能出现一次，重复的各行都不会被采用。"),
        ("heading", "三、放到哪里"),
        ("text", "填好后以 targets.xlsx 为文件名保存，放入原始区的 reference 文件夹：raw/reference/targets.xlsx"
                 "（也可另存为 UTF-8 或 GBK 编码的 raw/reference/targets.csv），然后运行 townstat refresh。"
                 "reference 文件夹中的 targets.csv 与 targets.xlsx 只有修改时间较新的一个生效，请把全部年度、"
                 "全部目标放在同一个文件里。"),
        ("text", "不被采用的行及原因记录在数据质量报告中（townstat quality-report）：unknown_town 编号不存在；"
                 "value_invalid 层级、指标或目标值无法识别；required_missing 有空白单元格；duplicate_key 重复；"
                 "out_of_range 年度超出范围。"),
        ("heading", "四、示例（只在本页，不要填进目标表）"),
        ("examples", ""),
        ("heading", "五、编号来源"),
        ("text", f"本模板的编号取自：{choices.source_zh}；共 {n_specialty} 个专业镇、{n_towns} 个乡镇。"),
        ("heading", "English"),
        ("text", "This workbook collects the county's yearly targets for towns and specialty towns. On the "
                 f"sheet '{DATA_SHEET}', fill one target per row from row 2, every column required, keeping "
                 f"the header row: {h['level']} (level: 乡镇 town or 专业镇 specialty town; town / "
                 f"specialty_town also accepted), {h['id']} (a 9-digit town code, or a specialty-town id; "
                 f"all of them in the drop-down and, with their names, on the hidden sheet '{LIST_SHEET}'), "
                 f"{h['year']} (year, e.g. {year}, not later than the current year), {h['indicator']} "
                 "(indicator: its English name from the drop-down; see the table below for the levels "
                 f"it applies to) and {h['target']} (target: a plain number in the indicator's own unit: "
                 "yuan for money, so 10,000 yuan is 10000; persons; enterprises; items; a ratio or a "
                 "growth rate as a fraction, 5% is 0.05)."),
        ("text", "Save it as raw/reference/targets.xlsx (or as raw/reference/targets.csv, UTF-8 or GBK) "
                 "and run townstat refresh. Only the newer of targets.csv and targets.xlsx is in force, so "
                 "keep every target in one file. Rows that cannot be used are listed in the quality report "
                 "(townstat quality-report) with their rule; townstat targets --year Y shows the progress. "
                 f"Ids from {choices.source_en}: {n_specialty} specialty towns, {n_towns} towns. The "
                 "examples above are on this sheet only: never copy them into the data sheet as they are."),
    ]


def write_target_template(out: Path, choices: TemplateChoices, year: int) -> Path:
    """Write the targets template to ``out`` (.xlsx); ``year`` is used in the examples."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ids = choices.ids()
    inds = indicator_rows()
    wb = xlsxwriter.Workbook(str(out), dict(XLSX_OPTIONS))
    wb.set_properties({"title": "年度目标填报模板 / targets template", "company": "统计局",
                       "comments": "raw/reference/targets.xlsx (contract section 6.2)"})
    w = _Writer(wb)
    head = wb.add_format({"font_name": "宋体", "font_size": 11, "bold": True, "bg_color": "#DDEBF7",
                          "border": 1, "align": "center"})
    text_fmt = wb.add_format({"font_name": "宋体", "font_size": 11, "num_format": "@"})
    bold = wb.add_format({"font_name": "宋体", "font_size": 12, "bold": True})
    title = wb.add_format({"font_name": "宋体", "font_size": 14, "bold": True})
    wrap = wb.add_format({"font_name": "宋体", "font_size": 11, "text_wrap": True, "valign": "top"})

    data = wb.add_worksheet(DATA_SHEET)
    notes = wb.add_worksheet(NOTE_SHEET)
    lists = wb.add_worksheet(LIST_SHEET)

    # -- the hidden lists the drop-downs refer to ---------------------------------------------
    for c, h in enumerate(["编号 id", "名称 name", "层级 level", "", "指标 indicator", "中文名", "单位 unit"]):
        if h:
            w.text(lists, 0, c, h, head)
    for i, (ident, name, level) in enumerate(ids.select("id", "name", "level").iter_rows(), start=1):
        w.text(lists, i, 0, ident)
        w.text(lists, i, 1, name)
        w.text(lists, i, 2, level)
    for i, r in enumerate(inds.iter_rows(named=True), start=1):
        w.text(lists, i, 4, r["indicator"])
        w.text(lists, i, 5, r["name_zh"])
        w.text(lists, i, 6, r["unit"])
    lists.set_column(0, 0, 16)
    lists.set_column(1, 1, 30)
    lists.set_column(4, 5, 26)
    lists.hide()
    sheet = quote_sheetname(LIST_SHEET)
    id_range = f"={sheet}!$A$2:$A${max(ids.height, 1) + 1}"
    ind_range = f"={sheet}!$E$2:$E${inds.height + 1}"

    # -- the data sheet: headers, column formats, drop-downs ----------------------------------
    headers = header_cells()
    comments = [
        "层级：乡镇 或 专业镇（也可写 town / specialty_town）\nlevel: town or specialty town",
        "乡镇填 9 位区划代码，专业镇填专业镇编号（见下拉列表）\ntown code (9 digits) or specialty-town id",
        f"年度，如 {year}\nyear, e.g. {year}",
        "指标英文名，见“填写说明”\nindicator (English name), see 填写说明",
        "目标值：按指标的单位填纯数字；金额以元计，比率填小数\ntarget in the indicator's unit: yuan, "
        "persons, enterprises; a ratio as a fraction",
    ]
    for c, (h, note) in enumerate(zip(headers, comments, strict=True)):
        data.write_string(0, c, h, head)
        data.write_comment(0, c, note, {"x_scale": 2.2, "y_scale": 1.4})
    data.set_column(0, 0, 12, text_fmt)
    data.set_column(1, 1, 20, text_fmt)
    data.set_column(2, 2, 10)
    data.set_column(3, 3, 30, text_fmt)
    data.set_column(4, 4, 20)
    data.freeze_panes(1, 0)
    first, last = 1, TEMPLATE_ROWS

    def validate(col: int, options: dict) -> None:
        data.data_validation(first, col, last, col, {"error_type": "stop", **options})

    validate(0, {"validate": "list", "source": level_choices(),
                 "input_title": "层级 level", "input_message": "乡镇 或 专业镇 / town or specialty town",
                 "error_title": "层级无效 / invalid level",
                 "error_message": "请从下拉列表选择：乡镇、专业镇（或 town、specialty_town）。/ Choose from the list."})
    validate(1, {"validate": "list", "source": id_range,
                 "input_title": "编号 id", "input_message": "乡镇代码或专业镇编号（下拉选择）/ town code or "
                                                         "specialty-town id",
                 "error_title": "编号不存在 / unknown id",
                 "error_message": "不是已知的乡镇代码或专业镇编号，请从下拉列表选择。/ Not a known town code or "
                                  "specialty-town id: choose from the list."})
    validate(2, {"validate": "integer", "criteria": "between", "minimum": YEAR_MIN, "maximum": YEAR_MAX,
                 "input_title": "年度 year", "input_message": f"4 位年份，如 {year} / a year, e.g. {year}",
                 "error_title": "年度无效 / invalid year",
                 "error_message": f"年度应为 {YEAR_MIN}-{YEAR_MAX} 之间的整数。/ A whole number from {YEAR_MIN} "
                                  f"to {YEAR_MAX}."})
    validate(3, {"validate": "list", "source": ind_range,
                 "input_title": "指标 indicator", "input_message": "指标英文名（下拉选择），中文名见“填写说明”"
                                                                 " / indicator name, see 填写说明",
                 "error_title": "指标无效 / unknown indicator",
                 "error_message": "请从下拉列表选择指标。/ Choose an indicator from the list."})
    validate(4, {"validate": "decimal", "criteria": "between", "minimum": -TARGET_LIMIT,
                 "maximum": TARGET_LIMIT,
                 "input_title": "目标值 target", "input_message": "纯数字；金额以元计，比率填小数（5% 填 0.05）"
                                                                " / a number: yuan, persons; a ratio as a "
                                                                "fraction",
                 "error_title": "目标值无效 / invalid target",
                 "error_message": "目标值应为数字（不带单位和百分号）。/ The target must be a plain number."})
    data.activate()

    # -- 填写说明 ------------------------------------------------------------------------------
    specialty = ids.filter(pl.col("level") == "专业镇")
    towns = ids.filter(pl.col("level") == "乡镇")
    example_town = towns["id"][0] if towns.height else "140823100"
    example_specialty = specialty["id"][0] if specialty.height else None
    paragraphs = _instructions(choices, year, towns.height, specialty.height)
    notes.set_column(0, 0, 14)
    notes.set_column(1, 1, 22)
    notes.set_column(2, 2, 10)
    notes.set_column(3, 3, 26)
    notes.set_column(4, 4, 18)
    notes.set_column(5, 6, 30)
    row = 0
    for kind, text in paragraphs:
        if kind == "title":
            w.text(notes, row, 0, text, title)
        elif kind == "heading":
            row += 1
            w.text(notes, row, 0, text, bold)
        elif kind == "text":
            notes.merge_range(row, 0, row, 6, "", wrap)
            w.text(notes, row, 0, text, wrap)
            notes.set_row(row, 16 * max(1, -(-display_width(text) // NOTE_WIDTH)))
        else:  # the worked examples: a small table like the data sheet, with what each means
            for c, h in enumerate([*headers, "含义 meaning"]):
                w.text(notes, row, c, h, head)
            examples = [("乡镇", example_town, year, "tax_total", 12_000_000,
                         "税收合计目标 1,200 万元 / tax 12 million yuan")]
            examples.append(("乡镇", example_town, year, "insured_persons", 5_000,
                             "参保人数目标 5,000 人 / 5,000 persons insured"))
            if example_specialty is not None:
                examples.append(("专业镇", example_specialty, year, "output_value", 500_000_000,
                                 "总产值目标 5 亿元 / output 500 million yuan"))
                examples.append(("专业镇", example_specialty, year, "rd_intensity", 0.03,
                                 "研发投入强度目标 3% / R&D intensity 3%"))
            for ex in examples:
                row += 1
                w.text(notes, row, 0, ex[0])
                w.text(notes, row, 1, ex[1])
                notes.write_number(row, 2, ex[2])
                w.text(notes, row, 3, ex[3])
                notes.write_number(row, 4, ex[4])
                w.text(notes, row, 5, ex[5])
        row += 1

    row += 1
    w.text(notes, row, 0, "指标一览 / indicators", bold)
    row += 1
    for c, h in enumerate(["指标 indicator", "中文名", "单位 unit", "目标值填写", "乡镇 town", "专业镇 specialty"]):
        w.text(notes, row, c, h, head)
    for r in inds.iter_rows(named=True):
        row += 1
        w.text(notes, row, 0, r["indicator"])
        w.text(notes, row, 1, r["name_zh"])
        w.text(notes, row, 2, f"{r['unit']} {UNIT_EN.get(r['unit'], r['unit'])}"
               if r["unit"] != "ratio" else "比率 fraction")
        w.text(notes, row, 3, HOW_ZH.get(r["unit"], r["unit"]))
        w.text(notes, row, 4, "是" if r["town"] else "否")
        w.text(notes, row, 5, "是" if r["specialty_town"] else "否")

    row += 2
    w.text(notes, row, 0, "专业镇 / specialty towns", bold)
    row += 1
    w.text(notes, row, 0, "编号 id", head)
    w.text(notes, row, 1, "名称 name", head)
    if specialty.is_empty():
        row += 1
        w.text(notes, row, 0, "（无 / none）")
    for ident, name in specialty.select("id", "name").iter_rows():
        row += 1
        w.text(notes, row, 0, ident)
        w.text(notes, row, 1, name)
    wb.close()
    return out
