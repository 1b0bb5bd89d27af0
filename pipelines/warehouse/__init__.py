"""Warehouse: SQLAlchemy table declarations, frames, loaders, bookkeeping, atomic publication,
reads, reader role, dictionary."""

from .engine import DEFAULT_URL, make_engine, warehouse_url
from .frames import PublishError, prepare_frame
from .publish import publish
from .read import read_table
from .roles import READER_ROLE, grant_reader
from .tables import TABLES, metadata, polars_schema, reader_can_read, table_names

__all__ = [
    "DEFAULT_URL",
    "READER_ROLE",
    "TABLES",
    "PublishError",
    "grant_reader",
    "make_engine",
    "metadata",
    "polars_schema",
    "prepare_frame",
    "publish",
    "read_table",
    "reader_can_read",
    "table_names",
    "warehouse_url",
]
