"""The dashboard's target-progress and gap charts, on a small hand-built warehouse (real SQLite,
published through the project's own `publish`, numbers chosen by hand)."""

from __future__ import annotations

import html

import polars as pl
import pytest

from pipelines.evaluation.gap import gap_lines
from pipelines.evaluation.progress import STATUS_ZH
from pipelines.reports.dashboard import (
    LAGGARD_COLOUR,
    NO_DATA_COLOUR,
    NO_TARGETS,
    OK_COLOUR,
    build_figures,
    write_dashboard,
)
from pipelines.warehouse import polars_schema, publish, read_table

HOSTILE = "<b>x</b>"
ESCAPED = "&lt;b&gt;x&lt;/b&gt;"
#: every table the dashboard reads; the ones not written below are published empty
READ = ["pub_town_year", "dim_town", "dim_specialty_town", "eval_criterion", "eval_specialty_town",
        "ind_specialty_town_year", "eval_gap", "eval_target", "dq_file"]


def _frame(name: str, rows: list[dict]) -> pl.DataFrame:
    schema = polars_schema(name)
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)


def _target(level, id_, year, ind, target, actual=None, latest=None, to_date=None, prev=None):
    return dict(level=level, id=id_, year=year, indicator=ind, target=target, actual=actual,
                attainment=None if actual is None or target <= 0 else actual / target,
                met=actual is not None and actual >= target, latest_period=latest,
                to_date=to_date, to_date_prev=prev)


def _gap(cs, sid, year, ind, value, threshold, met):
    shortfall = 0.0 if threshold is None else threshold if value is None else max(0.0, threshold - value)
    return dict(criteria_set=cs, specialty_town_id=sid, year=year, indicator=ind, value=value,
                threshold=threshold, shortfall=shortfall, met=met)


TOWNS = [dict(town_code="140823101", town_name="甲镇", county_code="140823"),
         dict(town_code="140823102", town_name="乙镇", county_code="140823")]
SPECIALTY = [dict(id="S1", name=HOSTILE, county_code="140823", category="manufacturing",
                  heritage=False, national_market=False),
             dict(id="S2", name="丙镇", county_code="140823", category="manufacturing",
                  heritage=False, national_market=True)]
TARGETS = [
    # 2025, the latest target year, shown
    _target("town", "140823101", 2025, "output_value", 1e8, actual=2.5e7),  # 25 %, missed
    _target("town", "140823101", 2025, "tax_total", 1.2e7, latest="2025-06", to_date=3e6,
            prev=2e6),  # flow: 25 % of the year, pace 50 %: behind; 累计同比 +50 %
    _target("town", "140823102", 2025, "tax_total", 1.2e7, latest="2025-06", to_date=9e6,
            prev=1e7),  # 75 % against a pace of 50 %: on track; 累计同比 -10 %
    _target("town", "140823102", 2025, "insured_persons", 1000, latest="2025-06",
            to_date=1200, prev=None),  # stock: 120 %, on track
    _target("specialty_town", "S1", 2025, "employees", 2000, actual=2500),  # 125 %, met
    _target("specialty_town", "S1", 2025, "output_value", 5e8),  # no data yet
    # an earlier year, not shown
    _target("town", "140823101", 2024, "output_value", 1e8, actual=1e7),
]
GAPS = [
    _gap("municipal_yuncheng", "S1", 2025, "supporting_enterprises", 7, 10, False),  # 3 of 10: 30 %
    _gap("municipal_yuncheng", "S1", 2025, "output_value", 6e8, 5e8, True),  # met: 0
    _gap("municipal_yuncheng", "S1", 2025, "market_share", None, 0.5, False),  # no data: 100 %
    _gap("municipal_yuncheng", "S2", 2025, "supporting_enterprises", 12, 10, True),
    _gap("municipal_yuncheng", "S2", 2025, "output_value", 4e8, 5e8, False),  # 1 亿 of 5: 20 %
    _gap("municipal_yuncheng", "S2", 2025, "market_share", 0.1, None, True),  # national market: 0
    _gap("provincial_shanxi", "S1", 2025, "supporting_enterprises", 7, 20, False),  # 13 of 20: 65 %
    _gap("provincial_shanxi", "S2", 2025, "supporting_enterprises", 25, 20, True),
    _gap("municipal_yuncheng", "S1", 2024, "supporting_enterprises", 1, 10, False),  # not shown
]


@pytest.fixture(scope="module")
def url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('goals') / 'warehouse.sqlite'}"
    given = {"dim_town": TOWNS, "dim_specialty_town": SPECIALTY, "eval_target": TARGETS, "eval_gap": GAPS}
    publish(url, {name: _frame(name, given.get(name, [])) for name in READ})
    return url


