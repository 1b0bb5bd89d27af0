"""What a stage takes: a DataFrame or a LazyFrame (`Frame`), and `lazy()` to treat both alike."""

from __future__ import annotations

import polars as pl

Frame = pl.DataFrame | pl.LazyFrame


def lazy(frame: Frame) -> pl.LazyFrame:
    """``frame`` as a LazyFrame (a DataFrame is wrapped, a LazyFrame returned as it is)."""
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame
