"""The cache policy of a source's current fact (`pipelines/ingest/fact_cache.py`): the digest
it is kept under, the partition fingerprints, and which kept fact is reused and counts as
already checked. Expected digests are written out from the format by hand, not read back."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import polars as pl

from pipelines.ingest.fact_cache import (
    KeptFact,
    checked_marker,
    fact_digest,
    keep_fact,
    partition_fingerprints,
)
from pipelines.ingest.sources import IngestCache


def outcome(file_id: str, status: str) -> SimpleNamespace:
    return SimpleNamespace(file=SimpleNamespace(file_id=file_id), status=status)


def test_fact_digest_is_the_fingerprint_then_each_file_id_and_status_in_order():
    digest = fact_digest("fp16", [outcome("aaa", "loaded"), outcome("bbb", "rejected")])
    assert digest == hashlib.sha256(b"fp16aaa:loaded\nbbb:rejected\n").hexdigest()
    assert fact_digest("fp16", []) == hashlib.sha256(b"fp16").hexdigest()


def test_fact_digest_changes_with_the_order_a_status_or_the_fingerprint():
    base = fact_digest("fp", [outcome("a", "loaded"), outcome("b", "loaded")])
    assert fact_digest("fp", [outcome("b", "loaded"), outcome("a", "loaded")]) != base  # versions
    assert fact_digest("fp", [outcome("a", "loaded"), outcome("b", "duplicate")]) != base
    assert fact_digest("fq", [outcome("a", "loaded"), outcome("b", "loaded")]) != base
    assert fact_digest("fp", [outcome("a", "loaded"), outcome("b", "loaded")]) == base


def test_partition_fingerprints_one_per_part_from_its_files_under_the_fingerprint():
    parts = pl.DataFrame({"part": ["2024-01", "2024-02"], "files": ["f1,f2", "f2"],
                          "versions": [[0, 1], [1]]},
                         schema={"part": pl.String, "files": pl.String, "versions": pl.List(pl.Int32)})
    out = partition_fingerprints("fp", parts)
    assert out.schema == pl.Schema({"part": pl.String, "fingerprint": pl.String})
    assert out.rows() == [("2024-01", hashlib.sha256(b"fp|f1,f2").hexdigest()),
                          ("2024-02", hashlib.sha256(b"fp|f2").hexdigest())]


FACT = pl.DataFrame({"period": ["2024-01", "2024-02"], "uscc": ["A", "B"], "total_tax": [1.5, 2.25]})
D1, D2 = "1" * 64, "2" * 64


def test_without_a_cache_the_fact_is_staged_as_built_and_never_counts_as_checked(tmp_path):
    kept = keep_fact(IngestCache(None, "fp"), "tax", D1, FACT)
    assert kept == KeptFact((), ())
    assert not kept.checked_before
    assert kept.scan(FACT).collect().equals(FACT)
    assert kept.scan_unchecked(FACT).collect().equals(FACT)
    kept.mark_checked()  # nothing to mark
    assert kept == KeptFact((), ())


def test_a_fact_is_written_once_reused_and_counts_as_checked_only_after_its_mark(tmp_path):
    cache = IngestCache(tmp_path, "fp")
    path = tmp_path / "fp" / "facts" / f"tax-{'1' * 32}.parquet"

    first = keep_fact(cache, "tax", D1, FACT)
    assert first == KeptFact((path,), (path,)) and not first.checked_before
    assert pl.read_parquet(path).equals(FACT)
    assert first.scan(pl.DataFrame()).collect().equals(FACT)  # the kept file, not `current`
    written = path.stat().st_mtime_ns, path.stat().st_ino

    # the check has not passed (or not run) yet: reused, but not taken as checked
    other = FACT.with_columns(total_tax=pl.lit(9.0))
    second = keep_fact(cache, "tax", D1, other)
    assert second == KeptFact((path,), (path,))
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == written  # not written again
    assert pl.read_parquet(path).equals(FACT)

    second.mark_checked()
    assert checked_marker(path) == path.with_name(f"tax-{'1' * 32}.checked")
    assert checked_marker(path).exists()
    third = keep_fact(cache, "tax", D1, FACT)
    assert third == KeptFact((path,), ()) and third.checked_before


def test_new_content_replaces_the_older_fact_and_its_mark(tmp_path):
    cache = IngestCache(tmp_path, "fp")
    old = keep_fact(cache, "tax", D1, FACT)
    old.mark_checked()
    changed = FACT.head(1)
    new = keep_fact(cache, "tax", D2, changed)
    path = tmp_path / "fp" / "facts" / f"tax-{'2' * 32}.parquet"
    assert new == KeptFact((path,), (path,))
    assert pl.read_parquet(path).equals(changed)
    assert not old.files[0].exists() and not checked_marker(old.files[0]).exists()


def test_a_damaged_kept_fact_is_written_again_and_checked_again(tmp_path):
    cache = IngestCache(tmp_path, "fp")
    kept = keep_fact(cache, "tax", D1, FACT)
    kept.mark_checked()
    path = kept.files[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    again = keep_fact(cache, "tax", D1, FACT)
    assert again == KeptFact((path,), (path,))  # its mark went with it
    assert not checked_marker(path).exists()
    assert pl.read_parquet(path).equals(FACT)


# a fact with months: one file per month, named by the month's fingerprint
MONTHS = pl.DataFrame({"part": ["2024-01", "2024-02"], "fingerprint": ["a" * 64, "b" * 64]})


def _part(tmp_path, part: str, fp: str):
    return tmp_path / "fp" / "facts" / "tax" / f"{part}-{fp[:32]}.parquet"


def test_a_fact_with_months_is_kept_one_file_per_month(tmp_path):
    cache = IngestCache(tmp_path, "fp")
    jan, feb = _part(tmp_path, "2024-01", "a" * 64), _part(tmp_path, "2024-02", "b" * 64)
    kept = keep_fact(cache, "tax", D1, FACT.lazy(), MONTHS, "period")
    assert kept == KeptFact((jan, feb), (jan, feb))
    assert pl.read_parquet(jan).rows() == [("2024-01", "A", 1.5)]
    assert pl.read_parquet(feb).rows() == [("2024-02", "B", 2.25)]
    assert kept.scan(pl.DataFrame()).collect().sort("period").equals(FACT)
    kept.mark_checked()
    assert checked_marker(jan).exists() and checked_marker(feb).exists()


def test_a_new_month_file_writes_and_checks_that_month_only(tmp_path):
    cache = IngestCache(tmp_path, "fp")
    keep_fact(cache, "tax", D1, FACT, MONTHS, "period").mark_checked()
    jan, feb = _part(tmp_path, "2024-01", "a" * 64), _part(tmp_path, "2024-02", "b" * 64)
    written = jan.stat().st_mtime_ns, jan.stat().st_ino
    # February re-sent (a new fingerprint for it), and a March
    resent = pl.DataFrame({"period": ["2024-01", "2024-02", "2024-03"], "uscc": ["A", "B", "C"],
                           "total_tax": [1.5, 9.0, 3.0]})
    months = pl.DataFrame({"part": ["2024-01", "2024-02", "2024-03"],
                           "fingerprint": ["a" * 64, "c" * 64, "d" * 64]})
    kept = keep_fact(cache, "tax", D2, resent, months, "period")
    feb2, mar = _part(tmp_path, "2024-02", "c" * 64), _part(tmp_path, "2024-03", "d" * 64)
    assert kept == KeptFact((jan, feb2, mar), (feb2, mar)) and not kept.checked_before
    assert (jan.stat().st_mtime_ns, jan.stat().st_ino) == written  # January not written again
    assert not feb.exists() and not checked_marker(feb).exists()  # the old February is gone
    assert kept.scan_unchecked(pl.DataFrame()).collect().sort("period").rows() == [
        ("2024-02", "B", 9.0), ("2024-03", "C", 3.0)]
    assert kept.scan(pl.DataFrame()).collect().sort("period").equals(resent)


def test_year_parts_of_an_integer_column(tmp_path):
    reports = pl.DataFrame({"year": [2023, 2024, 2024], "uscc": ["A", "A", "B"]},
                           schema={"year": pl.Int32, "uscc": pl.String})
    years = pl.DataFrame({"part": ["2023", "2024"], "fingerprint": ["e" * 64, "f" * 64]})
    kept = keep_fact(IngestCache(tmp_path, "fp"), "enterprise", D1, reports, years, "year")
    assert [pl.read_parquet(p).height for p in kept.files] == [1, 2]
    assert [p.parent.name for p in kept.files] == ["enterprise", "enterprise"]


def test_a_fact_kept_whole_by_an_older_version_is_removed_when_kept_in_months(tmp_path):
    cache = IngestCache(tmp_path, "fp")
    whole = keep_fact(cache, "tax", D1, FACT).files[0]
    keep_fact(cache, "tax", D1, FACT, MONTHS, "period")
    assert not whole.exists()
    # and back: months removed when the fact is kept whole (no months)
    keep_fact(cache, "tax", D1, FACT)
    assert list((tmp_path / "fp" / "facts" / "tax").glob("*.parquet")) == []
