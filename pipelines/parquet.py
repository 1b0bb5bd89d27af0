"""How the pipeline writes Parquet (the ingest cache, staged assets, memoised parts): zstd, level 1.

Measured on one month of province enrolment (1,065,367 rows, 8 columns): level 1 writes it in
0.83 s against 2.08 s at Polars' default level, and the file is no larger (43.8 MB against
45.2 MB); reading takes the same time. lz4 and snappy write a little faster still but twice
the bytes, and these files are read again every night.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import polars as pl

log = logging.getLogger(__name__)

COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1


def write_parquet(frame: pl.DataFrame | pl.LazyFrame, path: str | Path) -> None:
    """A DataFrame as it is; a LazyFrame streamed to disk (bounded memory)."""
    if isinstance(frame, pl.LazyFrame):
        frame.sink_parquet(path, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL)
    else:
        frame.write_parquet(path, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL)


# -- kept files: written atomically, trusted only while intact --------------------------------------------------------

STAMP_SUFFIX = ".ok"


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + STAMP_SUFFIX)


def write_kept_parquet(frame: pl.DataFrame | pl.LazyFrame, path: str | Path) -> Path:
    """Write a file the pipeline keeps for itself (cache, memo): under a temporary name, renamed
    into place, then stamped with its size and mtime. A process killed at any moment leaves
    either no file, an unstamped file (taken as missing) or the whole, stamped file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _stamp(path).unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_parquet(frame, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    st = path.stat()
    stamp_tmp = tmp.with_suffix(".stamp")
    stamp_tmp.write_text(f"{st.st_size} {st.st_mtime_ns}", encoding="ascii")
    os.replace(stamp_tmp, _stamp(path))
    return path


def kept_parquet_intact(path: str | Path) -> bool:
    """True when a kept file is whole: stamped, of the stamped size and mtime, with a footer
    Parquet can read. Anything else (deleted, truncated, overwritten, unstamped) is a miss,
    and the damaged file is removed so that it is written again."""
    path = Path(path)
    try:
        size, mtime_ns = (int(v) for v in _stamp(path).read_text(encoding="ascii").split())
        st = path.stat()
        if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
            raise ValueError("changed since written")
        pl.read_parquet_schema(path)
        return True
    except FileNotFoundError:
        if path.exists():  # a file without its stamp: half written, or from an older version
            log.warning("缓存文件 %s 不完整，将重建 / kept file %s incomplete, rebuilt", path.name, path.name)
        path.unlink(missing_ok=True)
        return False
    except Exception as exc:  # noqa: BLE001 - any damage is a miss
        log.warning("缓存文件 %s 已损坏（%s），将重建 / kept file %s damaged (%s), rebuilt",
                    path.name, exc.__class__.__name__, path.name, exc.__class__.__name__)
        path.unlink(missing_ok=True)
        _stamp(path).unlink(missing_ok=True)
        return False


def remove_kept(path: str | Path) -> None:
    path = Path(path)
    path.unlink(missing_ok=True)
    _stamp(path).unlink(missing_ok=True)
