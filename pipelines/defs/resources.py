"""Dagster resources: the bureau's raw area (a folder) and the warehouse (a SQLAlchemy URL)."""


from pathlib import Path

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field

from pipelines import settings
from pipelines.preload import preload_slow_imports
from pipelines.warehouse.engine import warehouse_url


class RawArea(ConfigurableResource):
    """The folder the bureau drops files into; the pipeline only reads it."""

    path: str = Field(default_factory=settings.raw_dir,
                      description="raw area folder (TOWNSTAT_RAW_DIR)")
    cache_dir: str = Field(
        default_factory=settings.cache_dir,
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
    return settings.expectations_enabled()


class Reports(ConfigurableResource):
    """Where the reports people read are written, and whether the GX suite runs."""

    path: str = Field(default_factory=settings.reports_dir,
                      description="reports folder (TOWNSTAT_REPORTS_DIR)")
    expectations: bool = Field(
        default_factory=expectations_enabled,
        description="run the Great Expectations suite before publishing (TOWNSTAT_GX=off skips it)",
    )

    @property
    def root(self) -> Path:
        return Path(self.path)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # a run of the job (sensor, schedule, UI): GX imported while the files are read
        preload_slow_imports(self.expectations)
