"""Fixtures of the report tests: the county demo warehouse on SQLite and PostgreSQL, and a run's
worker process of their own."""

from __future__ import annotations

import pytest
from county_warehouse import county_warehouse

from pipelines import run_worker


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def county_url(request) -> str:
    """The published county demo warehouse (built once per session per backend)."""
    return county_warehouse(request, request.param)


@pytest.fixture()
def worker(monkeypatch):
    """A run's worker process (without GX), started for the test and let go after it."""
    monkeypatch.setattr(run_worker, "_pool", None)
    run_worker.start(gx=False)
    yield
    run_worker.stop()
