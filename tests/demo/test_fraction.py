"""A fraction of the province (`townstat demo-data --scale province --fraction F`, issue 16 item 4)."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from pipelines.cli import main
from pipelines.demo import scale_spec, write_demo_raw_area
from pipelines.demo.spec import province_fraction
from pipelines.reference import shipped_towns


def test_fraction_one_is_the_province_spec() -> None:
    whole = scale_spec("province")
    assert scale_spec("province", 1.0) == whole
    assert province_fraction(1.0) == whole
    assert whole.fraction == 1.0


def test_quarter_spec_by_hand() -> None:
    whole = scale_spec("province")
    codes = sorted(shipped_towns()["county_code"].unique())
    assert len(codes) == len(whole.county_codes) == 121  # 117 counties and 4 development zones
    q = scale_spec("province", 0.25)
    # ceil(0.25 x 121) = ceil(30.25) = 31 county codes, the first ones by code: Taiyuan (11 codes),
    # Datong (11), Yangquan (5) and Changzhi's first four
    assert len(q.county_codes) == 31
    assert q.county_codes == tuple(codes[:31])
    assert q.county_codes[0] == "140105" and q.county_codes[-1] == "140406"
    assert (q.scale, q.fraction) == ("province", 0.25)
    # every count a quarter of the province's 70,000 / 330,000 / 1,120,000 / 130,000 and minimums
    assert (q.reporters, q.register, q.persons, q.taxpayer_others) == (17_500, 82_500, 280_000, 32_500)
    assert (q.min_reports, q.min_taxpayers, q.min_insured, q.min_register) == (15_000, 37_500, 250_000, 75_000)
    assert q.other_specialty_per_county == whole.other_specialty_per_county == 1  # per county: counties scale it


def test_half_spec_by_hand() -> None:
    h = scale_spec("province", 0.5)
    assert len(h.county_codes) == 61  # ceil(60.5)
    assert (h.reporters, h.register, h.persons, h.taxpayer_others) == (35_000, 165_000, 560_000, 65_000)
    assert (h.min_reports, h.min_taxpayers, h.min_insured, h.min_register) == (30_000, 75_000, 500_000, 150_000)


@pytest.mark.parametrize("f", [0.02, 0.1, 1 / 3, 0.75])
def test_counts_scale_together(f: float) -> None:
    whole, part = scale_spec("province"), scale_spec("province", f)
    assert len(part.county_codes) == math.ceil(f * 121)
    for name in ("reporters", "register", "persons", "taxpayer_others", "min_reports", "min_taxpayers",
                 "min_insured", "min_register"):
        assert getattr(part, name) == round(getattr(whole, name) * f), name


@pytest.mark.parametrize("scale, f", [("county", 0.5), ("city", 0.25), ("province", 0.0),
                                      ("province", 0.005), ("province", 1.5)])
def test_bad_fractions(scale: str, f: float) -> None:
    with pytest.raises(ValueError):
        scale_spec(scale, f)


def test_cli_refuses_bad_fraction(tmp_path, capsys) -> None:
    assert main(["demo-data", "--scale", "city", "--fraction", "0.5", "--out", str(tmp_path / "a")]) == 2
    assert main(["demo-data", "--scale", "province", "--fraction", "2", "--out", str(tmp_path / "b")]) == 2
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert "--fraction" in capsys.readouterr().err


def test_one_percent_of_the_province_end_to_end(tmp_path) -> None:
    s = write_demo_raw_area(tmp_path / "raw", "province", 7, fraction=0.01)
    kept = scale_spec("province", 0.01).county_codes
    assert kept == ("140105", "140106")
    summary = json.loads((tmp_path / "raw_truth" / "summary.json").read_text(encoding="utf-8"))
    assert (summary["scale"], summary["fraction"], summary["seed"]) == ("province", 0.01, 7)
    assert summary["minimums_per_year"]["enterprise_reports"] == 600
    # every town of the truth lies in the two kept county codes; one specialty town each
    towns = pl.read_csv(tmp_path / "raw_truth" / "town_year.csv", infer_schema=False)["town_code"]
    assert towns.str.slice(0, 6).unique().sort().to_list() == list(kept)
    assert s.specialty_town_ids == ["140105-01", "140106-01"]
    # the province's files and formats: three registry files, no towns.csv, and xlsx only where
    # the whole province has one (the revision, and the broken backup)
    files = pl.read_csv(tmp_path / "raw_truth" / "files.csv", infer_schema=False)
    assert files.filter(pl.col("source") == "registry").height == 3
    assert "reference/towns.csv" not in files["path"].to_list()
    xlsx = sorted(files.filter(pl.col("format") == "xlsx")["path"].to_list())
    assert xlsx == ["employment/2024/参保明细_备份.xlsx", "enterprise/2023/山西省企业年报_2023_更正.xlsx"]
    # about 1% of the province's rows: enterprise reports near 700 a year
    for y in ("2022", "2023", "2024"):
        assert 600 <= summary["per_year"][y]["enterprise_reports"] <= 720
