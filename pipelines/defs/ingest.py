"""Raw area -> validated facts: one asset per source, each with its blocking schema check."""

from pathlib import Path

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MetadataValue,
    Output,
    asset,
)

from pipelines.defs.io import FrameBundle, StagedParquet
from pipelines.defs.keys import ins
from pipelines.defs.memo import digest_memo
from pipelines.defs.resources import RawArea
from pipelines.indicators.attribution import taxpayer_years
from pipelines.indicators.memo import Memo
from pipelines.ingest.fact_cache import fact_digest, keep_fact, partition_fingerprints
from pipelines.ingest.fact_check import fact_schema_failures
from pipelines.ingest.file_records import (
    DQ_FILE_SCHEMA,
    DQ_REJECTED_SCHEMA,
    file_record,
    rejected_records,
    source_rejected_records,
    spec_for,
)
from pipelines.ingest.inventory import RawFile, scan_raw_area
from pipelines.ingest.pseudonymise import pii_key
from pipelines.ingest.references import read_references, reference_context
from pipelines.ingest.sources import PARTITION_COLUMN, IngestCache, cache_fingerprint, ingest_source
from pipelines.quality.flags import tax_mismatch_flags
from schemas.columns import SOURCES


@asset(key=["raw", "files"], group_name="raw", kinds={"python"},
       description="原始区文件清单 / every file of the raw area with its hash and mtime")
def raw_files(context: AssetExecutionContext, raw_area: RawArea) -> Output[list[RawFile]]:
    files = scan_raw_area(raw_area.root, raw_area.cache_dir or None)
    by_source: dict[str, int] = {}
    for f in files:
        by_source[f.source or "(none)"] = by_source.get(f.source or "(none)", 0) + 1
    return Output(files, metadata={
        "files": len(files),
        "bytes": sum(f.bytes for f in files),
        "by_source": MetadataValue.json(by_source),
        "raw_area": MetadataValue.path(str(raw_area.root.resolve())),
    })


@asset(key=["ingest", "references"], group_name="ingest", kinds={"polars"},
       ins=ins("files"),
       description="参考文件：乡镇、专业镇、龙头企业、全省产值 / reference files")
def references(context: AssetExecutionContext, files: list[RawFile]) -> Output[dict[str, pl.DataFrame]]:
    result = read_references([f for f in files if f.source == "reference" and f.problem is None])
    dq_files = [file_record(f, status, read, loaded, msg) for f, status, read, loaded, msg, _ in result.files]
    rejected = [rejected_records(f, rej, spec_for(f)) for f, *_, rej in result.files]
    out = {
        "dim_town": result.towns,
        "dim_specialty_town": result.specialty_towns,
        "ref_leading_enterprise": result.leading,
        "ref_market_total": result.market_totals,
        "ref_target": result.targets,
        "dq_file": _records_frame(dq_files),
        "dq_rejected_row": _concat_rejected(rejected),
    }
    return Output(out, metadata={
        "towns": result.towns.height,
        "specialty_towns": result.specialty_towns.height,
        "leading_list_rows": result.leading.height,
        "market_totals": result.market_totals.height,
        "reference_files": MetadataValue.md(_files_md(dq_files)),
    })


def _records_frame(records: list[dict]) -> pl.DataFrame:

    return pl.DataFrame(records, schema=DQ_FILE_SCHEMA)


def _concat_rejected(parts: list[pl.DataFrame]) -> pl.DataFrame:

    return pl.concat([pl.DataFrame(schema=DQ_REJECTED_SCHEMA), *parts])


def _files_md(records: list[dict]) -> str:
    lines = ["| 文件 file | 状态 status | 读入 read | 通过 loaded | 拒收 rejected |", "|---|---|---|---|---|"]
    for r in records[:50]:
        lines.append(f"| {r['path']} | {r['status']} | {r['rows_read']} | {r['rows_loaded']} | {r['rows_rejected']} |")
    if len(records) > 50:
        lines.append(f"| … {len(records) - 50} more | | | | |")
    return "\n".join(lines)


#: Frames made once from a source's fact for the steps downstream, beside it in the asset's
#: bundle: the tax fact's yearly sums per taxpayer, which four steps read instead of 6.7
#: million province rows each, and its total_tax_mismatch flags (dq/flags).
DERIVED = {"tax": {"taxpayer_year": taxpayer_years, "tax_mismatch": tax_mismatch_flags}}


