"""The row rules of contract section 1, with the messages staff read in `dq_rejected_row`.

One entry per rule: its name as the warehouse records it, what it means in Chinese and
English, and what to do about it. Messages are built from these texts and never contain a
person ID (the value of a person-ID cell is never echoed).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    zh: str
    en: str
    fix_zh: str
    fix_en: str


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule("uscc_invalid", "统一社会信用代码无效（长度、字符或校验位不符合 GB 32100-2015）",
             "invalid unified social credit code (length, characters or GB 32100-2015 check character)",
             "请核对18位代码", "check the 18-character code"),
        Rule("person_id_invalid", "公民身份号码无效（须为18位且校验位符合 GB 11643）",
             "invalid citizen ID number (must be 18 characters with a valid GB 11643 check digit)",
             "请核对身份证号", "check the ID number"),
        Rule("unknown_town", "乡镇代码不在乡镇名录中", "town code not in the towns reference",
             "请填写9位统计用区划代码", "use the 9-digit statistical division code"),
        Rule("industry_invalid", "行业代码不是 GB/T 4754-2017 的小类",
             "industry code is not a GB/T 4754-2017 class",
             "请填写4位行业小类代码", "use the 4-digit industry class"),
        Rule("duplicate_key", "同一文件中主键重复（重复各行均被拒收）",
             "duplicate key within one file (every copy is rejected)",
             "请删除重复行后重新报送", "remove the duplicate rows and send the file again"),
        Rule("required_missing", "必填项为空", "required value is blank",
             "请补填该项", "fill in the value"),
        Rule("value_invalid", "无法按该列类型读取", "value cannot be read as its column's type",
             "请按规定格式填写", "use the format the contract gives"),
        Rule("out_of_range", "数值超出允许范围", "value outside its allowed range",
             "请核对数值和单位", "check the value and its unit"),
    )
}


def rule_message(rule: str, column_label: str, detail: str = "") -> str:
    """A bilingual message for one rejected cell: Chinese first, then English."""
    r = RULES[rule]
    extra = f"（{detail}）" if detail else ""
    return f"{column_label}：{r.zh}{extra}，{r.fix_zh}。 / {r.en}; {r.fix_en}."
