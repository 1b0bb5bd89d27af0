"""A table whose content fingerprint is unchanged is kept, not reloaded."""

import polars as pl

from pipelines.warehouse.publish import publish
from pipelines.warehouse.read import read_table
from tests.warehouse.conftest import make_frame


def test_unchanged_fingerprint_keeps_the_table(warehouse_url):
    first = {"fact_tax_month": make_frame("fact_tax_month", 5), "dim_town": make_frame("dim_town", 3)}
    assert publish(warehouse_url, first, fingerprints={"fact_tax_month": "a"}) == {
        "dim_town": 3, "fact_tax_month": 5}
    # same fingerprint, other rows: the fact is kept as it was; the dimension is replaced
    second = {"fact_tax_month": make_frame("fact_tax_month", 9), "dim_town": make_frame("dim_town", 4)}
    assert publish(warehouse_url, second, fingerprints={"fact_tax_month": "a"}) == {
        "dim_town": 4, "fact_tax_month": -1}
    assert read_table(warehouse_url, "fact_tax_month").height == 5
    assert read_table(warehouse_url, "dim_town").height == 4
    # a new fingerprint: replaced
    assert publish(warehouse_url, second, fingerprints={"fact_tax_month": "b"})["fact_tax_month"] == 9
    assert read_table(warehouse_url, "fact_tax_month").height == 9


def _tax(period_rows: dict[str, int], base: float) -> pl.DataFrame:
    """Tax rows per month; `base` makes the amounts of one call differ from another's."""
    parts = []
    for period, n in period_rows.items():
        parts.append(pl.DataFrame({
            "period": [period] * n,
            "uscc": [f"91140823MA0K{i:05d}X" for i in range(n)],
            "year": [int(period[:4])] * n,
            "total_tax": [base + i for i in range(n)],
        }))
    return pl.concat(parts)


def test_only_changed_months_are_reloaded(warehouse_url, tmp_path):
    def lazy(df: pl.DataFrame, name: str) -> pl.LazyFrame:
        df.write_parquet(tmp_path / f"{name}.parquet")
        return pl.scan_parquet(tmp_path / f"{name}.parquet")

    first = _tax({"2024-01": 3, "2024-02": 4, "2024-04": 1, "2024-05": 1}, 100.0)
    parts = {"2024-01": "jan-v1", "2024-02": "feb-v1", "2024-04": "apr", "2024-05": "may"}
    assert publish(warehouse_url, {"fact_tax_month": lazy(first, "a")}, fingerprints={"fact_tax_month": "t1"},
                   partitions={"fact_tax_month": parts}) == {"fact_tax_month": 9}
    # February re-sent with 5 rows; January's fingerprint is unchanged, so January's rows in the
    # warehouse stay those of the first publication even though this frame's amounts differ
    second = _tax({"2024-01": 3, "2024-02": 5, "2024-04": 1, "2024-05": 1}, 900.0)
    report: dict = {}
    counts = publish(warehouse_url, {"fact_tax_month": lazy(second, "b")}, fingerprints={"fact_tax_month": "t2"},
                     partitions={"fact_tax_month": {**parts, "2024-02": "feb-v2"}}, report=report)
    assert counts == {"fact_tax_month": 5}
    assert report["partitions_replaced"] == {"fact_tax_month": ["2024-02"]}
    got = read_table(warehouse_url, "fact_tax_month")
    assert got.filter(pl.col("period") == "2024-01")["total_tax"].to_list() == [100.0, 101.0, 102.0]
    assert got.filter(pl.col("period") == "2024-02")["total_tax"].to_list() == [900.0, 901.0, 902.0, 903.0, 904.0]
    # a month that disappears (its only file removed) is deleted; a new one is added
    third = _tax({"2024-01": 3, "2024-03": 2, "2024-04": 1, "2024-05": 1}, 500.0)
    third_parts = {"2024-01": "jan-v1", "2024-03": "mar-v1", "2024-04": "apr", "2024-05": "may"}
    counts = publish(warehouse_url, {"fact_tax_month": lazy(third, "c")}, fingerprints={"fact_tax_month": "t3"},
                     partitions={"fact_tax_month": third_parts}, report=report)
    assert report["partitions_replaced"] == {"fact_tax_month": ["2024-02", "2024-03"]}
    assert counts == {"fact_tax_month": 2}
    got = read_table(warehouse_url, "fact_tax_month")
    assert got.group_by("period").len().sort("period").rows() == [
        ("2024-01", 3), ("2024-03", 2), ("2024-04", 1), ("2024-05", 1)]
    assert got.filter(pl.col("period") == "2024-04")["total_tax"].to_list() == [100.0]
    # most months changed: the table is rebuilt aside, all rows of the frame
    report.clear()
    fourth = _tax({"2024-01": 2, "2024-03": 2, "2024-04": 1, "2024-05": 1}, 700.0)
    counts = publish(warehouse_url, {"fact_tax_month": lazy(fourth, "d")}, fingerprints={"fact_tax_month": "t4"},
                     partitions={"fact_tax_month": {p: "v4" for p in third_parts}}, report=report)
    assert counts == {"fact_tax_month": 6} and report["partitions_replaced"] == {}
    assert read_table(warehouse_url, "fact_tax_month")["total_tax"].min() == 700.0
    assert got.filter(pl.col("period") == "2024-03")["total_tax"].to_list() == [500.0, 501.0]


def test_unchanged_small_tables_are_kept_by_content(warehouse_url):
    towns = make_frame("dim_town", 3)
    assert publish(warehouse_url, {"dim_town": towns}, fingerprints={}) == {"dim_town": 3}
    # the same rows in another order: kept
    assert publish(warehouse_url, {"dim_town": towns.reverse()}, fingerprints={}) == {"dim_town": -1}
    changed = towns.with_columns(pl.col("town_name") + "镇")
    assert publish(warehouse_url, {"dim_town": changed}, fingerprints={}) == {"dim_town": 3}
    assert read_table(warehouse_url, "dim_town")["town_name"].str.ends_with("镇").all()


def test_a_large_table_is_compared_per_part_only_when_its_parts_are_few(monkeypatch):
    import importlib

    frames = importlib.import_module("pipelines.warehouse.frames")
    monkeypatch.setattr(frames, "PARTITION_MIN_ROWS", 4)
    monkeypatch.setattr(frames, "PARTITION_MAX_PARTS", 2)
    # dq_rejected_row by file_id (key's first column): 6 rows of 2 files, then of 6 files
    few = pl.DataFrame({"file_id": ["a", "a", "a", "b", "b", "b"]})
    many = pl.DataFrame({"file_id": ["a", "b", "c", "d", "e", "f"]})
    assert frames.partitioned_by_content("dq_rejected_row", few)
    assert not frames.partitioned_by_content("dq_rejected_row", many)  # a part per row: no
    assert not frames.partitioned_by_content("dq_rejected_row", few.head(3))  # too few rows
    # the derived tables are compared by year whatever their size
    assert frames.partitioned_by_content("ind_town_year", pl.DataFrame({"year": [2023, 2024, 2025]}))
