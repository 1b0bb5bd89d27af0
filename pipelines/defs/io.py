"""Pass frames between assets as Parquet files (other values pickled).

Frames may be large (35 million enrolment rows at province scale): Parquet keeps them
compact on disk and lets each step run in its own process under `dagster dev`. They hold
no clear person ID (pseudonymised at ingest).
"""


import os
import pickle
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from dagster import ConfigurableIOManager, InputContext, OutputContext

from pipelines.parquet import write_parquet


@dataclass(frozen=True)
class StagedParquet:
    """A frame that already exists as Parquet files (a source's fact in the ingest cache: one
    file, or one per month or year).

    Staged by hard links (copies across file systems): 35 million unchanged enrolment rows
    are not rewritten every night. Several files are staged as a folder of parts named
    `<name>/`, read back as one frame.
    """

    files: tuple[Path, ...]


Stageable = pl.DataFrame | pl.LazyFrame | StagedParquet


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _write(frame: Stageable, path: Path) -> None:
    """A LazyFrame streams to disk (bounded memory); a DataFrame is written as it is."""
    if isinstance(frame, StagedParquet) and len(frame.files) == 1:
        _link(frame.files[0], path)
    elif isinstance(frame, StagedParquet):
        parts = path.with_suffix("")
        parts.mkdir()
        for n, src in enumerate(frame.files):
            _link(src, parts / f"{n:05d}.parquet")
    else:
        write_parquet(frame, path)  # a LazyFrame streams to disk


def _source(folder: Path, name: str) -> Path | str:
    """What Polars reads for `name` in a bundle: its file, or the parts in its folder."""
    file = folder / f"{name}.parquet"
    return file if file.exists() else str(folder / name / "*.parquet")


class FrameBundle(Mapping[str, pl.DataFrame]):
    """Several frames of one asset, each read from Parquet only when asked for.

    `bundle[name]` reads the whole frame; `bundle.scan(name)` gives a LazyFrame, so a step
    that needs three columns of 35 million enrolment rows reads just those.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self._names = sorted([p.stem for p in folder.glob("*.parquet")]
                             + [p.name for p in folder.iterdir() if p.is_dir()])

    def __getitem__(self, name: str) -> pl.DataFrame:
        if name not in self._names:
            raise KeyError(name)
        return pl.read_parquet(_source(self.folder, name))

    def scan(self, name: str) -> pl.LazyFrame:
        if name not in self._names:
            raise KeyError(name)
        return pl.scan_parquet(_source(self.folder, name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class FrameIOManager(ConfigurableIOManager):
    base_dir: str

    def _path(self, context: InputContext | OutputContext) -> Path:
        parts = list(context.asset_key.path) if context.has_asset_key else [context.name]
        if context.has_asset_partitions:
            parts.append(context.asset_partition_key)
        return Path(self.base_dir).joinpath(*parts)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        path = self._path(context)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        if isinstance(obj, pl.DataFrame | pl.LazyFrame | StagedParquet):
            _write(obj, path / "frame.parquet")
        elif isinstance(obj, dict) and obj and all(isinstance(v, pl.DataFrame | pl.LazyFrame | StagedParquet)
                                                  for v in obj.values()):
            for name, frame in obj.items():
                _write(frame, path / f"{name}.parquet")
        else:
            (path / "value.pickle").write_bytes(pickle.dumps(obj))

    def load_input(self, context: InputContext) -> Any:
        path = self._path(context)
        if (path / "frame.parquet").exists():
            # an input annotated `pl.LazyFrame` gets a scan: read by whoever needs the rows (the
            # run's worker process reads it itself, `run_worker.py`)
            if context.dagster_type is not None and context.dagster_type.typing_type is pl.LazyFrame:
                return pl.scan_parquet(path / "frame.parquet")
            return pl.read_parquet(path / "frame.parquet")
        if (path / "value.pickle").exists():
            return pickle.loads((path / "value.pickle").read_bytes())
        return FrameBundle(path)
