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
    monkeypatch.setattr(sources, "read_cells", lambda path, spec, *data: reads.append(path.name) or real(path, spec, *data))
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


def test_partition_values_are_remembered_with_each_file(tmp_path, monkeypatch):
    import json

    import polars as pl

    monkeypatch.setenv("TOWNSTAT_INGEST_WORKERS", "1")
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    _month(raw, 1, 5)
    _month(raw, 2, 7)
    # a re-sent February (newer file): its rows supersede those of the same key, January's stay
    lines = ["所属期,公民身份号码,单位统一社会信用代码,户籍地区划代码,缴费基数"]
    lines += [f"2024-02,{person(i)},{uscc(1)},140823,{5000 + i}" for i in range(3)]
    write_csv(raw / "employment" / "2024-02_补报.csv", lines, mtime=2_000_000_000)
    first = ingest(raw, "employment", cache)
    metas = [json.loads(p.read_text()) for p in cache.rglob("*.json")]
    assert sorted(tuple(m["parts"]) for m in metas) == [("2024-01",), ("2024-02",), ("2024-02",)]
    # read back from the cache (parts from the json), and as an older cache without them (scanned)
    again = ingest(raw, "employment", cache)
    for p in cache.rglob("*.json"):
        meta = json.loads(p.read_text())
        del meta["parts"]
        p.write_text(json.dumps(meta))
    scanned = ingest(raw, "employment", cache)
    key = ["period", "person_key", "employer_uscc"]
    for other in (again, scanned):
        assert other.current.sort(key).equals(first.current.sort(key))
        assert other.partitions.equals(first.partitions)
    cur = first.current
    # 5 January rows + 7 February rows, the first 3 of them (persons 0-2) as the revision has them
    assert cur.height == 5 + 7
    assert sorted(cur.filter(pl.col("period") == "2024-02")["contribution_base"].to_list()) == \
        [1003, 1004, 1005, 1006, 5000, 5001, 5002]
    assert first.partitions["part"].to_list() == ["2024-01", "2024-02"]
    assert first.partitions["versions"].to_list() == [[0], [1, 2]]
