"""Fixtures of the report tests: the county demo warehouse on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from county_warehouse import county_warehouse


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def county_url(request) -> str:
    """The published county demo warehouse (built once per session per backend)."""
    return county_warehouse(request, request.param)
