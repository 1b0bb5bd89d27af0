"""What a stage takes: a DataFrame or a LazyFrame (`Frame`), and `lazy()` to treat both alike."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import polars as pl

Frame = pl.DataFrame | pl.LazyFrame


def lazy(frame: Frame) -> pl.LazyFrame:
    """``frame`` as a LazyFrame (a DataFrame is wrapped, a LazyFrame returned as it is)."""
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame


class ReadWhenAsked(Mapping[str, pl.DataFrame]):
    """Frames by name, each scan read the first time it is asked for: a report reads the few
    tables it shows, not the 620,000 rejected rows beside them."""

    def __init__(self, frames: Mapping[str, Frame]):
        self._frames = frames
        self._read: dict[str, pl.DataFrame] = {}

    def __getitem__(self, name: str) -> pl.DataFrame:
        if name not in self._read:
            frame = self._frames[name]
            self._read[name] = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        return self._read[name]

    def __contains__(self, name: object) -> bool:  # without reading it
        return name in self._frames

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def __len__(self) -> int:
        return len(self._frames)
