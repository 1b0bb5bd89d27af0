from __future__ import annotations

from pipelines.warehouse.dictionary import DOC_PATH, render_data_dictionary
from pipelines.warehouse.tables import TABLES


def test_committed_dictionary_is_current():
    assert DOC_PATH.read_text(encoding="utf-8") == render_data_dictionary(), (
        "docs/data-dictionary.md is stale: run `python -m pipelines.warehouse.dictionary`"
    )


def test_dictionary_lists_every_column():
    text = render_data_dictionary()
    for table in TABLES.values():
        assert f"## {table.name}\n" in text
        for col in table.columns:
            assert f"| `{col.name}` |" in text
    assert "| [ind_town_year](#ind_town_year) | town_code, year | no |" in text
    assert "| [pub_town_year](#pub_town_year) | town_code, year | yes |" in text
