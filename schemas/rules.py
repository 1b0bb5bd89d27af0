"""The rule catalogue: every row rule (contract section 1) and every flag (section 8).

This module is the only declaration of a rule or a flag. Each entry gives its name as the
warehouse records it (`dq_rejected_row.rule`, `dq_flag.rule`), its Chinese and English
texts, what to do about it and, for a flag, its threshold as data. The readers:

- validation (`ingest/cells.py`, `ingest/validate.py`, `ingest/references.py`) names a rule
  by `RuleName` and builds the messages of `dq_rejected_row` from `Rule.zh/en/fix_*` (they
  never contain a person ID: the value of a person-ID cell is never echoed);
- `quality/flags.py` names a flag by `FlagName`, compares with `Flag.limit` and formats
  `dq_flag.detail` from `Flag.detail_format()`;
- the GX value sets of `dq_rejected_row.rule` and `dq_flag.rule` (`quality/expectations.py`);
- the quality report's rule and flag titles (`Rule.label_*`, `Flag.label_*`).

Adding a rule or a flag: a member of `RuleName` / `FlagName` and its entry below; then the code
that emits it. A flag's texts take its threshold through `{threshold}` (``30%``, ``10``,
``1``) and `{fold}` (``tenfold``), so that changing `threshold` changes the comparison and every
text that states it. Names in a flag's `detail` other than these are the values `flags.py`
passes for each flagged row.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Literal


class RuleName(StrEnum):
    """The row rules, by the names the warehouse records (contract section 1)."""

    USCC_INVALID = "uscc_invalid"
    PERSON_ID_INVALID = "person_id_invalid"
    UNKNOWN_TOWN = "unknown_town"
    INDUSTRY_INVALID = "industry_invalid"
    DUPLICATE_KEY = "duplicate_key"
    REQUIRED_MISSING = "required_missing"
    VALUE_INVALID = "value_invalid"
    OUT_OF_RANGE = "out_of_range"


class FlagName(StrEnum):
    """The cross-source flags, by the names the warehouse records (contract section 8)."""

    TAX_SALES_GAP = "tax_sales_gap"
    EMPLOYMENT_GAP = "employment_gap"
    YOY_JUMP = "yoy_jump"
    RD_EXCEEDS_REVENUE = "rd_exceeds_revenue"
    TOTAL_TAX_MISMATCH = "total_tax_mismatch"
    LITTLE_GIANT_NOT_SME = "little_giant_not_sme"
    REPORT_MISSING = "report_missing"


@dataclass(frozen=True)
class Rule:
    """A row rule: a rejected cell's meaning and what to do (the message of
    `dq_rejected_row`), and its short title (the quality report)."""

    name: RuleName
    zh: str
    en: str
    fix_zh: str
    fix_en: str
    label_zh: str
    label_en: str

    @property
    def label(self) -> tuple[str, str]:
        """The report's title of the rule: (Chinese, English)."""
        return self.label_zh, self.label_en


#: How a flag's threshold reads: a share of the larger value (0.30 is "30%"), a factor
#: (10 is "10", "tenfold"), or an amount in yuan (1.0 is "1").
ThresholdUnit = Literal["share", "times", "yuan"]

_FOLD = {2: "twofold", 3: "threefold", 4: "fourfold", 5: "fivefold", 6: "sixfold",
         7: "sevenfold", 8: "eightfold", 9: "ninefold", 10: "tenfold"}


