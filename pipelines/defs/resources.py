"""Dagster resources: the bureau's raw area (a folder) and the warehouse (a SQLAlchemy URL)."""


import os
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from pipelines.warehouse.engine import warehouse_url

DEFAULT_RAW_DIR = "raw"


class RawArea(ConfigurableResource):
    """The folder the bureau drops files into; the pipeline only reads it."""

    path: str = Field(default_factory=lambda: os.environ.get("TOWNSTAT_RAW_DIR", DEFAULT_RAW_DIR),
                      description="raw area folder (TOWNSTAT_RAW_DIR)")
    cache_dir: str = Field(
        default_factory=lambda: os.environ.get("TOWNSTAT_CACHE_DIR", "warehouse/cache"),
        description="validated rows per file content, so unchanged files are not parsed again "
        "(empty string: no cache)",
    )

    @property
    def root(self) -> Path:
        return Path(self.path)


class Warehouse(ConfigurableResource):
    """The SQL warehouse: SQLite by default, PostgreSQL in production."""

    url: str = Field(default_factory=warehouse_url,
                     description="SQLAlchemy URL (WAREHOUSE_URL)")


def expectations_enabled() -> bool:
    """`TOWNSTAT_GX` (default on; `off`, `0` or `false` skip the Great Expectations suite)."""
    return os.environ.get("TOWNSTAT_GX", "on").lower() not in ("0", "off", "false")


class Reports(ConfigurableResource):
    """Where the reports people read are written, and whether the GX suite runs."""

    path: str = Field(default_factory=lambda: os.environ.get("TOWNSTAT_REPORTS_DIR", "warehouse/reports"),
                      description="reports folder (TOWNSTAT_REPORTS_DIR)")
    expectations: bool = Field(
        default_factory=expectations_enabled,
        description="run the Great Expectations suite before publishing (TOWNSTAT_GX=off skips it)",
    )

    @property
    def root(self) -> Path:
        return Path(self.path)
