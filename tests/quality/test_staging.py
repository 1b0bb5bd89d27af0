"""The GX staging copy (`pipelines/quality/staging.py`): where it is, its lock, and when it is
built again. The suite itself is replaced by a stand-in that reads the staging copy back (the
real suite on a staging copy: `test_gx_blocks_publication.py`)."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

import pipelines.quality.staging as staging
from pipelines.quality.expectations import QualityResult
from pipelines.warehouse.read import read_table
from tests.indicators.synthetic_facts import towns_frame

TOWNS = ["140823100", "140823101"]


def test_staging_file_in_the_cache_else_in_the_temporary_folder(tmp_path):
    assert staging.staging_file(None, tmp_path / "t") == tmp_path / "t" / "staging.sqlite"
    assert staging.staging_file("", tmp_path / "t") == tmp_path / "t" / "staging.sqlite"
    cache = tmp_path / "not" / "yet"
    assert staging.staging_file(str(cache), tmp_path / "t") == cache / "gx-staging.sqlite"
    assert cache.is_dir()
    assert staging.lock_file(cache / "gx-staging.sqlite") == cache / "gx-staging.lock"


def test_the_lock_is_exclusive_while_held(tmp_path):
    copy = tmp_path / "gx-staging.sqlite"

    def try_lock() -> bool:
        with open(tmp_path / "gx-staging.lock", "w") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

    with staging.staging_lock(copy):
        assert not try_lock()
    assert try_lock()


class Suite:
    """Stands in for `validate_warehouse`: reads dim_town from the copy, and fails critically
    on the calls listed in `critical_on` (1 = the first call)."""

    def __init__(self, critical_on: tuple[int, ...] = ()):
        self.critical_on = critical_on
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, url: str, docs: Path, kept: Path | None = None) -> QualityResult:
        towns = sorted(read_table(url, "dim_town")["town_code"].to_list())
        self.calls.append((url, towns))
        failed = ["dim_town.exists"] if len(self.calls) in self.critical_on else []
        return QualityResult(critical_failed=failed, warnings=[], results=[], docs_index=docs / "index.html")


@pytest.fixture
def suite(monkeypatch):
    def install(**kw) -> Suite:
        s = Suite(**kw)
        monkeypatch.setattr(staging, "validate_warehouse", s)
        return s
    return install


def run(cache, tmp_path, towns=TOWNS):
    warnings: list[str] = []
    result = staging.validate_staged({"dim_town": towns_frame(towns)}, cache, tmp_path / "docs",
                                     warn=warnings.append)
    return result, warnings


def test_a_kept_copy_is_updated_in_place_and_believed_when_clean(tmp_path, suite):
    s = suite()
    cache = tmp_path / "cache"
    result, warnings = run(str(cache), tmp_path)
    assert result.critical_failed == [] and warnings == []
    result, warnings = run(str(cache), tmp_path, towns=TOWNS[:1])
    assert result.critical_failed == [] and warnings == []
    url = f"sqlite:///{cache / 'gx-staging.sqlite'}"
    assert s.calls == [(url, TOWNS), (url, TOWNS[:1])]
    assert read_table(url, "dim_town")["town_code"].to_list() == TOWNS[:1]


def test_a_damaged_copy_is_built_again(tmp_path, suite):
    s = suite()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "gx-staging.sqlite").write_bytes(b"not a database" * 100)
    result, warnings = run(str(cache), tmp_path)
    assert result.critical_failed == []
    assert warnings == ["GX 暂存库已重建 / GX staging copy rebuilt (DatabaseError)"]
    assert [towns for _, towns in s.calls] == [TOWNS]  # the suite ran once, on the rebuilt copy


def test_a_critical_failure_on_the_kept_copy_is_checked_again_on_a_fresh_one(tmp_path, suite):
    s = suite(critical_on=(1,))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "gx-staging.sqlite.stale").write_text("left by a killed run")
    result, warnings = run(str(cache), tmp_path)
    assert result.critical_failed == []  # the second, clean result counts
    assert warnings == ["GX 暂存库已重建 / GX staging copy rebuilt (RuntimeError)"]
    assert len(s.calls) == 2
    assert not (cache / "gx-staging.sqlite.stale").exists()
    assert (cache / "gx-staging.lock").exists()


def test_a_critical_failure_on_the_fresh_copy_stands(tmp_path, suite):
    s = suite(critical_on=(1, 2))
    result, warnings = run(str(tmp_path / "cache"), tmp_path)
    assert result.critical_failed == ["dim_town.exists"]
    assert len(s.calls) == 2 and len(warnings) == 1


def test_without_a_cache_the_copy_is_temporary(tmp_path, suite):
    s = suite()
    result, warnings = run(None, tmp_path)
    assert result.critical_failed == [] and warnings == []
    (url, towns), = s.calls
    assert url.endswith("/staging.sqlite") and towns == TOWNS
    assert not Path(url.removeprefix("sqlite:///")).parent.exists()
