"""What a file's ``dq_file.message`` means to the bureau's staff, and what to do about it.

Ingest writes one bilingual message per file (``中文 / English``). Most are already the
catalogue's words ("缺少必填列：…"); a few carry a library's own text after a colon (a
corrupt xlsx: calamine's error; a malformed CSV: the CSV parser's; an accident: the error
class and reason), and a loaded file with rejected rows names the warehouse table
``dq_rejected_row``, which staff cannot open. The quality report shows each file through
`explain`:

- ``FILE_ADVICE`` below, one declarative entry per kind of message: the pattern it matches
  (a regular expression on the whole message), the plain sentence shown instead (Chinese,
  English; ``None`` keeps the message's own words, which are the catalogue's) and what to do
  (``{path}`` is the file's raw-relative path). A named group ``detail`` is the library's
  text: it is kept, in a smaller "detail" line, cleaned by `clean_detail` (no absolute path,
  no ``Context:`` trace, one line, short). The first matching entry wins.
- a message no entry matches is shown as it is (absolute paths stripped), with a generic
  action for a rejected file.

The row-level advice ("修正 tax/2025-03.csv 第 12 行的统一社会信用代码…") comes from the rule
catalogue (`schemas.rules.RULES`: ``fix_zh``/``fix_en``) and the column labels of the source
(`column_label`); the report builds it from ``dq_rejected_row``.

Nothing here reads a raw value: messages come from ``dq_file`` after the one masking
(`safe_cells.echoed_files`), and the report HTML-escapes every text this module returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from schemas.columns import REFERENCES, SOURCES

#: The folder the staff put files into, as the actions name it.
RAW = "raw/"
#: Longest detail line shown (the library's text; the full message stays in dq_file).
DETAIL_CHARS = 240
#: Where a library's text turns into a trace or hints for programmers: cut there (calamine's
#: "Context:" with its numbered frames and absolute paths; Polars' "You might want to try").
TRACE_MARKERS = ("Context:", "You might want to try")


@dataclass(frozen=True)
class FileAdvice:
    """One kind of dq_file message: its pattern, its plain sentence and what to do.

    ``zh``/``en``: the sentence shown (``{name}`` takes a named group of the pattern); None
    keeps the message's own words. ``do_zh``/``do_en``: the action (``{path}``: the file);
    empty when there is nothing to do about the file itself (its rows have their own actions).
    """

    kind: str
    pattern: str
    zh: str | None
    en: str | None
    do_zh: str
    do_en: str
    regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern, re.DOTALL))


_PUT_BACK_ZH = f"后重新放入 {RAW}"
_PUT_BACK_EN = f"and put it back into {RAW}"
_ROWS_ZH = "行号和原因见下方“三、拒收行”"
_ROWS_EN = "the rows and why are in section 3 below"

#: Message kinds, most specific first. Patterns follow the texts of pipelines/ingest
#: (readers.py, sources.py, references.py, inventory.py, limits.py, file_records.py) and the
#: older forms a warehouse may still hold (a library's text with a path and a trace).
FILE_ADVICE: tuple[FileAdvice, ...] = (
    # loaded, some rows rejected (sources.py; references.py appends the rows not listed)
    FileAdvice("rows_rejected",
               r"^(?P<n>\d+) 行被拒收，见 dq_rejected_row；其中 (?P<m>\d+) 行未逐条列出（每条规则只列前 (?P<cap>[\d,]+) 行）",
               f"{{n}} 行被拒收，{_ROWS_ZH}；其中 {{m}} 行未逐条列出（每条规则只列前 {{cap}} 行）",
               f"{{n}} rows rejected: {_ROWS_EN}; {{m}} of them are not listed (the first {{cap}} "
               "rows of each rule are)", "", ""),
    FileAdvice("rows_rejected", r"^(?P<n>\d+) 行被拒收，见 dq_rejected_row",
               f"{{n}} 行被拒收，{_ROWS_ZH}", f"{{n}} rows rejected: {_ROWS_EN}", "", ""),
    FileAdvice("rows_rejected",
               r"^(?P<m>\d+) 行拒收行未逐条列出（每条规则只列前 (?P<cap>[\d,]+) 行）",
               f"另有 {{m}} 行拒收行未逐条列出（每条规则只列前 {{cap}} 行）；已列出的{_ROWS_ZH}",
               f"{{m}} more rejected rows are not listed (the first {{cap}} of each rule are); "
               f"{_ROWS_EN}", "", ""),
    # a library's error: the plain sentence, its text kept as the detail
    FileAdvice("corrupt_xlsx", r"^Excel 文件损坏或无法读取 / corrupt or unreadable xlsx: ?(?P<detail>.*)$",
               "Excel 文件已损坏，或不是真正的 Excel 工作簿（例如把别的文件改成了 .xlsx 扩展名），无法读取",
               "the Excel file is damaged, or is not a real Excel workbook (another file renamed "
               "to .xlsx, for example): it cannot be read",
               f"用 Excel 或 WPS 打开 {{path}}：能打开的，另存为“Excel 工作簿（*.xlsx）”{_PUT_BACK_ZH}；"
               "打不开的，请向报送部门重新索取",
               f"open {{path}} in Excel or WPS: if it opens, save it as an Excel workbook (*.xlsx) "
               f"{_PUT_BACK_EN}; if it does not, ask the sending department for it again"),
    FileAdvice("malformed_csv", r"^CSV 格式错误，无法读取 / malformed CSV: ?(?P<detail>.*)$",
               "CSV 文件格式错误（例如引号不成对），无法读取",
               "the CSV file is malformed (an unmatched quote, for example): it cannot be read",
               f"用 Excel 打开 {{path}} 检查，另存为“CSV UTF-8（逗号分隔）”{_PUT_BACK_ZH}",
               f"open {{path}} in Excel, check it, save it as CSV UTF-8 (comma delimited) {_PUT_BACK_EN}"),
    FileAdvice("unreadable", r"^无法读取（.*?） / cannot be read \((?P<detail>.*)\)$",
               "文件无法读取（可能是权限或磁盘问题）",
               "the file cannot be read (file permissions or the disk, most likely)",
               "请数据管理员检查刷新程序能否读取 {path}，然后重新刷新",
               "ask the data manager to check that the refresh can read {path}, then refresh again"),
    FileAdvice("unexpected",
               r"^读取或校验此文件时出错.* / unexpected error while reading or validating this file "
               r"\((?P<detail>.*)\); it was not used",
               "读取或校验此文件时出现意外错误，此文件未使用，其他文件照常处理",
               "an unexpected error while reading or validating this file: it was not used, the "
               "other files load",
               "请把本报告和文件 {path} 交给数据管理员（系统维护人员）处理",
               "give this report and the file {path} to the data manager (the system's maintainers)"),
    # the catalogue's own words, with what to do
    FileAdvice("encoding", r"^无法识别文件编码", None, None,
               f"用 Excel 或记事本打开 {{path}}，另存为 UTF-8 编码的 CSV {_PUT_BACK_ZH}",
               f"open {{path}} in Excel or Notepad, save it as CSV in UTF-8 {_PUT_BACK_EN}"),
    FileAdvice("binary", r"^文件不是文本表格", None, None,
               "{path} 不是 CSV 文本：若其实是 Excel 文件，请在 Excel 中另存为 .xlsx；否则请重新导出为 CSV",
               "{path} is not CSV text: if it is an Excel file, save it as .xlsx from Excel; "
               "otherwise export it again as CSV"),
    FileAdvice("unsupported", r"^不支持的文件格式", None, None,
               f"把 {{path}} 另存为 .xlsx 或 .csv 放入 {RAW}，或者把它移出 {RAW}（例如说明文档）",
               f"save {{path}} as .xlsx or .csv into {RAW}, or move it out of {RAW} (a note, for example)"),
    FileAdvice("no_source", r"^文件不在任何来源文件夹中", None, None,
               "把 {path} 移到对应的来源文件夹：enterprise/、tax/、employment/、registry/ 或 reference/",
               "move {path} into its source folder: enterprise/, tax/, employment/, registry/ or reference/"),
    FileAdvice("not_reference", r"^不是已知的参考文件", None, None,
               "把 {path} 改为规定的参考文件名，或把它移出 reference/",
               "rename {path} to one of the reference file names, or move it out of reference/"),
    FileAdvice("superseded", r"^已被同名的较新文件", None, None,
               "无需处理（使用较新的同名文件）；旧文件 {path} 可以删除",
               "nothing to do (the newer file of that name is used); the old {path} may be deleted"),
    FileAdvice("no_header", r"^找不到表头", None, None,
               f"检查 {{path}} 的表头行：列名须为报送规范规定的列名（docs/contract.md）{_PUT_BACK_ZH}",
               "check the header row of {path}: the column names must be those of the contract "
               f"(docs/contract.md), {_PUT_BACK_EN}"),
    FileAdvice("missing_column", r"^缺少必填列", None, None,
               f"在 {{path}} 中补上缺少的列{_PUT_BACK_ZH}",
               f"add the missing column(s) to {{path}} {_PUT_BACK_EN}"),
    FileAdvice("money_unit", r"金额单位“[^”]*”无法识别", None, None,
               f"把 {{path}} 的金额单位改为元、千元、万元或亿元{_PUT_BACK_ZH}",
               f"write the money unit of {{path}} as 元, 千元, 万元 or 亿元 {_PUT_BACK_EN}"),
    FileAdvice("duplicate_header", r"^两个表头", None, None,
               f"删除 {{path}} 中重复的列（两个表头对应同一列）{_PUT_BACK_ZH}",
               f"remove the repeated column from {{path}} (two headers name one column) {_PUT_BACK_EN}"),
    FileAdvice("empty_sheet", r"^Excel 第一个工作表为空", None, None,
               f"把数据放在 {{path}} 的第一个工作表{_PUT_BACK_ZH}",
               f"put the data on the first sheet of {{path}} {_PUT_BACK_EN}"),
    FileAdvice("too_large", r"过大|超出 Excel 的上限", None, None,
               f"把 {{path}} 按月或按地区拆分成几个文件{_PUT_BACK_ZH}",
               f"split {{path}} by month or area into several files {_PUT_BACK_EN}"),
    FileAdvice("changed", r"^文件在读取过程中被修改", None, None,
               "无需处理：下次刷新时重新读取 {path}（刷新进行时请勿改动原始区）",
               "nothing to do: {path} is read again at the next refresh (do not change the raw "
               "area while a refresh runs)"),
    FileAdvice("gone", r"^文件在列出后被删除或移走", None, None,
               f"如果 {{path}} 不应移走，请放回 {RAW}",
               f"if {{path}} should not have gone, put it back into {RAW}"),
    FileAdvice("link", r"^符号链接", None, None,
               f"把 {{path}} 指向的文件本身复制到 {RAW}，并删除该快捷方式",
               f"copy the file itself into {RAW} in place of the link {{path}}"),
    FileAdvice("not_a_file", r"^(?:命名管道|套接字|设备文件|不是普通文件)", None, None,
               f"把 {{path}} 移出 {RAW}", f"remove {{path}} from {RAW}"),
    FileAdvice("bad_name", r"^文件名含控制字符", None, None,
               "重命名 {path}（只用常见的汉字、字母和数字）后重新放入",
               "rename {path} (plain Chinese characters, letters and digits) and put it back"),
    FileAdvice("duplicate", r"^与 .+ 内容完全相同", None, None,
               "无需处理；重复的 {path} 可以删除", "nothing to do; the duplicate {path} may be deleted"),
)

#: The action for a rejected file whose message no entry matches.
GENERIC_DO = (f"按说明修正 {{path}}{_PUT_BACK_ZH}", f"fix {{path}} as its message says {_PUT_BACK_EN}")

# An absolute path (POSIX or Windows, at least a folder and a name) standing on its own: at
# the start, or after a space, a quote, a bracket, a colon or "=" (never inside a relative
# path such as tax/2024/a.csv, nor "GB/T", nor the " / " between the two languages).
_ABS_PATH = re.compile(
    r"(?<![^\s'\"(（\[:：=“‘])(?:[A-Za-z]:)?[/\\](?:[^\s/\\:'\"<>|,;()（）”’]+[/\\])+[^\s/\\:'\"<>|,;()（）”’]+")


def strip_paths(text: str, path: str | None = None) -> str:
    """``text`` with every absolute path made raw-relative: ``path`` (the file's raw-relative
    path) when the absolute one ends with it, else what follows its last ``raw/`` folder,
    else its file name only."""

    def relative(m: re.Match) -> str:
        p = m.group(0).replace("\\", "/")
        if path and (p == path or p.endswith("/" + path)):
            return path
        if "/raw/" in p:
            return p.rsplit("/raw/", 1)[1]
        return p.rsplit("/", 1)[1]

    return _ABS_PATH.sub(relative, text)


def strip_trace(text: str) -> str:
    """``text`` up to the first of TRACE_MARKERS."""
    for marker in TRACE_MARKERS:
        text = text.split(marker, 1)[0]
    return text


def clean_detail(text: str | None, path: str | None = None) -> str:
    """A library's text as the detail line shows it: nothing from a trace marker on
    (`strip_trace`), absolute paths raw-relative (`strip_paths`), one line, at most DETAIL_CHARS."""
    if not text:
        return ""
    text = strip_trace(text)
    text = strip_paths(" ".join(text.split()), path).strip(" :;,")
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS - 1] + "…"


@dataclass(frozen=True)
class Explained:
    """A file's message as the report shows it."""

    kind: str | None  # the FILE_ADVICE kind; None: no entry matched
    zh: str  # the sentence (Chinese); for an unmatched message, the whole message
    en: str  # the sentence (English); "" when `zh` is the whole message
    detail: str  # the library's text, cleaned; "" when none
    do_zh: str  # what to do; "" when nothing is to be done about the file itself
    do_en: str


