"""One declaration per indicator (issue 13 item 1): an indicator registered in the catalogue,
here in the test only, appears in ind_town_year, in pub_town_year (suppressed with the money
cells it is made of), in the data dictionary, in `townstat explain` and in the workbook,
without any other file changed.

Registration must happen before the warehouse tables are built, so the scenario runs in a
fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

from tests.ingest.rawfiles import uscc, write_csv
from tests.test_hostile_raw_area import ENTERPRISE_HEADER, clean_area

ROOT = Path(__file__).resolve().parents[2]

SCENARIO = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    import polars as pl
    from pipelines.indicators import catalogue as c

    # 营业额: the town's revenue under another name, declared here and nowhere else
    c.register("ind_town_year", c.Indicator(
        "turnover", "营业额", "元", "money", "sum(revenue)", "Turnover of the town's enterprises.",
        aggregate=pl.col("revenue").sum().round(2),
        recipe=c.Recipe("sum", "enterprise", "revenue", "本镇企业营业收入之和", "sum of revenue")))

    from pipelines.lineage.explain import explain
    from pipelines.refresh import run_refresh
    from pipelines.reports.workbook import write_evaluation_workbook
    from pipelines.warehouse.dictionary import render_data_dictionary
    from pipelines.warehouse.read import read_table

    raw, tmp = Path(sys.argv[1]), Path(sys.argv[2])
    url = f"sqlite:///{tmp / 'w.sqlite'}"
    assert run_refresh(raw, url, cache_dir=str(tmp / "cache"), reports_dir=str(tmp / "reports")).published
    ind = read_table(url, "ind_town_year").sort("town_code", "year")
    pub = read_table(url, "pub_town_year").sort("town_code", "year")
    e = explain(url, "turnover", 2024, town=ind["town_code"][0])
    write_evaluation_workbook(url, 2024, tmp / "book.xlsx")
    print(json.dumps({
        "ind": ind.select("town_code", "year", "revenue", "turnover").rows(),
        "pub": pub.select("town_code", "year", "revenue", "turnover", "suppressed").rows(),
        "dictionary": "turnover" in render_data_dictionary() and "营业额" in render_data_dictionary(),
        "explained": [e.total, e.published, e.rows.height],
    }))
''')


def test_an_indicator_registered_in_the_catalogue_only_is_everywhere(tmp_path):
    raw = tmp_path / "raw"
    clean_area(raw)
    # one enterprise alone in 畖底镇: its money cells have a single contributor (suppressed)
    write_csv(raw / "enterprise" / "alone.csv",
              [ENTERPRISE_HEADER, f"2024,{uscc(9)},独家企业,140823102,3054,500,7000000,3"])
    proc = subprocess.run([sys.executable, "-c", SCENARIO, str(raw), str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    # computed: the same as revenue, town by town (clean_area: enterprises 1..8 in two towns,
    # revenue 30,000,000 x (i mod 3) yuan)
    by_hand = {"140823100": 30e6 * sum(i % 3 for i in (1, 3, 5, 7)),
               "140823101": 30e6 * sum(i % 3 for i in (2, 4, 6, 8)),
               "140823102": 7e6}
    assert {(t, y): v for t, y, _, v in got["ind"]} == {(t, 2024): v for t, v in by_hand.items()}
    # published as a money cell: suppressed (null, and listed) exactly where it is disclosive
    suppressed_towns = set()
    for town, _year, revenue, turnover, suppressed in got["pub"]:
        listed = suppressed.split(";") if suppressed else []
        assert (turnover is None) == ("turnover" in listed)
        assert (revenue is None) == (turnover is None)  # the same contributors
        if turnover is None:
            suppressed_towns.add(town)
    assert "140823102" in suppressed_towns  # its single contributor
    assert got["dictionary"]
    total, published, rows = got["explained"]
    assert rows == 4 and total == published == by_hand["140823100"]
    with zipfile.ZipFile(tmp_path / "book.xlsx") as z:
        strings = z.read("xl/sharedStrings.xml").decode()
    assert "营业额(万元)" in strings
