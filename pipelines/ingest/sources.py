"""Ingest one source folder: every file validated (or taken from the cache), then versions.

Per file: read the cells, validate them, finish the typed columns the facts need
(above-scale, year, filled total tax, person_key), and remember the result by the file's
sha256 so that a nightly refresh re-reads only what is new. Across files: identical bytes
load once, and for the same key the accepted row of the later file wins.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines import settings
from pipelines.echo import echo_expr, mask_ids
from pipelines.ingest.cells import VALUE_DTYPES, ParseContext
from pipelines.ingest.inventory import RawFile
from pipelines.ingest.limits import REJECTED_ROWS_PER_RULE, cap_rejected
from pipelines.ingest.pseudonymise import PersonKeyer, key_fingerprint
from pipelines.ingest.readers import (
    FileRejected,
    failure_message,
    read_cells,
    read_version,
)
from pipelines.ingest.validate import REJECTED_SCHEMA, validate_table
from pipelines.kept_json import write_kept_json
from pipelines.parquet import kept_parquet_intact, remove_kept, write_kept_parquet
from schemas.above_scale import above_scale_expr, threshold_table
from schemas.columns import SOURCES, SourceSpec

log = logging.getLogger(__name__)

# Bump when parsing or validation changes, so cached results are not reused.
PARSER_VERSION = "2026-11-30.3"

FACT_TABLES = {
    "enterprise": "fact_enterprise_year",
    "tax": "fact_tax_month",
    "employment": "fact_employment_month",
    "registry": "fact_market_entity",
}


@dataclass
class FileOutcome:
    file: RawFile
    status: str  # loaded | rejected | duplicate
    rows_read: int
    rows_loaded: int
    message: str
    accepted: pl.LazyFrame | None  # typed rows, without source_file_id
    rejected: pl.DataFrame
    # the values of the source's partition column (PARTITION_COLUMN) in `accepted`, as text,
    # kept with the file in the cache so that an unchanged file is not scanned for them again
    parts: list[str] | None = None


@dataclass
class SourceResult:
    source: str
    # the fact table: current version of each key; a LazyFrame over the cache when asked for
    current: pl.DataFrame | pl.LazyFrame
    outcomes: list[FileOutcome]
    # per value of the partition column (month, year): the files its rows come from, in
    # version order ("file_id,file_id,…"); what decides that partition's rows
    partitions: pl.DataFrame | None = None

    def rejected_by_rule(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            for rule, n in o.rejected.group_by("rule").len().iter_rows():
                counts[rule] = counts.get(rule, 0) + n
        return dict(sorted(counts.items()))


def finish_source_columns(source: str, frame: pl.DataFrame, keyer: PersonKeyer) -> pl.DataFrame:
    """Columns derived per row: above_scale, year, filled total_tax, person_key."""
    if source == "enterprise":
        frame = (
            frame.join(threshold_table(), on="industry_code", how="left")
            .with_columns(above_scale_expr().alias("above_scale"))
            .drop("above_scale_threshold")
        )
    elif source == "tax":
        parts = ["vat", "corporate_income_tax", "other_tax"]
        any_part = pl.any_horizontal(pl.col(p).is_not_null() for p in parts)
        frame = frame.with_columns(
            pl.col("period").str.slice(0, 4).cast(pl.Int32).alias("year"),
            pl.col("total_tax").alias("total_tax_reported"),
            pl.coalesce(
                pl.col("total_tax"),
                pl.when(any_part).then(pl.sum_horizontal(parts).round(2)),
            ).alias("total_tax"),
        )
    elif source == "employment":
        frame = frame.with_columns(
            pl.col("period").str.slice(0, 4).cast(pl.Int32).alias("year"),
            keyer(frame["person_id"]),
            pl.col("hukou_code").str.slice(0, 6).alias("hukou_county_code"),
        ).drop("person_id")
    return frame


class IngestCache:
    """Validated rows per file content, as Parquet (never a clear person ID).

    Per file: `<sha>.accepted.parquet`, `<sha>.rejected.parquet` and `<sha>.json`, each written
    atomically, the JSON last (it is what makes an entry). An entry missing any part, or with a
    part truncated or unreadable, is a miss: the file is validated again (contract v4
    section 3: the cache is a convenience and can never stop a refresh)."""

    def __init__(self, root: Path | None, fingerprint: str):
        self.root = Path(root) / fingerprint if root else None

    def _paths(self, sha: str) -> tuple[Path, Path, Path] | None:
        if self.root is None:
            return None
        d = self.root / sha[:2]
        return d / f"{sha}.accepted.parquet", d / f"{sha}.rejected.parquet", d / f"{sha}.json"

    def get(self, f: RawFile) -> FileOutcome | None:
        paths = self._paths(f.sha256)
        if paths is None or not paths[2].exists():
            return None
        try:
            meta = json.loads(paths[2].read_text(encoding="utf-8"))
            if meta.get("sha256") != f.sha256:
                raise ValueError("entry of another version")
            accepted = None
            if meta["has_accepted"]:
                if not kept_parquet_intact(paths[0]):
                    raise ValueError("accepted rows damaged")
                accepted = pl.scan_parquet(paths[0])
            if not kept_parquet_intact(paths[1]):
                raise ValueError("rejected rows damaged")
            rejected = pl.read_parquet(paths[1])
            return FileOutcome(f, meta["status"], int(meta["rows_read"]), int(meta["rows_loaded"]),
                               str(meta["message"]), accepted, rejected, meta.get("parts"))
        except Exception as exc:  # noqa: BLE001 - a damaged entry is a miss, rebuilt from the raw file
            log.warning("缓存条目 %s 无法使用（%s），将从原始文件重建 / cache entry %s unusable (%s), "
                        "rebuilt from the raw file", f.sha256[:12], exc, f.sha256[:12], exc)
            for p in paths:
                remove_kept(p)
            return None

    def put(self, o: FileOutcome, accepted: pl.DataFrame | None) -> FileOutcome:
        column = PARTITION_COLUMN.get(o.file.source or "")
        if accepted is not None and column is not None:
            o.parts = accepted[column].drop_nulls().unique().cast(pl.String).sort().to_list()
        paths = self._paths(o.file.sha256)
        if paths is None:
            o.accepted = accepted.lazy() if accepted is not None else None
            return o
        paths[2].unlink(missing_ok=True)  # the entry is gone until it is whole again
        if accepted is not None:
            write_kept_parquet(accepted, paths[0])
            o.accepted = pl.scan_parquet(paths[0])
        write_kept_parquet(o.rejected, paths[1])
        meta = {"sha256": o.file.sha256, "status": o.status, "rows_read": o.rows_read,
                "rows_loaded": o.rows_loaded, "message": o.message, "parts": o.parts,
                "has_accepted": accepted is not None}
        write_kept_json(paths[2], meta)
        return o

    def fact_path(self, source: str, content: str) -> Path | None:
        """Where the current fact of `source` built from `content` is kept (None: no cache)."""
        return None if self.root is None else self.root / "facts" / f"{source}-{content[:32]}.parquet"

    def fact_part_path(self, source: str, part: str, content: str) -> Path | None:
        """Where one month's or year's rows of the current fact of `source` are kept, made from
        `content` (the part's fingerprint); None without a cache."""
        return None if self.root is None else self.root / "facts" / source / f"{part}-{content[:32]}.parquet"

    def fact_kept(self, path: Path) -> bool:
        """The kept fact is there and whole (a damaged one is removed, to be written again)."""
        if kept_parquet_intact(path):
            return True
        path.with_suffix(".checked").unlink(missing_ok=True)
        return False

    def store_fact(self, path: Path, frame: pl.LazyFrame | pl.DataFrame) -> None:
        """Write (a part of) a source's current fact once."""
        write_kept_parquet(frame, path)

    def remove_facts_except(self, source: str, keep: list[Path]) -> None:
        """Remove the kept facts of `source` (whole or in parts, with their stamps and
        markers) other than the files `keep`."""
        if self.root is None:
            return
        facts = self.root / "facts"
        stems = {p.stem for p in keep}
        for old in [*facts.glob(f"{source}-*"), *(facts / source).glob("*")]:
            if old.name.startswith(".") or old.name.split(".")[0] in stems:
                continue
            old.unlink(missing_ok=True)


def cache_fingerprint(ctx: ParseContext, key: bytes) -> str:
    """Everything besides a file's bytes that its validated rows depend on."""
    h = hashlib.sha256()
    h.update(PARSER_VERSION.encode())
    h.update(str(ctx.max_year).encode())
    h.update("\n".join(sorted(ctx.town_codes.to_list())).encode())
    h.update(key_fingerprint(key).encode())
    return h.hexdigest()[:16]


def _rejected_outcome(f: RawFile, message: str) -> FileOutcome:
    return FileOutcome(f, "rejected", 0, 0, message, None, pl.DataFrame(schema=REJECTED_SCHEMA))


def validate_file(f: RawFile, spec: SourceSpec, ctx: ParseContext, keyer: PersonKeyer,
                  cache: IngestCache) -> FileOutcome:
    """One file's outcome. Whatever goes wrong with this file rejects this file only.

    A verdict on the bytes (not a table, too large, a header missing) is cached with them; an
    accident (the file changed or vanished while read, an I/O error, a bug) is not, so the
    next refresh tries again."""
    cached = cache.get(f)
    if cached is not None:
        return cached
    try:
        table = read_cells(f.path, spec, read_version(f.path, f.sha256))
        v = validate_table(table.frame, spec, ctx, table.money_factors)
        del table
        accepted = finish_source_columns(spec.name, v.accepted, keyer)
    except FileRejected as exc:  # the message may quote a title row or a header: masked
        return cache.put(_rejected_outcome(f, mask_ids(f"{exc.zh} / {exc.en}") or ""), None)
    except Exception as exc:  # noqa: BLE001 - one file's accident never stops the others
        return _rejected_outcome(f, failure_message(exc))
    n_bad_rows = v.rejected["source_row"].n_unique()
    rejected, left_out = cap_rejected(v.rejected)
    # what the cache keeps is echoed already: no clear person ID in any file of ours
    rejected = rejected.with_columns(echo_expr(pl.col("value")).alias("value"))
    msg = ""
    if n_bad_rows:
        zh = f"{n_bad_rows} 行被拒收，见 dq_rejected_row"
        en = f"{n_bad_rows} rows rejected, see dq_rejected_row"
        if left_out:
            zh += f"；其中 {left_out} 行未逐条列出（每条规则只列前 {REJECTED_ROWS_PER_RULE:,} 行）"
            en += f"; {left_out} of them not listed (the first {REJECTED_ROWS_PER_RULE:,} rows of each rule are)"
        msg = f"{zh} / {en}"
    o = FileOutcome(f, "loaded", v.rows_read, v.rows_read - n_bad_rows, msg, None, rejected)
    return cache.put(o, accepted)


def ingest_workers() -> int:
    """Processes that validate files side by side (TOWNSTAT_INGEST_WORKERS; default: cores)."""
    return settings.ingest_workers()


def _validate_in_worker(f: RawFile, source: str, ctx: ParseContext, key: bytes,
                        cache_root: str, fingerprint: str) -> str:
    """Run in a worker process: validate one file into the cache; the parent reads it back."""
    validate_file(f, SOURCES[source], ctx, _worker_keyer(key), IngestCache(cache_root, fingerprint))
    return f.sha256


def _init_worker(threads: str) -> None:
    # before Polars starts its thread pool in this process
    os.environ["POLARS_MAX_THREADS"] = threads


_WORKER_KEYERS: dict[bytes, PersonKeyer] = {}


def _worker_keyer(key: bytes) -> PersonKeyer:
    """One keyer per worker process, so a person is hashed once per worker, not per file."""
    return _WORKER_KEYERS.setdefault(key, PersonKeyer(key))


def _validate_parallel(todo: list[RawFile], source: str, ctx: ParseContext, key: bytes,
                       cache: IngestCache, progress: Callable[[str], None] | None) -> None:
    """Validate uncached files in worker processes; results land in the cache."""
    workers = min(ingest_workers(), len(todo))
    # spawn, not fork: the parent runs Polars' thread pool, which must not be forked
    ctx_mp = multiprocessing.get_context("spawn")
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    with ProcessPoolExecutor(workers, mp_context=ctx_mp, initializer=_init_worker,
                             initargs=(threads,)) as pool:
        futures = {pool.submit(_validate_in_worker, f, source, ctx, key, str(cache.root.parent),
                               cache.root.name): f for f in todo}
        for done, fut in enumerate(as_completed(futures), 1):
            try:
                fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker lost: the parent validates the file itself
                log.warning("校验进程失败（%s），该文件改由主进程处理 / a validation worker failed (%s); the "
                            "file is validated in the main process", exc.__class__.__name__,
                            exc.__class__.__name__)
            if progress:
                progress(f"[{source} {done}/{len(todo)} validated] {mask_ids(futures[fut].relpath)}")


def ingest_source(source: str, files: list[RawFile], ctx: ParseContext, key: bytes,
                  cache: IngestCache, progress: Callable[[str], None] | None = None,
                  lazy: bool = False) -> SourceResult:
    """Validate every file of one source and keep the current version of each key.

    `lazy`: return the fact as a LazyFrame over the cached Parquet files (when there is a
    cache), so that 35 million enrolment rows stream to their next home instead of being
    held in memory.
    """
    spec = SOURCES[source]
    seen_sha: dict[str, str] = {}
    ordered = sorted(files, key=lambda f: (f.mtime, f.relpath))
    unique: list[RawFile] = []
    for f in ordered:
        if f.sha256 not in seen_sha:
            seen_sha[f.sha256] = f.relpath
            unique.append(f)
    todo = [f for f in unique if cache.get(f) is None]
    with tempfile.TemporaryDirectory(prefix="townstat-ingest-") as scratch:
        if len(todo) > 1 and ingest_workers() > 1:
            if cache.root is None:  # workers hand results back through a cache
                cache = IngestCache(Path(scratch), "run")
            _validate_parallel(todo, source, ctx, key, cache, progress)
        keyer = PersonKeyer(key)
        outcomes: list[FileOutcome] = []
        for i, f in enumerate(ordered, 1):
            if seen_sha[f.sha256] != f.relpath:
                outcomes.append(FileOutcome(
                    f, "duplicate", 0, 0,
                    f"与 {seen_sha[f.sha256]} 内容完全相同，只读取一次 / same bytes as "
                    f"{seen_sha[f.sha256]}, loaded once",
                    None, pl.DataFrame(schema=REJECTED_SCHEMA)))
                continue
            if progress and f in todo and ingest_workers() == 1:
                progress(f"[{source} {i}/{len(ordered)}] {mask_ids(f.relpath)}")
            outcomes.append(validate_file(f, spec, ctx, keyer, cache))

        parts = [
            o.accepted.with_columns(pl.lit(o.file.file_id).alias("source_file_id"),
                                    pl.lit(order, dtype=pl.Int32).alias("__version"))
            for order, o in enumerate(outcomes) if o.accepted is not None
        ]
        partition = PARTITION_COLUMN.get(source)
        partitions = _partition_files(outcomes, partition)
        lazy = lazy and cache.root is not None and not cache.root.is_relative_to(scratch)
        current = supersede(parts, list(spec.fact_key), partition, lazy, _versions(partitions)) \
            if parts else empty_fact(source).lazy()
        current = current.select(fact_columns(source)).cast(fact_dtypes(source))
        if not lazy:
            current = current.collect()
        # rejected rows are read now: the scratch folder goes when this block ends
        for o in outcomes:
            o.accepted = None
    # not sorted here: the warehouse sorts on load, and readers order by key
    return SourceResult(source, current, outcomes, partitions)


def _partition_files(outcomes: list[FileOutcome], column: str | None) -> pl.DataFrame | None:
    """(part, files, versions): each partition value with the ids of the files holding its rows
    and their positions in `outcomes` (the file versions of `supersede`)."""
    if column is None:
        return None
    accepted = [(order, o) for order, o in enumerate(outcomes) if o.accepted is not None]
    if not accepted:
        return pl.DataFrame(schema={"part": pl.String, "files": pl.String, "versions": pl.List(pl.Int32)})
    if all(o.parts is not None for _, o in accepted):  # remembered with each file
        per_file = pl.DataFrame(
            {"part": [p for _, o in accepted for p in o.parts],
             "version": [order for order, o in accepted for _ in o.parts],
             "file_id": [o.file.file_id for _, o in accepted for _ in o.parts]},
            schema={"part": pl.String, "version": pl.Int32, "file_id": pl.String})
    else:
        per_file = pl.concat([
            o.accepted.select(pl.col(column).unique().cast(pl.String).alias("part"),
                              pl.lit(order, dtype=pl.Int32).alias("version"),
                              pl.lit(o.file.file_id).alias("file_id"))
            for order, o in accepted]).collect()
    return (per_file.drop_nulls("part").sort("part", "version").group_by("part", maintain_order=True)
            .agg(pl.col("file_id").str.join(",").alias("files"), pl.col("version").alias("versions")))


def _versions(partitions: pl.DataFrame | None) -> dict[str, list[int]] | None:
    return None if partitions is None else dict(partitions.select("part", "versions").iter_rows())


# Files of these sources usually cover distinct years or months: rows of a period that only
# one file holds cannot be superseded, so only shared periods need the (costly) window.
PARTITION_COLUMN = {"enterprise": "year", "tax": "period", "employment": "period"}


def supersede(parts: list[pl.LazyFrame], key: list[str], partition: str | None,
              lazy: bool = False, versions: dict[str, list[int]] | None = None) -> pl.LazyFrame:
    """For each key, the row of the latest file version (`__version`) that has it.

    With a `partition` column, `versions` gives the file versions holding each of its values
    (as text; `_partition_files`): rows of a value only one file holds cannot be superseded,
    so only the shared values need the (costly) window."""
    stacked = pl.concat(parts, how="diagonal_relaxed")
    latest = pl.col("__version") == pl.col("__version").max().over(key)
    if partition is None:
        return stacked.filter(latest).drop("__version")
    if versions is None:  # without them every key would be taken as unique to its file
        raise ValueError("supersede: a partitioned source needs the file versions of each partition value")
    shared = [part for part, v in versions.items() if len(set(v)) > 1]
    if not shared:
        return stacked.drop("__version")
    in_shared = pl.col(partition).cast(pl.String).is_in(pl.Series(shared, dtype=pl.String).implode())
    return pl.concat([stacked.filter(~in_shared), stacked.filter(in_shared).filter(latest)]
                     ).drop("__version")


#: Polars dtype of a fact column by its kind (schemas.columns): a read column has the dtype
#: its parser gives; the kinds only derived columns have are text.
FACT_DTYPES: dict[str, pl.DataType] = {
    **VALUE_DTYPES, "person_key": pl.String(), "county": pl.String(), "file_id": pl.String(),
}


def fact_dtypes(source: str) -> dict[str, pl.DataType]:
    """Column -> Polars dtype of a source's fact (and of its cache), in the order its spec gives."""
    return {c.name: FACT_DTYPES[c.kind] for c in SOURCES[source].fact_columns}


def fact_columns(source: str) -> list[str]:
    return [c.name for c in SOURCES[source].fact_columns]


def empty_fact(source: str) -> pl.DataFrame:
    return pl.DataFrame(schema=fact_dtypes(source))