def _split(message: str) -> tuple[str, str]:
    zh, sep, en = message.partition(" / ")
    return (zh, en) if sep else (message, "")


def explain(message: str | None, path: str, status: str | None = None,
            rows_rejected: int | None = None) -> Explained:
    """The sentence, detail and action for one dq_file row (``message`` as echoed).

    A loaded file with rejected rows and no message (a reference file) reads as one whose
    message said so."""
    message = (message or "").strip()
    if not message and rows_rejected and status != "removed":
        message = f"{rows_rejected} 行被拒收，见 dq_rejected_row / {rows_rejected} rows rejected"
    if not message:
        return Explained(None, "", "", "", "", "")
    for a in FILE_ADVICE:
        m = a.regex.search(message)
        if m is None:
            continue
        groups = {k: v for k, v in m.groupdict().items() if k != "detail"}
        if a.zh is None:
            zh, en = _split(strip_paths(strip_trace(message).strip(), path))
        else:
            zh, en = a.zh.format(**groups), (a.en or "").format(**groups)
        detail = clean_detail(m.groupdict().get("detail"), path)
        return Explained(a.kind, zh, en, detail, a.do_zh.format(path=path), a.do_en.format(path=path))
    text = strip_paths(" ".join(strip_trace(message).split()), path)
    do_zh, do_en = GENERIC_DO if status == "rejected" else ("", "")
    return Explained(None, text, "", "", do_zh.format(path=path), do_en.format(path=path))


def column_label(source: str | None, path: str | None, column: str | None) -> str:
    """The Chinese name of a rejected row's column in its source (a key of several columns:
    主键（…）); the column's own name when the source does not say."""
    if not column:
        return ""
    spec = SOURCES.get(source or "")
    if spec is None and path:
        spec = REFERENCES.get(path.rsplit("/", 1)[-1])
    if spec is None:
        return column
    labels = {c.name: c.label_zh or c.name for c in spec.columns}
    if ";" in column:
        return "主键（" + "、".join(labels.get(c, c) for c in column.split(";")) + "）"
    return labels.get(column, column)
