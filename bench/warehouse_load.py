"""Warehouse load rate: `publish()` against each database's own bulk path, same rows.

    python bench/warehouse_load.py --rows 2000000 [--backend sqlite|postgresql|both]

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


def bench_sqlite(df: pl.DataFrame, tmp: Path) -> dict:
    from pipelines.warehouse.publish import publish

    url = f"sqlite:///{tmp / 'pipeline.sqlite'}"
    t = time.perf_counter()
    publish(url, {"fact_employment_month": df.lazy()})
    pipeline_s = time.perf_counter() - t

    csv = tmp / "rows.csv"
    df.sort("period", "person_key", "employer_uscc").write_csv(csv, include_header=False)
    db = tmp / "reference.sqlite"
    script = f"PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n{DDL.format(suffix=' WITHOUT ROWID')};\n" \
             f".mode csv\n.import '{csv}' ref\n"
    t = time.perf_counter()
    subprocess.run(["sqlite3", str(db)], input=script, text=True, check=True, capture_output=True)
    reference_s = time.perf_counter() - t
    return {"backend": "sqlite", "pipeline_s": pipeline_s, "reference_s": reference_s,
            "reference": "sqlite3 .import (CSV)"}


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
    args = p.parse_args()
    df = employment_rows(args.rows)
    results = []
    with tempfile.TemporaryDirectory(prefix="townstat-loadbench-") as tmp:
        if args.backend in ("sqlite", "both"):
            results.append(bench_sqlite(df, Path(tmp)))
        if args.backend in ("postgresql", "both"):
            results.append(bench_postgres(df, Path(tmp)))
    print("| backend | rows | pipeline s | pipeline rows/s | reference | reference s | reference rows/s | "
          "pipeline ÷ reference |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for r in results:
        n = df.height
        print(f"| {r['backend']} | {n:,} | {r['pipeline_s']:.1f} | {n / r['pipeline_s']:,.0f} | {r['reference']} | "
              f"{r['reference_s']:.1f} | {n / r['reference_s']:,.0f} | {r['pipeline_s'] / r['reference_s']:.2f}× |")
    out = ROOT / "bench" / "results" / f"warehouse-load-{time.strftime('%Y%m%d-%H%M')}.json"
    out.write_text(json.dumps({"rows": df.height, "results": results}, indent=2))
    print(f"results: {out}")


if __name__ == "__main__":
    main()
