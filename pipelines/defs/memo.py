"""The memo of indicator parts for the assets: keyed by the ingest fingerprints (`indicators/memo.py`)."""

from pathlib import Path

from dagster import MetadataValue

from pipelines.defs.io import FrameBundle
from pipelines.defs.resources import RawArea
from pipelines.indicators.memo import Memo
from pipelines.warehouse.frames import content_fingerprint


def facts_memo(raw_area: RawArea, refs: FrameBundle | None, *sources: FrameBundle) -> Memo:
    """The memo of parts computed from these sources' facts (and every reference table)."""
    inputs = [s["fingerprint"]["fingerprint"][0] for s in sources]
    if refs is not None:
        inputs += [content_fingerprint(refs[name]) for name in refs if name not in ("dq_file", "dq_rejected_row")]
    folder = Path(raw_area.cache_dir) / "derived" if raw_area.cache_dir else None
    return Memo(folder, *inputs)


def digest_memo(raw_area: RawArea, digest: str) -> Memo:
    """The memo of what one source's files alone decide (its `dq_rejected_row` records), keyed
    by the source's fact digest (`fact_cache.fact_digest`: the files, their order and status,
    the cache fingerprint), in a folder of their own below the indicator parts."""
    folder = Path(raw_area.cache_dir) / "derived" / "records" if raw_area.cache_dir else None
    return Memo(folder, digest)


def memo_metadata(memo: Memo) -> dict[str, MetadataValue]:
    """What came from the cache: a person reading the run sees why a step was quick."""
    return {"memo_reused": MetadataValue.json(memo.reused), "memo_computed": MetadataValue.json(memo.computed)}
