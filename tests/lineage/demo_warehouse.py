"""The county demo raw area refreshed into a warehouse, built once per backend per test
process and shared by tests/lineage, tests/evaluation/test_terminal.py and
tests/indicators/test_demo_crosscheck.py (each asks for it from a module-scoped fixture).

Test modules import it as ``tests.lineage.demo_warehouse`` (one module, so one cache per
process).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DemoWarehouse:
    url: str
    raw: Path
    truth: Path
    backend: str


_raw: dict[str, tuple[Path, Path]] = {}
_built: dict[str, DemoWarehouse] = {}
_cache: list[Path] = []  # one ingest cache: the second backend re-reads validated rows


def _demo_area(tmp_path_factory) -> tuple[Path, Path]:
    if "county" not in _raw:
        from pipelines.demo import write_demo_raw_area

        root = tmp_path_factory.mktemp("lineage_county")
        summary = write_demo_raw_area(root / "raw", scale="county", seed=7)
        _raw["county"] = (Path(summary.out), Path(summary.truth_dir))
    return _raw["county"]


def published_demo(request, backend: str) -> DemoWarehouse:
    """The published county demo warehouse on ``backend`` ('sqlite' or 'postgresql')."""
    if backend in _built:
        return _built[backend]
    from pipelines.refresh import run_refresh

    factory = request.getfixturevalue("tmp_path_factory")
    raw, truth = _demo_area(factory)
    if backend == "sqlite":
        url = f"sqlite:///{factory.mktemp('lineage_wh') / 'warehouse.sqlite'}"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database(f"lineage_{uuid.uuid4().hex[:12]}")
    if not _cache:
        _cache.append(factory.mktemp("lineage_cache"))
    outcome = run_refresh(raw, url, cache_dir=str(_cache[0]))
    assert outcome.published, outcome.summary_text()
    _built[backend] = DemoWarehouse(url, raw, truth, backend)
    return _built[backend]