def derived_frames(raw_area: RawArea, source: str, scan: pl.LazyFrame, parts: pl.DataFrame | None,
                   files: tuple[Path, ...]) -> dict[str, pl.LazyFrame | StagedParquet]:
    """`DERIVED` of a source. A fact kept by month (`files`, one per part of `parts`) gives each
    derived frame one kept file per year, named by its months' fingerprints: a new tax month
    sums its own year again, not every year's 4.7 million province rows (1.2 s a night; the
    mismatch flags 0.3 s)."""
    folder = Path(raw_area.cache_dir) / "derived" / "yearly" if raw_area.cache_dir else None
    made = DERIVED.get(source, {})
    if folder is None or parts is None or len(files) != parts.height or parts.height == 0:
        return {name: make(scan) for name, make in made.items()}
    years: dict[str, list[tuple[str, Path]]] = {}
    for (part, fingerprint), path in zip(parts.sort("part").select("part", "fingerprint").iter_rows(), files,
                                         strict=True):
        years.setdefault(str(part)[:4], []).append((fingerprint, path))
    out: dict[str, pl.LazyFrame | StagedParquet] = {}
    for name, make in made.items():
        kept = []
        for year, months in sorted(years.items()):
            memo = Memo(folder, *(fingerprint for fingerprint, _ in months))
            path = memo.kept(f"{name}_{year}", make(pl.scan_parquet([p for _, p in months])))
            assert path is not None
            kept.append(path)
        out[name] = StagedParquet(tuple(kept))
    return out


def build_ingest_asset(source: str):
    spec = SOURCES[source]
    key = AssetKey(["ingest", source])

    @asset(
        key=key,
        group_name="ingest",
        kinds={"polars", "pandera"},
        ins=ins("files", "refs"),
        check_specs=[AssetCheckSpec("fact_schema", asset=key, blocking=True,
                                    description="pandera: types, key unique, codes and ranges")],
        description=f"{spec.label_zh}：校验、去重、版本取代后的当前行 / validated current {source} rows",
    )
    def _ingest(context: AssetExecutionContext, raw_area: RawArea, files: list[RawFile],
                refs: FrameBundle):
        ctx = reference_context(refs["dim_town"])
        pii = pii_key()
        fingerprint = cache_fingerprint(ctx, pii)
        cache = IngestCache(raw_area.cache_dir or None, fingerprint)
        mine = [f for f in files if f.source == source and f.problem is None]
        result = ingest_source(source, mine, ctx, pii, cache, progress=context.log.info, lazy=True)
        dq_files = [file_record(o.file, o.status, o.rows_read, o.rows_loaded, o.message)
                    for o in result.outcomes]
        by_rule = result.rejected_by_rule()
        digest = fact_digest(fingerprint, result.outcomes)
        # the records of files that did not change are the ones kept last time: staged by a link
        records = source_rejected_records([(o.file, o.rejected) for o in result.outcomes], spec)
        memo = digest_memo(raw_area, digest)
        kept_records = memo.kept(f"dq_rejected_row-{source}", records)
        rejected: pl.DataFrame | StagedParquet = (
            StagedParquet((kept_records,)) if kept_records is not None else records.collect())
        parts = None if result.partitions is None else partition_fingerprints(fingerprint, result.partitions)
        kept = keep_fact(cache, source, digest, result.current, parts, PARTITION_COLUMN.get(source))
        fact: pl.DataFrame | pl.LazyFrame | StagedParquet = (
            StagedParquet(kept.files) if kept.files else result.current)
        scan = kept.scan(result.current)
        rows = scan.select(pl.len()).collect().item()
        outputs = {"fact": fact, "dq_file": _records_frame(dq_files), "dq_rejected_row": rejected,
                   "fingerprint": pl.DataFrame({"fingerprint": [digest]})}
        outputs.update(derived_frames(raw_area, source, scan, parts, kept.files))
        if parts is not None:
            outputs["partitions"] = parts
        yield Output(
            outputs,
            metadata={
                "dagster/row_count": rows,
                "files": len(mine),
                "rows_read": sum(o.rows_read for o in result.outcomes),
                "rows_loaded": sum(o.rows_loaded for o in result.outcomes),
                "rows_rejected": sum(o.rows_read - o.rows_loaded for o in result.outcomes),
                "rejected_by_rule": MetadataValue.json(by_rule),
                "files_table": MetadataValue.md(_files_md(dq_files)),
                "fact_reused": kept.checked_before,
                "rejected_records_reused": bool(memo.reused),
            },
        )
        if kept.checked_before:
            # the same content passed this check when it was first staged
            yield AssetCheckResult(check_name="fact_schema", asset_key=key, passed=True,
                                   severity=AssetCheckSeverity.ERROR,
                                   metadata={"failures": 0, "checked": "earlier, same content / 内容未变，沿用此前的检查"})
            return
        # the parts written by this refresh (all of them when there is no cache)
        unchecked = kept.scan_unchecked(result.current)
        failures = fact_schema_failures(source, unchecked, unchecked.select(pl.len()).collect().item())
        if failures is None:
            kept.mark_checked()
        yield AssetCheckResult(
            check_name="fact_schema",
            asset_key=key,
            passed=failures is None,
            severity=AssetCheckSeverity.ERROR,
            metadata={"failures": 0 if failures is None else failures.height,
                      "files_checked": f"{len(kept.unchecked)} / {len(kept.files)}" if kept.files else "-",
                      "sample": MetadataValue.md("" if failures is None
                                                 else str(failures.head(10)))},
        )

    return _ingest


INGEST_ASSETS = [build_ingest_asset(s) for s in SOURCES]
