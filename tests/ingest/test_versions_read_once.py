"""One read per version (issue 12 item 4, contract v4 section 2): a file is hashed and parsed
from the same bytes; a file that changes or vanishes while it is read is not recorded under the
listed version's hash, and the next refresh reads what is there."""

from __future__ import annotations

from pipelines.ingest.inventory import scan_raw_area
from pipelines.ingest.pseudonymise import DEMO_PII_KEY
from pipelines.ingest.readers import CHANGED_MESSAGE, GONE_MESSAGE
from pipelines.ingest.references import read_references, reference_context
from pipelines.ingest.sources import IngestCache, cache_fingerprint, ingest_source
from tests.ingest.rawfiles import uscc, write_csv

TAX_HEADER = "所属期,纳税人识别号,增值税"


def _ingest(files, cache_dir):
    refs = read_references([f for f in files if f.source == "reference"])
    ctx = reference_context(refs.towns)
    key = DEMO_PII_KEY.encode()
    cache = IngestCache(cache_dir, cache_fingerprint(ctx, key))
    return ingest_source("tax", [f for f in files if f.source == "tax"], ctx, key, cache), cache


def test_a_file_changed_after_hashing_is_not_cached_under_the_old_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWNSTAT_INGEST_WORKERS", "1")
    raw, cache_dir = tmp_path / "raw", tmp_path / "cache"
    path = write_csv(raw / "tax" / "t.csv", [TAX_HEADER, f"2024-01,{uscc(1)},10"])
    listed = scan_raw_area(raw)
    old_sha = listed[0].sha256
    write_csv(path, [TAX_HEADER, f"2024-01,{uscc(1)},20"])  # rewritten before it is read

    result, cache = _ingest(listed, cache_dir)
    assert result.outcomes[0].status == "rejected" and result.outcomes[0].message == CHANGED_MESSAGE
    assert result.current.height == 0  # the new bytes are not published as the old version
    assert not list(cache_dir.rglob(f"{old_sha}*")), "cached under the version it is not"

    # the next refresh lists and reads the new version
    result, _ = _ingest(scan_raw_area(raw), cache_dir)
    assert result.outcomes[0].status == "loaded"
    assert result.current.select("uscc", "vat").rows() == [(uscc(1), 20.0)]


def test_a_file_removed_after_listing_is_rejected_and_the_others_load(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWNSTAT_INGEST_WORKERS", "1")
    raw = tmp_path / "raw"
    gone = write_csv(raw / "tax" / "a.csv", [TAX_HEADER, f"2024-01,{uscc(1)},10"], mtime=1_700_000_000)
    write_csv(raw / "tax" / "b.csv", [TAX_HEADER, f"2024-02,{uscc(2)},30"], mtime=1_700_000_001)
    listed = scan_raw_area(raw)
    gone.unlink()
    result, _ = _ingest(listed, tmp_path / "cache")
    by_path = {o.file.relpath: o for o in result.outcomes}
    assert by_path["tax/a.csv"].status == "rejected" and by_path["tax/a.csv"].message == GONE_MESSAGE
    assert by_path["tax/b.csv"].status == "loaded"
    assert result.current.select("uscc", "vat").rows() == [(uscc(2), 30.0)]
