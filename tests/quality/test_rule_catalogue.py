"""The rule catalogue (`schemas/rules.py`) is the only declaration of a rule and of a flag.

Checked against the contract's own text (names and thresholds), against the code that emits
rules and flags, and by overriding a threshold in the catalogue (in this test only): the
comparison and the text stating it both follow.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "indicators"))
from synthetic_facts import employment_frame, enterprise_frame, tax_frame  # noqa: E402

from pipelines.ingest.validate import rejection_messages  # noqa: E402
from pipelines.quality import cross_source_flags, expectations  # noqa: E402
from pipelines.reports import quality_report  # noqa: E402
from schemas import rules  # noqa: E402
from schemas.columns import ENTERPRISE  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
T = "140823100"
NAMES = {str(n) for n in rules.RuleName} | {str(n) for n in rules.FlagName}


def _section(number: int) -> str:
    return CONTRACT.split(f"\n## {number}.")[1].split("\n## ")[0]


def _sources() -> dict[Path, ast.Module]:
    files = [p for d in ("pipelines", "schemas") for p in (ROOT / d).rglob("*.py") if "demo" not in p.parts]
    return {p.relative_to(ROOT): ast.parse(p.read_text(encoding="utf-8")) for p in files}


def _members_used(tree: ast.Module, enum: str) -> set[str]:
    return {n.attr for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == enum}


def test_the_catalogue_declares_the_contracts_rules_and_flags():
    row_rules = set(re.findall(r"`([a-z_]+)`", _section(1).split("Row rules")[1]))
    assert set(rules.RULES) == row_rules
    flags = set(re.findall(r"^\| `([a-z_]+)` \|", _section(8), re.M))
    assert flags == set(rules.FLAGS)
    assert {n for n, f in rules.FLAGS.items() if f.computed} == flags
    for entries in (rules.RULES, rules.FLAGS):
        for name, entry in entries.items():
            assert name == entry.name and type(name) is str
            texts = [v for k, v in vars(entry).items() if isinstance(v, str) and k not in ("name", "source")]
            assert all(t.strip() for t in texts), name


def test_thresholds_are_the_contracts():
    rows = {m[0]: m[1] for m in re.findall(r"^\| `([a-z_]+)` \| (.*) \|$", _section(8), re.M)}
    for name in ("tax_sales_gap", "employment_gap"):
        percent = re.search(r"more than (\d+)% of the larger", rows[name]).group(1)
        assert rules.FLAGS[name].threshold * 100 == pytest.approx(int(percent))
    assert "more than 10 times" in rows["yoy_jump"] and rules.FLAGS["yoy_jump"].threshold == 10
    assert "by more than 1 yuan" in rows["total_tax_mismatch"]
    assert rules.FLAGS["total_tax_mismatch"].threshold == 1


def test_a_name_is_a_literal_in_the_catalogue_only_and_every_member_used_exists():
    sources = _sources()
    for path, tree in sources.items():
        literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        if path != Path("schemas/rules.py"):
            assert not literals & NAMES, (path, literals & NAMES)
        assert _members_used(tree, "RuleName") <= set(rules.RuleName.__members__), path
        assert _members_used(tree, "FlagName") <= set(rules.FlagName.__members__), path
    # every rule is emitted by validation; flags.py emits exactly the computed flags
    validation = set().union(*(_members_used(sources[Path("pipelines/ingest") / f], "RuleName")
                               for f in ("cells.py", "validate.py", "references.py")))
    assert {str(rules.RuleName[m]) for m in validation} == set(rules.RULES)
    emitted = {str(rules.FlagName[m]) for m in _members_used(sources[Path("pipelines/quality/flags.py")], "FlagName")}
    assert emitted == {n for n, f in rules.FLAGS.items() if f.computed}


def test_gx_value_sets_are_the_catalogue():
    assert set(expectations.RULES) == set(rules.RULES)
    assert set(expectations.FLAG_RULES) == {n for n, f in rules.FLAGS.items() if f.computed}
    assert all(type(n) is str for n in (*expectations.RULES, *expectations.FLAG_RULES))


def test_messages_and_report_titles_come_from_the_catalogue(tmp_path):
    rej = pl.DataFrame({"source_row": [3, 4], "column": ["uscc", "year;uscc"],
                        "rule": ["uscc_invalid", "duplicate_key"], "value": ["X", "2024;X"]})
    messages = rej.select(rejection_messages(rej, "e.csv", ENTERPRISE)).to_series().to_list()
    for message, name in zip(messages, rej["rule"], strict=True):
        r = rules.RULES[name]
        assert message.endswith(f"{r.en} (value '{rej.filter(pl.col('rule') == name)['value'][0]}'); {r.fix_en}.")
        assert f"：{r.zh}（值" in message and f"，{r.fix_zh}。 / " in message
    page = quality_report._rejected_section(rej.with_columns(pl.lit("e.csv").alias("path")))
    for name in rej["rule"]:
        zh, en = rules.RULES[name].label
        assert f"{zh}</a> <span class=en>{en} ({name})" in page
        assert f"<h3 id='rule-{name}'>{zh} <span class=en>{en} — {name}," in page
    flags = pl.DataFrame({"source": ["enterprise"] * 3, "key": ["2024|A", "2024|A", "2024|B"],
                          "rule": ["tax_sales_gap", "yoy_jump", "report_missing"], "detail": ["d"] * 3})
    page = quality_report._flags_section(flags, pl.DataFrame({"uscc": ["A"], "name": ["甲"]}))
    assert "开票销售额与营业收入差异过大 <span class=en>invoice sales and revenue differ by &gt; 30% (tax_sales_gap)" in page
    assert "output value jumped &gt; 10× (unit error?) (yoy_jump)" in page
    zh, en = rules.FLAGS["report_missing"].label
    assert f"<li>{zh} <span class=en>(report_missing, enterprise 2024|B)</span>: d</li>" in page


def _override(monkeypatch, name: str, threshold: float) -> None:
    flag = rules.FLAGS[name]
    monkeypatch.setitem(rules.FLAGS, name, dataclasses.replace(flag, threshold=threshold))


def _flags(ents, tax=(), emp=()):
    return cross_source_flags(enterprise_frame(ents), tax_frame(list(tax)), employment_frame(list(emp)))


def _details(flags: pl.DataFrame, rule: str) -> dict[str, str]:
    return dict(flags.filter(pl.col("rule") == rule).select("key", "detail").iter_rows())


def test_a_threshold_changed_in_the_catalogue_changes_the_flag_and_its_text(monkeypatch):
    ents = [{"year": 2023, "uscc": u, "town_code": T, "revenue": 100.0, "employees": 10} for u in "AB"]
    ents += [{"year": 2022, "uscc": "C", "town_code": T, "output_value": 10.0},
             {"year": 2023, "uscc": "C", "town_code": T, "output_value": 60.0}]
    tax = [{"period": "2023-01", "uscc": "A", "invoice_sales": 72.0},  # 28 % apart
           {"period": "2023-01", "uscc": "B", "invoice_sales": 75.0},  # exactly 25 % apart
           {"period": "2023-02", "uscc": "A", "vat": 1.0, "corporate_income_tax": 1.0, "other_tax": 1.0,
            "total_tax": 3.6, "total_tax_reported": 3.6}]  # 0.60 yuan off
    emp = [{"period": "2023-12", "person_key": p, "employer_uscc": "A", "hukou_county_code": "140823"}
           for p in "pqrstu"]  # 6 insured against 10 employees: 40 % apart
    before = _flags(ents, tax, emp)
    for rule in ("tax_sales_gap", "employment_gap", "yoy_jump", "total_tax_mismatch"):
        assert _details(before, rule) == {}, rule

    _override(monkeypatch, "tax_sales_gap", 0.25)
    _override(monkeypatch, "employment_gap", 0.35)
    _override(monkeypatch, "yoy_jump", 5)
    _override(monkeypatch, "total_tax_mismatch", 0.5)
    after = _flags(ents, tax, emp)
    assert _details(after, "tax_sales_gap") == {"2023|A": (
        "年度开票销售额 72.0 元与营业收入 100.0 元相差超过较大者的25% / yearly invoice sales 72.0 yuan "
        "and revenue 100.0 yuan differ by more than 25% of the larger")}
    assert _details(after, "employment_gap") == {"2023|A": (
        "从业人员期末人数 10 人与12月参保人数 6 人相差超过较大者的35% / reported employees 10 and "
        "December insured persons 6 differ by more than 35% of the larger")}
    assert _details(after, "yoy_jump") == {"2023|C": (
        "工业总产值 60.0 元，上年 10.0 元，相差超过5倍（可能是单位错误）/ output value 60.0 yuan vs "
        "10.0 yuan the year before: more than fivefold (a likely unit error)")}
    assert list(_details(after, "total_tax_mismatch")) == ["2023-02|A"]
    assert "相差超过0.5元" in _details(after, "total_tax_mismatch")["2023-02|A"]
    assert rules.FLAGS["tax_sales_gap"].label[1] == "invoice sales and revenue differ by > 25%"


def test_contract_thresholds_in_the_flag_texts():
    assert rules.FLAGS["tax_sales_gap"].detail_format()[0].count("30%") == 2
    assert rules.FLAGS["employment_gap"].detail_format()[0].count("50%") == 2
    text, names = rules.FLAGS["yoy_jump"].detail_format()
    assert "相差超过10倍" in text and "more than tenfold" in text
    assert names == ["output_value", "before", "output_value", "before"]
    assert dataclasses.replace(rules.FLAGS["yoy_jump"], threshold=12.5).text("{fold}") == "12.5-fold"
