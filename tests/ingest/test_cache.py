"""Incremental ingest: a file already validated (same sha256) is not parsed again."""

import pipelines.ingest.sources as sources
from tests.ingest.rawfiles import ingest, person, uscc, write_csv


def _month(root, month: int, n: int):
    lines = ["所属期,公民身份号码,单位统一社会信用代码,户籍地区划代码,缴费基数"]
    lines += [f"2024-{month:02d},{person(i)},{uscc(1)},140823,{1000 + i}" for i in range(n)]
    write_csv(root / "employment" / f"2024-{month:02d}.csv", lines)


def test_second_refresh_reads_only_the_new_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWNSTAT_INGEST_WORKERS", "1")  # parse in this process, where we count
    reads: list[str] = []
    real = sources.read_cells
    monkeypatch.setattr(sources, "read_cells", lambda path, spec: reads.append(path.name) or real(path, spec))
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    _month(raw, 1, 5)
    _month(raw, 2, 7)
    first = ingest(raw, "employment", cache)
    assert sorted(reads) == ["2024-01.csv", "2024-02.csv"]

    reads.clear()
    again = ingest(raw, "employment", cache)
    assert reads == []
    assert again.current.equals(first.current)

    _month(raw, 3, 4)
    third = ingest(raw, "employment", cache)
    assert reads == ["2024-03.csv"]
    assert third.current.height == 5 + 7 + 4
    # the cache holds pseudonyms only
    text = b"".join(p.read_bytes() for p in cache.rglob("*") if p.is_file())
    assert all(person(i).encode() not in text for i in range(7))