@dataclass(frozen=True)
class Flag:
    """A cross-source flag (a warning in `dq_flag`, nothing rejected).

    `label_*` is its title in the quality report, `detail` the text of `dq_flag.detail`
    (Chinese, then English; values as ``{name}`` placeholders), `fix_*` what to do.
    `threshold` is data (read through `unit`): `limit` is the exact value the computation
    compares with. `computed` is False for a flag of the contract that `quality/flags.py`
    does not emit yet (it is then left out of the GX value set).
    """

    name: FlagName
    source: str
    label_zh: str
    label_en: str
    detail: str
    fix_zh: str
    fix_en: str
    threshold: float | None = None
    unit: ThresholdUnit | None = None
    computed: bool = True

    @property
    def limit(self) -> Fraction:
        """The threshold as an exact fraction (0.30 is 3/10), for comparisons in integers."""
        if self.threshold is None:
            raise ValueError(f"flag {self.name} has no threshold")
        return Fraction(str(self.threshold))

    def _threshold_fields(self) -> dict[str, str]:
        if self.threshold is None:
            return {}
        if self.unit == "share":
            return {"threshold": f"{self.threshold * 100:g}%"}
        text = f"{self.threshold:g}"
        if self.unit != "times":
            return {"threshold": text}
        fold = _FOLD.get(int(self.threshold)) if float(self.threshold).is_integer() else None
        return {"threshold": text, "fold": fold or f"{text}-fold"}

    def text(self, template: str) -> str:
        """`template` with the threshold written in (``{threshold}``, ``{fold}``)."""
        return template.format(**self._threshold_fields())

    @property
    def label(self) -> tuple[str, str]:
        """The report's title of the flag: (Chinese, English)."""
        return self.text(self.label_zh), self.text(self.label_en)

    def detail_format(self) -> tuple[str, list[str]]:
        """`dq_flag.detail` as a `pl.format` string, the threshold written in and each value
        a ``{}``; with the names of the values in their order (a name used twice appears twice)."""
        fields = self._threshold_fields()
        parts: list[str] = []
        names: list[str] = []
        for literal, field, _, _ in string.Formatter().parse(self.detail):
            parts.append(literal)
            if field is None:
                continue
            if field in fields:
                parts.append(fields[field])
            else:
                parts.append("{}")
                names.append(field)
        return "".join(parts), names


def _by_name(entries, names) -> dict:
    """The entries keyed by their names as plain strings; every name declared exactly once."""
    out = {str(e.name): e for e in entries}
    if len(out) != len(entries) or set(out) != {str(n) for n in names}:
        raise ValueError(f"the catalogue must declare each of {sorted(map(str, names))} exactly once")
    return out


RULES: dict[str, Rule] = _by_name((
    Rule(RuleName.USCC_INVALID, "统一社会信用代码无效（长度、字符或校验位不符合 GB 32100-2015）",
         "invalid unified social credit code (length, characters or GB 32100-2015 check character)",
         "请核对18位代码", "check the 18-character code",
         "统一社会信用代码无效", "invalid USCC"),
    Rule(RuleName.PERSON_ID_INVALID, "公民身份号码无效（须为18位且校验位符合 GB 11643）",
         "invalid citizen ID number (must be 18 characters with a valid GB 11643 check digit)",
         "请核对身份证号", "check the ID number",
         "公民身份号码无效", "invalid person ID"),
    Rule(RuleName.UNKNOWN_TOWN, "乡镇代码不在乡镇名录中", "town code not in the towns reference",
         "请填写9位统计用区划代码", "use the 9-digit statistical division code",
         "乡镇代码不在区划表中", "unknown town code"),
    Rule(RuleName.INDUSTRY_INVALID, "行业代码不是 GB/T 4754-2017 的小类",
         "industry code is not a GB/T 4754-2017 class",
         "请填写4位行业小类代码", "use the 4-digit industry class",
         "行业代码无效", "invalid industry code"),
    Rule(RuleName.DUPLICATE_KEY, "同一文件中主键重复（重复各行均被拒收）",
         "duplicate key within one file (every copy is rejected)",
         "请删除重复行后重新报送", "remove the duplicate rows and send the file again",
         "同一文件中主键重复", "duplicate key within a file"),
    Rule(RuleName.REQUIRED_MISSING, "必填项为空", "required value is blank",
         "请补填该项", "fill in the value",
         "必填项为空", "required value missing"),
    Rule(RuleName.VALUE_INVALID, "无法按该列类型读取", "value cannot be read as its column's type",
         "请按规定格式填写", "use the format the contract gives",
         "无法按类型读取", "value cannot be read as its type"),
    Rule(RuleName.OUT_OF_RANGE, "数值超出允许范围", "value outside its allowed range",
         "请核对数值和单位", "check the value and its unit",
         "超出取值范围", "value out of range"),
), RuleName)

