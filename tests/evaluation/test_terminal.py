"""The evaluation as a terminal table (pipelines/evaluation/terminal.py) on the county demo
warehouse, SQLite and PostgreSQL: names, scores and ranks as in eval_specialty_town, and
every line of a block as wide as the others on a terminal."""

from __future__ import annotations

import unicodedata

import polars as pl
import pytest

from pipelines.evaluation.terminal import render_evaluation
from pipelines.warehouse.read import read_table
from tests.lineage.demo_warehouse import published_demo


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request):
    return published_demo(request, request.param)


def width(text: str) -> int:
    """Terminal columns, computed here independently of the renderer."""
    total = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def blocks(text: str) -> list[list[str]]:
    return [b.splitlines() for b in text.strip("\n").split("\n\n")]


@pytest.mark.parametrize("year", [2022, 2024])
def test_names_scores_and_ranks_are_the_warehouse_s(demo, year):
    wide = read_table(demo.url, "eval_specialty_town").filter(pl.col("year") == year)
    names = dict(read_table(demo.url, "dim_specialty_town").select("id", "name").iter_rows())
    text = render_evaluation(demo.url, year)
    sets = sorted(wide["criteria_set"].unique().to_list())
    parts = blocks(text)
    assert len(parts) == len(sets) == 2
    for set_name, lines in zip(sets, parts, strict=True):
        assert set_name in "\n".join(lines[:4])
        header = next(ln for ln in lines if "专业镇" in ln and "得分" in ln)
        columns = [c.strip() for c in header.strip("|").split("|")]
        assert columns[0] == "专业镇"  # Chinese names first
        rows = wide.filter(pl.col("criteria_set") == set_name)
        for r in rows.iter_rows(named=True):
            line = next(ln for ln in lines if ln.startswith(f"| {names[r['specialty_town_id']]} "))
            cells = dict(zip(columns, [c.strip() for c in line.strip("|").split("|")], strict=True))
            assert cells["得分"] == f"{r['score']:.2f}"
            assert cells["排名"] == str(r["rank"])
            assert cells["全部达标"] == ("✓" if r["all_met"] else "✗")
            assert cells["龙头企业"] == str(r["leading_enterprises"])
            assert cells["产值(亿元)"].startswith(f"{r['output_value'] / 1e8:,.2f}")
        # rows in rank order
        shown = [ln for ln in lines if any(ln.startswith(f"| {n} ") for n in names.values())]
        assert len(shown) == rows.height == 3
        ranks = [int(ln.strip("|").split("|")[columns.index("排名")]) for ln in shown]
        assert ranks == sorted(ranks)


def test_every_line_of_a_block_has_the_same_width(demo):
    text = render_evaluation(demo.url, 2024)
    for lines in blocks(text):
        widths = {width(ln) for ln in lines}
        assert len(widths) == 1, sorted(widths)
        assert any(unicodedata.east_asian_width(ch) == "W" for ch in "".join(lines))
    # no ambiguous-width character: the layout is the same in a CJK-locale terminal
    assert not [ch for ch in text if unicodedata.east_asian_width(ch) == "A"]


def test_footer_states_thresholds_and_data_date(demo):
    text = render_evaluation(demo.url, 2024, "municipal_yuncheng")
    assert len(blocks(text)) == 1 and "provincial_shanxi" not in text
    for needle in ("5.00 亿元", "2.00 亿元", "1.00 亿元", "50%", "2,000 人", "数据截至 2025-01-15",
                   "统计年度 2024", "66.67"):
        assert needle in text, needle


def test_a_year_without_evaluation_says_so_in_both_languages(demo):
    text = render_evaluation(demo.url, 2019)
    assert "2019 年没有专业镇评价结果" in text and "No specialty-town evaluation for 2019" in text
    assert "2022、2023、2024" in text and "2022, 2023, 2024" in text
    other = render_evaluation(demo.url, 2024, "no_such_set")
    assert "municipal_yuncheng" in other and "Criteria sets available" in other
