"""Evaluation (contract section 6): criteria files, scores, ranks, exceptions."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.evaluation import CriteriaFileError, evaluate, load_criteria_set, load_criteria_sets
from pipelines.evaluation.criteria import CRITERIA_DIR
from pipelines.evaluation.scoring import WIDE_COLUMNS

MUNICIPAL = CRITERIA_DIR / "municipal_yuncheng.yaml"


def _ind(rows: list[dict]) -> pl.DataFrame:
    base = {"year": 2023, "leading_enterprises": 1, "supporting_enterprises": 10, "output_value": 5e8,
            "market_share": 0.5, "employees": 2000}
    return pl.DataFrame([{**base, **r} for r in rows]).with_columns(pl.col("year").cast(pl.Int32))


def _towns(rows: list[dict]) -> pl.DataFrame:
    base = {"category": "manufacturing", "heritage": False, "national_market": False}
    return pl.DataFrame([{**base, **r} for r in rows])


def _eval(ind_rows, town_rows, sets=None):
    return evaluate(_ind(ind_rows), _towns(town_rows), sets or [load_criteria_set(MUNICIPAL)])


def test_exactly_at_every_threshold():
    crit, wide = _eval([{"specialty_town_id": "S"}], [{"id": "S"}])
    assert wide.columns[: len(WIDE_COLUMNS)] == WIDE_COLUMNS
    row = wide.to_dicts()[0]
    assert row["all_met"] and row["concentration_met"] and row["scale_met"] and row["market_met"]
    assert row["score"] == pytest.approx(200 / 3, rel=1e-12)  # 66.666...
    assert row["rank"] == 1
    assert (row["scale_threshold"], row["market_threshold"], row["employment_threshold"]) == (5e8, 0.5, 2000.0)
    assert crit.height == 4 and crit["ratio"].to_list() == [1.0, 1.0, 1.0, 1.0]
    conc = crit.filter(pl.col("criterion") == "concentration").to_dicts()[0]
    assert (conc["value"], conc["threshold"]) == (1.0, 1.0)


def test_concentration_value_is_smaller_ratio():
    crit, _ = _eval([{"specialty_town_id": "S", "leading_enterprises": 3, "supporting_enterprises": 5}], [{"id": "S"}])
    conc = crit.filter(pl.col("criterion") == "concentration").to_dicts()[0]
    assert conc["value"] == 0.5 and not conc["met"]


def test_categories_and_heritage():
    crit, wide = _eval(
        [{"specialty_town_id": "H", "output_value": 1e8}, {"specialty_town_id": "A", "output_value": 1.99e8},
         {"specialty_town_id": "L", "output_value": 2e8}],
        [{"id": "H", "heritage": True, "category": "light_industry"}, {"id": "A", "category": "agriculture"},
         {"id": "L", "category": "light_industry"}],
    )
    got = {r["specialty_town_id"]: (r["scale_threshold"], r["scale_met"]) for r in wide.to_dicts()}
    assert got == {"H": (1e8, True), "A": (2e8, False), "L": (2e8, True)}


def test_national_market_and_missing_total():
    crit, wide = _eval(
        [{"specialty_town_id": "N", "market_share": 0.1}, {"specialty_town_id": "M", "market_share": None},
         {"specialty_town_id": "NN", "market_share": None}],
        [{"id": "N", "national_market": True}, {"id": "M"}, {"id": "NN", "national_market": True}],
    )
    market = {r["specialty_town_id"]: r for r in crit.filter(pl.col("criterion") == "market").to_dicts()}
    assert market["N"]["met"] and market["N"]["ratio"] == 1.0
    assert market["NN"]["met"] and market["NN"]["ratio"] == 1.0
    assert not market["M"]["met"] and market["M"]["ratio"] == 0.0 and market["M"]["value"] is None
    scores = {r["specialty_town_id"]: r["score"] for r in wide.to_dicts()}
    assert scores["M"] == pytest.approx(100 * 3 / 6)  # three criteria at 1, market 0


def test_cap_and_tie_ranks():
    ind = [
        {"specialty_town_id": "A", "output_value": 1e10},  # scale ratio 20 -> capped at 1.5
        {"specialty_town_id": "B", "employees": 2500},  # 1.25
        {"specialty_town_id": "C", "market_share": 0.625},  # 1.25 -> ties with B
        {"specialty_town_id": "D"},
    ]
    crit, wide = _eval(ind, [{"id": x} for x in "ABCD"])
    ranks = {r["specialty_town_id"]: (r["rank"], r["score"]) for r in wide.to_dicts()}
    assert [ranks[x][0] for x in "ABCD"] == [1, 2, 2, 4]
    assert ranks["A"][1] == pytest.approx(100 * 4.5 / 6)
    assert crit.filter(pl.col("specialty_town_id") == "A", pl.col("criterion") == "scale")["ratio"][0] == 20.0


def test_shipped_sets_load_and_provincial_says_where_numbers_come_from():
    sets = {s.name: s for s in load_criteria_sets()}
    assert {"municipal_yuncheng", "provincial_shanxi"} <= set(sets)
    text = (CRITERIA_DIR / "provincial_shanxi.yaml").read_text(encoding="utf-8")
    assert "晋政办发〔2022〕80号" in text and "placeholder" in text.lower()
    m = sets["municipal_yuncheng"]
    assert [c.name for c in m.criteria] == ["concentration", "scale", "market", "employment"]
    assert m.criteria[1].thresholds["output_value"] == {
        "manufacturing": 5e8, "agriculture": 2e8, "light_industry": 2e8}


def test_new_criteria_set_file_without_code_changes(tmp_path):
    (tmp_path / "innovation_pilot.yaml").write_text(
        "criteria_set: innovation_pilot\n"
        "criteria:\n"
        "  - criterion: employment\n    reads: employees\n    comparison: '>='\n    threshold: 1000\n    weight: 3\n"
        "  - criterion: innovation\n    reads: high_tech_enterprises\n    comparison: '>='\n"
        "    threshold: {default: 2, agriculture: 1}\n    weight: 1\n",
        encoding="utf-8",
    )
    sets = load_criteria_sets(tmp_path)
    ind = _ind([{"specialty_town_id": "S", "employees": 1000}]).with_columns(high_tech_enterprises=pl.lit(1))
    crit, wide = evaluate(ind, _towns([{"id": "S"}]), sets)
    row = wide.to_dicts()[0]
    assert row["criteria_set"] == "innovation_pilot"
    assert row["concentration_met"] is None and row["scale_threshold"] is None  # not in this set
    assert row["employment_met"] and row["innovation_met"] is False and row["innovation_threshold"] == 2.0
    assert row["score"] == pytest.approx(100 * (3 * 1 + 1 * 0.5) / (1.5 * 4))
    assert row["all_met"] is False


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("criteria_set: x\ncriteria:\n  - criterion: a\n    reads: [employees\n", 5, "YAML"),
        ("criteria_set: x\ncriteria:\n  - criterion: scale\n    reads: output_value\n    comparison: '>='\n"
         "    weight: 1\n", 3, "threshold"),
        ("criteria_set: x\ncriteria:\n  - criterion: scale\n    reads: output_value\n    comparison: '>='\n"
         "    threshold:\n      manufacturing: 5\n      agriculture: 2\n", 6, "light_industry"),
        ("criteria_set: x\ncriteria:\n  - criterion: scale\n    reads: output_valu\n    comparison: '>='\n"
         "    threshold: 1\n", 4, "output_valu"),
        ("criteria_set: x\ncriteria:\n  - criterion: scale\n    reads: output_value\n    comparison: '<'\n"
         "    threshold: 1\n", 5, "comparison"),
        ("criteria_set: x\ncriteria:\n  - criterion: scale\n    reads: output_value\n    comparison: '>='\n"
         "    threshold: -1\n", 6, "0"),
        ("criteria_set: x\ncriteria:\n  - criterion: scale\n    reads: output_value\n    comparison: '>='\n"
         "    threshold: 1\n    wieght: 2\n", 7, "wieght"),
    ],
)
def test_malformed_files_are_refused_with_file_and_line(tmp_path, text, line, needle):
    path = tmp_path / "bad_set.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CriteriaFileError) as info:
        load_criteria_set(path)
    message = str(info.value)
    assert str(path) in message and f"line {line}" in message and f"第 {line} 行" in message, message
    assert needle in message
    assert "准则集" in message and "criteria-set" in message
