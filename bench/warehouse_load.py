"""Warehouse load rate: `publish()` against each database's own bulk path, same rows.

    python bench/warehouse_load.py --rows 2000000 [--backend sqlite|postgresql|both]
        [--parquet] [--no-reference] [--existing]

`--parquet` hands `publish()` a scan of a Parquet file (the way the pipeline publishes its
large facts, from staged Parquet) instead of a frame held in memory; `--existing` publishes
into a warehouse file that already exists (WAL, the incremental path) instead of a new file
(the cold path); `--no-reference` skips the reference. Peak RSS of this process and of its
children (the load workers) and the 1-minute load average before and after are printed.

The rows are shaped like `fact_employment_month` (the largest table: 35 million rows at
province scale). References, the databases' own bulk loaders into an identical table with
the same primary key:
- SQLite: the `sqlite3` shell's `.import` of a CSV file (C code, no Python per row);
- PostgreSQL: server-side `COPY ... FROM 'file.csv'`.
Prints rows/s of both and the ratio; the CSV writing is not counted for the references.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

COLUMNS = ("period, person_key, employer_uscc, year, hukou_code, hukou_county_code, "
           "contribution_base, source_file_id, source_row")
DDL = ("CREATE TABLE ref (period VARCHAR(7) NOT NULL, person_key VARCHAR(64) NOT NULL, "
       "employer_uscc VARCHAR(18) NOT NULL, year INTEGER NOT NULL, hukou_code VARCHAR(12), "
       "hukou_county_code VARCHAR(6) NOT NULL, contribution_base FLOAT, source_file_id VARCHAR(16), "
       "source_row BIGINT, PRIMARY KEY (period, person_key, employer_uscc)){suffix}")


class RssSampler:
    """Peak resident memory of this process and of this process plus its children (the load
    workers), sampled from /proc every 0.2 s (a child's `ru_maxrss` would count the parent's
    pages it was forked with)."""

    def __init__(self) -> None:
        import threading

        self.self_mb = self.total_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss_mb(pid: int) -> float:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    @staticmethod
    def _children(pid: int) -> list[int]:
        try:
            kids = [int(k) for k in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []
        return kids + [g for k in kids for g in RssSampler._children(k)]

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.2):
            own = self._rss_mb(me)
            self.self_mb = max(self.self_mb, own)
            self.total_mb = max(self.total_mb, own + sum(self._rss_mb(c) for c in self._children(me)))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def employment_rows(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(7)
    months = 12
    per = n // months
    return pl.DataFrame({
        "period": [f"2024-{m + 1:02d}" for m in range(months) for _ in range(per)],
        "person_key": [f"{(i * 2654435761) % 2**64:064x}" for i in range(per)] * months,
        "employer_uscc": [f"91140823{i % 40_000:010d}" for i in range(per)] * months,
        "year": [2024] * (per * months),
        "hukou_code": ["140823"] * (per * months),
        "hukou_county_code": ["140823"] * (per * months),
        "contribution_base": (rng.random(per * months) * 8000).round(2),
        "source_file_id": ["0123456789abcdef"] * (per * months),
        "source_row": np.arange(per * months) + 2,
    })


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished children (the load workers):
    on a loaded machine a steadier measure of the work than the wall time."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _frame(df: pl.DataFrame, tmp: Path, parquet: bool) -> pl.LazyFrame:
    if not parquet:
        return df.lazy()
    path = tmp / "staged.parquet"
    df.sample(fraction=1.0, shuffle=True, seed=7).write_parquet(path, compression="zstd", compression_level=1)
    return pl.scan_parquet(path)


def bench_sqlite(df: pl.DataFrame, tmp: Path, parquet: bool = False, reference: bool = True,
                 existing: bool = False) -> dict:
    from pipelines.warehouse.publish import publish

    url = f"sqlite:///{tmp / 'pipeline.sqlite'}"
    frame = _frame(df, tmp, parquet)
    if existing:  # a warehouse file with a previous state: the WAL path, not the new-file one
        publish(url, {"dim_town": pl.DataFrame({"town_code": ["140823100"], "town_name": ["x"],
                                                "county_code": ["140823"]})})
    with RssSampler() as rss:
        cpu = _cpu_s()
        t = time.perf_counter()
        publish(url, {"fact_employment_month": frame})
        pipeline_s = time.perf_counter() - t
        cpu = _cpu_s() - cpu
    peak = {"self_mb": round(rss.self_mb), "with_children_mb": round(rss.total_mb)}
    if not reference:
        return {"backend": "sqlite", "pipeline_s": pipeline_s, "reference_s": None, "reference": None,
                "peak_rss_mb": peak, "cpu_s": cpu}

    csv = tmp / "rows.csv"
    df.sort("period", "person_key", "employer_uscc").write_csv(csv, include_header=False)
    db = tmp / "reference.sqlite"
    script = f"PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n{DDL.format(suffix=' WITHOUT ROWID')};\n" \
             f".mode csv\n.import '{csv}' ref\n"
    t = time.perf_counter()
    subprocess.run(["sqlite3", str(db)], input=script, text=True, check=True, capture_output=True)
    reference_s = time.perf_counter() - t
    return {"backend": "sqlite", "pipeline_s": pipeline_s, "reference_s": reference_s,
            "reference": "sqlite3 .import (CSV)", "peak_rss_mb": peak, "cpu_s": cpu}


def bench_postgres(df: pl.DataFrame, tmp: Path) -> dict:
    import os
    import shutil

    from postgres_server import PostgresServer, wait_ready
    from sqlalchemy import create_engine, text

    from pipelines.warehouse.publish import publish

    server = PostgresServer()
    server.start()
    wait_ready(server)
    try:
        url = server.create_database("bench_pipeline")
        t = time.perf_counter()
        publish(url, {"fact_employment_month": df.lazy()})
        pipeline_s = time.perf_counter() - t

        csv = Path(tempfile.mkdtemp(prefix="townstat-copy-")) / "rows.csv"
        df.write_csv(csv, include_header=False)
        os.chmod(csv.parent, 0o755)
        shutil.chown(csv, "postgres")
        ref_url = server.create_database("bench_reference")
        engine = create_engine(ref_url)
        t = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text(DDL.format(suffix="").replace("PRIMARY KEY", "CONSTRAINT ref_pk PRIMARY KEY")))
            conn.execute(text("ALTER TABLE ref DROP CONSTRAINT ref_pk"))
            conn.execute(text(f"COPY ref ({COLUMNS}) FROM '{csv}' (FORMAT csv)"))
            conn.execute(text("ALTER TABLE ref ADD PRIMARY KEY (period, person_key, employer_uscc)"))
        reference_s = time.perf_counter() - t
        engine.dispose()
        shutil.rmtree(csv.parent, ignore_errors=True)
    finally:
        server.stop()
    return {"backend": "postgresql", "pipeline_s": pipeline_s, "reference_s": reference_s,
            "reference": "server-side COPY FROM file, key built after"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--parquet", action="store_true", help="publish a scan of staged Parquet (the pipeline's way)")
    p.add_argument("--no-reference", action="store_true", help="measure the pipeline's load only")
    p.add_argument("--existing", action="store_true", help="SQLite: into an existing warehouse file (WAL)")
    p.add_argument("--tmp", help="folder for the databases (default: the system's temporary folder)")
    args = p.parse_args()
    df = employment_rows(args.rows)
    results = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="townstat-loadbench-", dir=args.tmp) as tmp:
        if args.backend in ("sqlite", "both"):
            results.append(bench_sqlite(df, Path(tmp), args.parquet, not args.no_reference, args.existing))
        if args.backend in ("postgresql", "both"):
            results.append(bench_postgres(df, Path(tmp)))
    print("| backend | rows | pipeline s | pipeline rows/s | reference | reference s | reference rows/s | "
          "pipeline ÷ reference |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for r in results:
        n = df.height
        if r["reference_s"] is None:
            print(f"| {r['backend']} | {n:,} | {r['pipeline_s']:.1f} | {n / r['pipeline_s']:,.0f} | — | — | — | — |")
            continue
        print(f"| {r['backend']} | {n:,} | {r['pipeline_s']:.1f} | {n / r['pipeline_s']:,.0f} | {r['reference']} | "
              f"{r['reference_s']:.1f} | {n / r['reference_s']:,.0f} | {r['pipeline_s'] / r['reference_s']:.2f}× |")
    rss = {"self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    load = {"before": load_before, "after": os.getloadavg()[0]}
    for r in results:
        if "peak_rss_mb" in r:
            print(f"{r['backend']} load: {r['cpu_s']:.1f} CPU s (with its workers); peak RSS: this process "
                  f"{r['peak_rss_mb']['self_mb']:,} MB, with its workers {r['peak_rss_mb']['with_children_mb']:,} MB")
    print(f"whole run, peak RSS of this process {rss['self_mb']:,.0f} MB (includes generating the rows); "
          f"load average (1 min) {load['before']:.1f} before, {load['after']:.1f} after")
    out = ROOT / "bench" / "results" / f"warehouse-load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"rows": df.height, "parquet": args.parquet, "existing": args.existing,
                               "results": results, "peak_rss_mb": rss, "load_average": load}, indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
