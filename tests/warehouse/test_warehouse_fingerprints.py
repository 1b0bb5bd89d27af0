"""A table whose content fingerprint is unchanged is kept, not reloaded."""

from pipelines.warehouse.publish import publish, read_table
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
