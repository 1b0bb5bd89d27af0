"""Time (and keep the outputs of) the pipeline's ingest of one source, for profiling.

Like `bench/steps.py ingest`, but the cache folder is given, so that the validated rows of
each file (`<sha>.accepted.parquet`, `<sha>.rejected.parquet`) stay there to be compared
between two versions of the code (`--compare A B`), and the current fact can be kept too.

  python bench/ingest_profile.py --raw /tmp/sample/raw --source employment --cache /tmp/c1
  python bench/ingest_profile.py --compare /tmp/c1 /tmp/c2

Profile with py-spy (installed outside the project's venv):
  py-spy record -o prof.svg --native --subprocesses -- .venv/bin/python bench/ingest_profile.py ...
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def run(raw: Path, source: str, cache_dir: Path, fact: Path | None) -> None:
    from pipelines.ingest.inventory import scan_raw_area
    from pipelines.ingest.pseudonymise import pii_key
    from pipelines.ingest.references import read_references, reference_context
    from pipelines.ingest.sources import IngestCache, cache_fingerprint, ingest_source

    if cache_dir.exists():
        shutil.rmtree(cache_dir)
    cache_dir.mkdir(parents=True)
    files = scan_raw_area(raw)
    refs = read_references([f for f in files if f.source == "reference"])
    ctx = reference_context(refs.towns)
    key = pii_key()
    cache = IngestCache(cache_dir, cache_fingerprint(ctx, key))
    mine = [f for f in files if f.source == source]
    load = os.getloadavg()
    t = time.perf_counter()
    result = ingest_source(source, mine, ctx, key, cache)
    seconds = time.perf_counter() - t
    rows = sum(o.rows_read for o in result.outcomes)
    print(f"ingest {source}: {len(mine)} files, {rows:,} rows in {seconds:.2f}s "
          f"({rows / seconds:,.0f} rows/s), current {result.current.height:,} rows, "
          f"load average {load[0]:.2f} -> {os.getloadavg()[0]:.2f}", flush=True)
    for o in result.outcomes:
        print(f"  {o.file.relpath}: {o.status} read {o.rows_read:,} loaded {o.rows_loaded:,} "
              f"rejected records {o.rejected.height:,}", flush=True)
    if fact is not None:
        result.current.sort(result.current.columns).write_parquet(fact)


def compare(a: Path, b: Path) -> int:
    import polars as pl
    from polars.testing import assert_frame_equal

    def entries(root: Path) -> dict[str, Path]:
        return {p.name: p for p in root.rglob("*.parquet") if "facts" not in p.parts}

    ea, eb = entries(a), entries(b)
    bad = 0
    if set(ea) != set(eb):
        print("different entries:", sorted(set(ea) ^ set(eb)))
        bad += 1
    for name in sorted(set(ea) & set(eb)):
        fa, fb = pl.read_parquet(ea[name]), pl.read_parquet(eb[name])
        try:
            assert_frame_equal(fa, fb, check_exact=True)
            print(f"same: {name} ({fa.height:,} rows, {fa.width} columns)")
        except AssertionError as exc:
            bad += 1
            print(f"DIFFERENT: {name}: {str(exc)[:300]}")
    return bad


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--raw", type=Path)
    p.add_argument("--source", default="employment")
    p.add_argument("--cache", type=Path)
    p.add_argument("--fact", type=Path, help="write the current fact here, sorted, as Parquet")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("CACHE_A", "CACHE_B"))
    a = p.parse_args()
    if a.compare:
        sys.exit(1 if compare(*a.compare) else 0)
    if a.raw is None or a.cache is None:
        p.error("--raw and --cache are needed (or --compare)")
    run(a.raw, a.source, a.cache, a.fact)


if __name__ == "__main__":
    main()