def test_target_progress_bars_pace_and_laggards(url):
    fig = dict(build_figures(url))["target_progress"]
    bars = fig.data[0]
    assert list(bars.y) == [f"{ESCAPED}·从业人员期末人数", f"{ESCAPED}·总产值", "甲镇·工业总产值",
                            "甲镇·税收合计", "乙镇·参保人数", "乙镇·税收合计"]
    assert list(bars.x) == pytest.approx([125.0, None, 25.0, 25.0, 120.0, 75.0])
    # the laggard colour on exactly the laggards (未达标 甲镇 output value, 进度落后 甲镇 tax)
    assert list(bars.marker.color) == [OK_COLOUR, NO_DATA_COLOUR, LAGGARD_COLOUR, LAGGARD_COLOUR,
                                       OK_COLOUR, OK_COLOUR]
    assert list(bars.text) == ["125.0%", STATUS_ZH["no_data"], "25.0%", "25.0%", "120.0%", "75.0%"]
    assert [(a.y, a.text) for a in fig.layout.annotations if a.x == 0] == [
        (f"{ESCAPED}·总产值", STATUS_ZH["no_data"])]  # the words where no bar carries them
    # the pace mark: expected_to_date / target for the flow still in progress (June: 50 %)
    pace = fig.data[1]
    assert list(pace.y) == list(bars.y)
    assert list(pace.x) == pytest.approx([None, None, None, 50.0, None, 50.0])
    assert [s.x0 for s in fig.layout.shapes] == [100]  # the 100 % line
    assert fig.layout.title.text.startswith("2025年度目标进度")
    hover = bars.hovertext
    assert "目标 target：1,200.00 万元" in hover[3]
    assert "截至 2025-06 to date：300.00 万元（25.0%）" in hover[3]
    assert "应达进度 expected：600.00 万元" in hover[3]
    assert "累计同比 yoy to date：+50.0%" in hover[3]
    assert "状态 status：进度落后 / behind" in hover[3]
    assert "累计同比 yoy to date：-10.0%" in hover[5]
    assert "实际 actual：2,500 人（125.0%）" in hover[0]
    assert "状态 status：已达标 / met" in hover[0]
    assert "状态 status：未达标 / missed" in hover[2]
    assert "截至 2025-06 to date：1,200 人（120.0%）" in hover[4]


def test_gap_shortfall_over_threshold_per_set(url):
    fig = dict(build_figures(url))["gap"]
    by = {(t.legendgroup, t.name): t for t in fig.data}
    # in the catalogue's order, the order of the criteria
    assert list(by) == [("municipal_yuncheng", "关联配套企业数"), ("municipal_yuncheng", "总产值"),
                        ("municipal_yuncheng", "全省市场占有率"), ("provincial_shanxi", "关联配套企业数")]
    x = [ESCAPED, "丙镇"]
    assert list(by["municipal_yuncheng", "关联配套企业数"].x) == x
    assert list(by["municipal_yuncheng", "关联配套企业数"].y) == pytest.approx([30.0, 0.0])
    assert list(by["municipal_yuncheng", "总产值"].y) == pytest.approx([0.0, 20.0])
    assert list(by["municipal_yuncheng", "全省市场占有率"].y) == pytest.approx([100.0, 0.0])
    assert list(by["provincial_shanxi", "关联配套企业数"].y) == pytest.approx([65.0, 0.0])
    assert list(by["municipal_yuncheng", "总产值"].text) == ["✓", "20%"]
    # the first set is shown; the dropdown switches to the other
    assert [t.visible for t in fig.data] == [True, True, True, False]
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["municipal_yuncheng", "provincial_shanxi"]
    assert buttons[1].args[0]["visible"] == [False, False, False, True]
    assert fig.layout.title.text.startswith("2025年各专业镇认定差距")
    # the words are gap_lines', escaped, in every bar's hover of that town
    gap = read_table(url, "eval_gap")  # what the dashboard reads, in the warehouse's order
    zh, en = gap_lines(gap.filter(pl.col("specialty_town_id") == "S1"), {"S1": HOSTILE},
                       "municipal_yuncheng", 2025)
    assert zh == f"{HOSTILE}：还差 3 家关联配套企业、全省市场占有率还差 50.00 个百分点（无数据）"
    words = html.escape(zh, quote=False).replace("、", "、<br>")
    for name in ("关联配套企业数", "总产值", "全省市场占有率"):
        hover = by["municipal_yuncheng", name].hovertext
        assert words in hover[0] and html.escape(en, quote=False).replace("; ", ";<br>") in hover[0]
        assert "丙镇：" in hover[1] and "丙镇：" not in hover[0]
    assert "差距 shortfall：3 家（30.0%）✗" in by["municipal_yuncheng", "关联配套企业数"].hovertext[0]
    assert "门槛 threshold：-" in by["municipal_yuncheng", "全省市场占有率"].hovertext[1]


def _strings(obj):
    """Every string of a figure's JSON structure (labels, hover texts, titles, buttons)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)) or hasattr(obj, "tolist"):
        for v in (obj.tolist() if hasattr(obj, "tolist") else obj):
            yield from _strings(v)


def test_hostile_names_are_escaped(url, tmp_path):
    figs = dict(build_figures(url))
    for name in ("target_progress", "gap"):
        texts = list(_strings(figs[name].to_plotly_json()))
        assert any(ESCAPED in t for t in texts) and not any("<b>x" in t for t in texts), name
    page = write_dashboard(url, tmp_path / "dashboard.html").read_text(encoding="utf-8")
    assert "<b>x" not in page
    assert page.count("<script") == 1 + len(figs)
    assert 'data-chart="target_progress"' in page and 'data-chart="gap"' in page


def test_no_targets_and_no_gap_show_a_note(tmp_path):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    publish(url, {name: _frame(name, TOWNS if name == "dim_town" else []) for name in READ})
    figs = dict(build_figures(url))
    assert [a.text for a in figs["target_progress"].layout.annotations] == [NO_TARGETS]
    assert not figs["target_progress"].data
    assert not figs["gap"].data and "尚无认定差距" in figs["gap"].layout.annotations[0].text
    # frames without the two tables (a caller that does not hand them over): a note, no failure
    frames = {name: _frame(name, []) for name in READ if name not in ("eval_gap", "eval_target")}
    figs = dict(build_figures(frames))
    assert figs["target_progress"].layout.annotations[0].text.startswith(NO_TARGETS)
    assert "未提供" in figs["gap"].layout.annotations[0].text
