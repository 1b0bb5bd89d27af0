"""The county demo warehouse, built once per test session for the report and GX tests.

The demo raw area is refreshed through the real pipeline (``run_refresh``) into SQLite once;
the PostgreSQL warehouse receives the same published tables through the project's own
atomic publication (``publish``), which is far quicker than a second 50 s refresh. The
result is cached on the pytest config object, so every module that asks gets the same two
warehouses; tests that modify a warehouse work on a copy.
"""

from __future__ import annotations

import uuid

import pytest

from pipelines.demo import write_demo_raw_area
from pipelines.refresh import run_refresh
from pipelines.warehouse import publish, read_table, table_names

_ATTR = "_townstat_county_warehouses"


def county_warehouse(request: pytest.FixtureRequest, backend: str) -> str:
    """URL of the published county demo warehouse on ``backend`` (sqlite | postgresql)."""
    cache = getattr(request.config, _ATTR, None)
    if cache is None:
        cache = {}
        setattr(request.config, _ATTR, cache)
    if "sqlite" not in cache:
        factory = request.getfixturevalue("tmp_path_factory")
        root = factory.mktemp("county_reports")
        summary = write_demo_raw_area(root / "raw", scale="county", seed=7)
        url = f"sqlite:///{root / 'warehouse.sqlite'}"
        outcome = run_refresh(summary.out, url, cache_dir=str(root / "cache"))
        assert outcome.published, outcome.summary_text()
        cache["sqlite"] = url
    if backend == "postgresql" and "postgresql" not in cache:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database(f"rep_{uuid.uuid4().hex[:12]}")
        # every table but the 575k-row enrolment facts, which no report or expectation reads
        publish(url, {n: read_table(cache["sqlite"], n) for n in table_names()
                      if n != "fact_employment_month"})
        cache["postgresql"] = url
    return cache[backend]
