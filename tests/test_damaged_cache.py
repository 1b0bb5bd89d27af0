"""A cache that cannot hurt (issue 12 item 5, contract v4 section 3): every kind of file the
pipeline keeps for itself, truncated, deleted or overwritten, is rebuilt from the raw files;
the refresh publishes exactly what a refresh from a clean cache publishes, and says so in its
log."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest

from pipelines.refresh import run_refresh
from tests.test_hostile_raw_area import assert_same_tables, clean_area, tables


def kinds(cache: Path) -> dict[str, list[Path]]:
    """The files of the cache by kind (each kind must be present to be damaged)."""
    files = [p for p in cache.rglob("*") if p.is_file()]
    return {
        "hash list": [p for p in files if p.name == "raw_hashes.json"],
        "entry": [p for p in files if p.name.endswith(".json") and p.name != "raw_hashes.json"],
        "accepted rows": [p for p in files if p.name.endswith(".accepted.parquet")],
        "rejected rows": [p for p in files if p.name.endswith(".rejected.parquet")],
        "stamp": [p for p in files if p.name.endswith(".parquet.ok")],
        "current fact": [p for p in files if "facts" in p.parts and p.suffix == ".parquet"],
        "checked mark": [p for p in files if p.suffix == ".checked"],
        "memo": [p for p in files if p.parent.name == "derived" and p.suffix == ".parquet"],
    }


def damage(path: Path, how: str, rng: random.Random) -> None:
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:  # garbage of the same size
        path.write_bytes(bytes(rng.randrange(256) for _ in range(max(1, path.stat().st_size))))


@pytest.mark.parametrize("how", ["truncate", "delete", "garbage"])
def test_every_kind_of_cache_file_damaged_is_rebuilt_and_publishes_the_same(tmp_path, how, caplog):
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    clean_area(raw)
    clean_url = f"sqlite:///{tmp_path / 'clean.sqlite'}"
    assert run_refresh(raw, clean_url, cache_dir=str(cache)).published
    expected = tables(clean_url)

    rng = random.Random(7)
    found = kinds(cache)
    assert all(found.values()), {k: len(v) for k, v in found.items()}
    for files in found.values():
        for p in rng.sample(files, k=min(2, len(files))):
            if p.exists():
                damage(p, how, rng)

    caplog.set_level(logging.WARNING)
    # into the same warehouse (the nightly case) and into a new one (every table from the cache)
    assert run_refresh(raw, clean_url, cache_dir=str(cache)).published
    assert_same_tables(expected, tables(clean_url))
    fresh_url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    assert run_refresh(raw, fresh_url, cache_dir=str(cache)).published
    assert_same_tables(expected, tables(fresh_url))
    if how != "delete":  # a missing file is simply a miss; a damaged one is worth a word
        assert any("rebuilt" in r.getMessage() or "hashed again" in r.getMessage() for r in caplog.records)
