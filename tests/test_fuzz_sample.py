"""A small sample of the fuzz campaign (issue 12, item 12; `bench/fuzz.py`).

A tiny control area of the demo generator is refreshed alone, then with about 60 hostile
entries of every kind (mutated bytes, wrong encodings, odd cells and names, links, pipes,
light bombs) beside it, in one refresh: the refresh publishes, the control area's rows are
all there unchanged, and no person ID is found in clear in the warehouse file, its text
columns, the reports or the refresh's output. The whole campaign: `bench/README.md`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "fuzz.py"


def load_fuzz():
    spec = importlib.util.spec_from_file_location("townstat_bench_fuzz", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_sixty_hostile_entries_beside_a_control_area(tmp_path):
    fuzz = load_fuzz()
    cfg = fuzz.Campaign(work=tmp_path / "fuzz", files=60, batch=60, seed=5, scale="tiny", gx=False, heavy=False,
                        timeout=240, warehouse_mode="fresh")
    summary = fuzz.run_campaign(cfg, log=lambda _msg: None)

    assert summary["refreshes"] == 2
    assert summary["files"] == 60
    assert summary["crashes"] == 0, summary["crash_detail"]
    assert summary["blocked"] == 0, summary["blocked_reasons"]
    assert summary["batches_not_compared"] == 0
    assert summary["rows_lost"] == 0, summary["rows_lost_by_table"]
    assert summary["rows_extra"] == 0, summary["rows_extra_by_table"]
    assert summary["clear_ids"] == 0, summary["clear_ids_where"]
    assert not summary["echo_unmasked_id_shaped"], summary["echo_examples"]
    assert not summary["control_chars_in_warehouse"]
    assert summary["report_safety"] == {"csv_formula_cells": 0, "xlsx_formulas": 0, "html_unescaped": 0}
    assert not summary["generator_errors"]
    # the sample is hostile and not empty: every entry was looked at, some valid hostile rows loaded
    assert summary["entries"] >= 60
    assert summary["hostile_rows_loaded"] > 0