FLAGS: dict[str, Flag] = _by_name((
    Flag(FlagName.TAX_SALES_GAP, "enterprise",
         "开票销售额与营业收入差异过大", "invoice sales and revenue differ by > {threshold}",
         "年度开票销售额 {sales} 元与营业收入 {revenue} 元相差超过较大者的{threshold} / yearly invoice "
         "sales {sales} yuan and revenue {revenue} yuan differ by more than {threshold} of the larger",
         "请核对营业收入与开票销售额的单位和口径", "check the unit and scope of revenue and invoice sales",
         threshold=0.30, unit="share"),
    Flag(FlagName.EMPLOYMENT_GAP, "enterprise",
         "从业人数与参保人数差异过大", "employees and insured persons differ by > {threshold}",
         "从业人员期末人数 {employees} 人与12月参保人数 {insured} 人相差超过较大者的{threshold} / "
         "reported employees {employees} and December insured persons {insured} differ by more "
         "than {threshold} of the larger",
         "请核对从业人员期末人数与社保参保情况", "check the reported employees against the enrolment",
         threshold=0.50, unit="share"),
    Flag(FlagName.YOY_JUMP, "enterprise",
         "产值同比异常（可能单位错误）", "output value jumped > {threshold}× (unit error?)",
         "工业总产值 {output_value} 元，上年 {before} 元，相差超过{threshold}倍（可能是单位错误）/ output "
         "value {output_value} yuan vs {before} yuan the year before: more than {fold} (a likely "
         "unit error)",
         "请核对工业总产值的单位（元、千元、万元、亿元）", "check the unit of the output value",
         threshold=10, unit="times"),
    Flag(FlagName.RD_EXCEEDS_REVENUE, "enterprise",
         "研发费用超过营业收入", "R&D expenditure exceeds revenue",
         "研发费用 {rd_expenditure} 元大于营业收入 {revenue} 元 / R&D expenditure {rd_expenditure} "
         "yuan exceeds revenue {revenue} yuan",
         "请核对研发费用和营业收入", "check R&D expenditure and revenue"),
    Flag(FlagName.TOTAL_TAX_MISMATCH, "tax",
         "税收合计与分项之和不符", "total tax differs from the sum of its parts",
         "税收合计 {total} 元与增值税+企业所得税+其他税收之和 {parts} 元相差超过{threshold}元 / total tax "
         "{total} yuan differs from vat + corporate income tax + other tax = {parts} yuan by more "
         "than {threshold} yuan",
         "请核对税收合计及各分项", "check the total tax and its parts",
         threshold=1.0, unit="yuan"),
    Flag(FlagName.LITTLE_GIANT_NOT_SME, "enterprise",
         "小巨人企业未标专精特新", "little giant without specialised SME",
         "小巨人企业未标为专精特新 / little giant not marked as a specialised SME (专精特新)",
         "请核对专精特新和小巨人认定", "check the specialised SME and little giant recognitions"),
    # Contract v4: key 'Y|uscc'; its detail gives the output value of Y-1 and the town.
    Flag(FlagName.REPORT_MISSING, "enterprise",
         "上年报送、本年未报送年报", "reported last year, no report this year",
         "上年已报送年报（工业总产值 {output_value} 元，乡镇 {town}），本年有税收或参保记录但未报送 / "
         "reported the year before (output value {output_value} yuan, town {town}) and has tax or "
         "enrolment rows this year, but no report",
         "请催报本年年报（不作插补）", "ask the enterprise for this year's report (nothing is imputed)"),
), FlagName)
