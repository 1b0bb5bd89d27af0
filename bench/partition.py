"""One county × year partition (`ind/county_year_recomputed`) as its own process, as a pod runs it.

    python bench/partition.py startup                       # process start + definitions load
    python bench/partition.py run --url URL --raw DIR --county 140214 --year 2024
    python bench/partition.py run ... --county 140214,140271 --parallel 2   # side by side
    python bench/partition.py read --url URL --county 140214 --year 2024 [--filtered] [--check]

Every measurement is a child process (`python bench/partition.py _child ...`); the parent
reports its wall seconds, CPU seconds (user + system, from `os.wait4`), peak RSS
(`ru_maxrss` of the child) and bytes read (`/proc/<pid>/io`, sampled), and kills the child if
its RSS passes `--max-rss-gb` (the machine is shared), reporting that instead.

- `startup`: `import pipelines.definitions` and resolving the job `recompute_county_year`,
  what every pod of a partition pays before any work (a Kubernetes run is a run-worker pod
  plus one step pod, each loading the definitions).
- `run`: the job `recompute_county_year` executed in process for the partition
  `county|year` (Dagster ephemeral instance, `WAREHOUSE_URL`/`TOWNSTAT_RAW_DIR` from the
  options). The child times the warehouse reads (`read_table`, rows and in-memory bytes per
  table), the computation and the write (`replace_year`, rows replaced) by wrapping those
  functions in the asset's module; the pipeline code itself is unchanged. It replaces the
  county's rows of the year in the warehouse given: use a copy.
- `read`: the reads `_recompute` made for one county and year before the county filter went
  into the pipeline (commit f1788b5: the facts of the whole province for Y−1..Y, the "before"
  of docs/deployment.md); `--filtered` the same tables with the county pushed into the SQL
  (`backfill.county_fact_reads`, the filter the pipeline now uses: units reported or
  registered in the county's towns), and `--check` computes the county's
  ind_town_year and pub_town_year from the filtered frames and compares them with the rows in
  the warehouse (read only).

For PostgreSQL URLs the parent also reports what the server saw during the child: deltas of
`pg_stat_database` (tup_returned, tup_fetched, tup_inserted, tup_deleted, blks_read,
blks_hit) and, if the extension is installed, the top `pg_stat_statements` entries (reset
before the child). Prints one JSON object per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_COUNTERS = ("tup_returned", "tup_fetched", "tup_inserted", "tup_deleted", "blks_read", "blks_hit",
               "xact_commit")


# -- the child: what a pod does ----------------------------------------------------------------

def _instrument(log: dict) -> None:
    """Wrap read_table and replace_year as the asset's module sees them (timing and counts)."""
    import pipelines.defs.backfill as backfill

    read, replace = backfill.read_table, backfill.replace_year

    def read_table(url, name, where=None, params=None):
        t = time.perf_counter()
        df = read(url, name, where, params)
        log["reads"].append({"table": name, "rows": df.height, "mb": round(df.estimated_size() / 2**20, 1),
                             "s": round(time.perf_counter() - t, 2)})
        log["t_reads_done"] = time.perf_counter()
        if os.environ.get("PARTITION_BENCH_OUT"):  # what was read so far survives a kill
            Path(os.environ["PARTITION_BENCH_OUT"]).write_text(json.dumps(log["reads"]))
        return df

    def replace_year(url, frames, year, county=None):
        t = time.perf_counter()
        log["s_compute"] = round(t - log["t_reads_done"], 2)
        out = replace(url, frames, year, county=county)
        log["s_write"] = round(time.perf_counter() - t, 2)
        return out

    backfill.read_table, backfill.replace_year = read_table, replace_year


def child_startup() -> dict:
    t = time.perf_counter()
    from pipelines.definitions import defs

    t_import = time.perf_counter() - t
    defs.resolve_job_def("recompute_county_year")
    return {"s_import_definitions": round(t_import, 2), "s_resolve_job": round(time.perf_counter() - t - t_import, 2)}


def child_run(county: str, year: int) -> dict:
    t = time.perf_counter()
    from dagster import DagsterInstance, MultiPartitionKey

    from pipelines.definitions import defs

    out: dict = {"s_import_definitions": round(time.perf_counter() - t, 2), "reads": []}
    _instrument(out)
    job = defs.resolve_job_def("recompute_county_year")
    t = time.perf_counter()
    result = job.execute_in_process(instance=DagsterInstance.ephemeral(),
                                    partition_key=MultiPartitionKey({"county": county, "year": str(year)}))
    out["s_job"] = round(time.perf_counter() - t, 2)
    out["success"] = result.success
    out["rows_replaced"] = result.output_for_node("ind__county_year_recomputed")
    out.pop("t_reads_done", None)
    return out


def child_read(url: str, county: str, year: int, filtered: bool, check: bool) -> dict:
    from pipelines.warehouse.read import read_table

    if filtered:  # the pipeline's own county filter
        from pipelines.defs.backfill import county_fact_reads

        plan = {**county_fact_reads(county, year), "dim_town": (None, None)}
    else:  # as _recompute reads a year (and read a county before the filter)
        span = {"a": year - 1, "b": year}
        periods = {"a": f"{year - 1}-01", "b": f"{year}-12"}
        plan = {"fact_enterprise_year": ("year BETWEEN :a AND :b", span),
                "fact_tax_month": ("period BETWEEN :a AND :b", periods),
                "fact_employment_month": ("period BETWEEN :a AND :b", periods),
                "fact_market_entity": (None, None), "dim_town": (None, None)}
    out: dict = {"filtered": filtered, "reads": []}
    frames = {}
    for name, (where, params) in plan.items():
        t = time.perf_counter()
        frames[name] = read_table(url, name, where, params)
        out["reads"].append({"table": name, "rows": frames[name].height,
                             "mb": round(frames[name].estimated_size() / 2**20, 1),
                             "s": round(time.perf_counter() - t, 2)})
    if check:
        import polars as pl

        from pipelines.disclosure.suppression import publish_town_year
        from pipelines.indicators.town import town_year

        t = time.perf_counter()
        f = frames
        ind = town_year(f["fact_enterprise_year"], f["fact_tax_month"], f["fact_employment_month"],
                        f["fact_market_entity"], f["dim_town"])
        pub = publish_town_year(ind, f["fact_enterprise_year"], f["fact_tax_month"], f["fact_market_entity"],
                                f["dim_town"])
        out["s_compute"] = round(time.perf_counter() - t, 2)
        mine = (pl.col("year") == year) & (pl.col("county_code") == county)
        for name, df in (("ind_town_year", ind), ("pub_town_year", pub)):
            stored = read_table(url, name, "year = :y AND county_code = :c", {"y": year, "c": county})
            got = df.filter(mine).select(stored.columns).sort("town_code")
            got = got.cast(dict(stored.schema))
            out[f"check_{name}"] = {"rows": got.height, "stored": stored.height,
                                    "equal": got.equals(stored.sort("town_code"))}
    return out


# -- the parent: measuring a child -------------------------------------------------------------

def _pg_snapshot(url: str) -> dict | None:
    if not url.startswith("postgresql"):
        return None
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    dsn = f"host={u.host} port={u.port or 5432} user={u.username} dbname={u.database}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(f"SELECT {', '.join(PG_COUNTERS)} FROM pg_stat_database WHERE datname = %s",
                           (u.database,)).fetchone()
        snap = dict(zip(PG_COUNTERS, row, strict=True))
        has_pss = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").fetchone()
        snap["_dsn"] = dsn if has_pss else None
    return snap


def _pss(dsn: str, reset: bool) -> list[dict]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        if reset:
            conn.execute("SELECT pg_stat_statements_reset()")
            return []
        rows = conn.execute(
            "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90), calls, rows, "
            "round(total_exec_time::numeric / 1000, 2), shared_blks_hit, shared_blks_read "
            "FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%' ORDER BY total_exec_time DESC LIMIT 8"
        ).fetchall()
    keys = ("query", "calls", "rows", "exec_s", "blks_hit", "blks_read")
    return [dict(zip(keys, r, strict=True)) | {"exec_s": float(r[3])} for r in rows]


def _io(pid: int) -> dict:
    try:
        lines = Path(f"/proc/{pid}/io").read_text().split()
    except OSError:
        return {}
    d = dict(zip(lines[::2], lines[1::2], strict=False))
    return {"rchar_mb": int(d["rchar:"]) // 2**20, "read_bytes_mb": int(d["read_bytes:"]) // 2**20}


def _rss_gb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def measure(children: list[list[str]], env: dict, max_rss_gb: float) -> list[dict]:
    """Start the children together; wall, CPU, peak RSS, I/O and their JSON output each."""
    procs = []
    for args in children:
        out = Path(os.environ.get("TMPDIR", "/tmp")) / f"partition-{os.getpid()}-{len(procs)}.json"
        p = subprocess.Popen([sys.executable, __file__, "_child", "--out", str(out), *args],
                             env=dict(env, PARTITION_BENCH_OUT=str(out)))
        procs.append({"p": p, "out": out, "t0": time.perf_counter(), "io": {}, "killed": None, "args": args})
    running = {d["p"].pid: d for d in procs}
    while running:
        for pid, d in list(running.items()):
            got, status, ru = os.wait4(pid, os.WNOHANG)
            if got == 0:
                d["io"] = _io(pid) or d["io"]
                rss = _rss_gb(pid)
                if rss > max_rss_gb:
                    d["killed"] = f"RSS {rss:.1f} GB > --max-rss-gb {max_rss_gb} after " \
                                  f"{time.perf_counter() - d['t0']:.0f} s"
                    d["p"].kill()
                continue
            d.update(wall=time.perf_counter() - d["t0"], status=status, ru=ru)
            del running[pid]
        time.sleep(0.1)
    results = []
    for d in procs:
        ru = d["ru"]
        r = {"child": " ".join(d["args"]), "wall_s": round(d["wall"], 2),
             "cpu_s": round(ru.ru_utime + ru.ru_stime, 2), "peak_rss_mb": ru.ru_maxrss // 1024,
             "exit": os.waitstatus_to_exitcode(d["status"]), **d["io"]}
        if d["killed"]:
            r["killed"] = d["killed"]
        if d["out"].exists():
            got = json.loads(d["out"].read_text())
            r |= got if isinstance(got, dict) else {"reads_completed": got}
            d["out"].unlink()
        results.append(r)
    return results


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    sub.add_parser("startup", help="process start-up and definitions load")
    for name in ("run", "read"):
        s = sub.add_parser(name, help="one county × year partition" if name == "run" else "its warehouse reads")
        s.add_argument("--url", required=True, help="warehouse SQLAlchemy URL (a copy: `run` writes)")
        s.add_argument("--county", required=True, help="county code(s), comma-separated: one child each")
        s.add_argument("--year", type=int, default=2024)
        s.add_argument("--parallel", type=int, default=1, help="children at the same time (default 1: in a row)")
        s.add_argument("--max-rss-gb", type=float, default=14.0, help="kill a child whose RSS passes this")
        if name == "run":
            s.add_argument("--raw", default=str(ROOT / "raw"), help="raw area (TOWNSTAT_RAW_DIR)")
        else:
            s.add_argument("--filtered", action="store_true", help="county pushed into the SQL")
            s.add_argument("--check", action="store_true", help="compute and compare with the stored rows")
    c = sub.add_parser("_child")
    c.add_argument("--out", required=True)
    c.add_argument("what", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)

    if a.mode == "_child":
        w = a.what
        if w[0] == "startup":
            res = child_startup()
        elif w[0] == "run":
            res = child_run(w[1], int(w[2]))
        else:
            res = child_read(w[1], w[2], int(w[3]), "filtered" in w, "check" in w)
        Path(a.out).write_text(json.dumps(res, default=str))
        return

    env = dict(os.environ, TOWNSTAT_EXECUTOR="in_process", TOWNSTAT_GX="off")
    if a.mode == "startup":
        children = [["startup"]]
        groups = [children]
        url = None
    else:
        url = a.url
        env["WAREHOUSE_URL"] = url
        if a.mode == "run":
            env["TOWNSTAT_RAW_DIR"] = a.raw
            children = [["run", c, str(a.year)] for c in a.county.split(",")]
        else:
            flags = [f for f in ("filtered", "check") if getattr(a, f)]
            children = [["read", url, c, str(a.year), *flags] for c in a.county.split(",")]
        groups = [children[i:i + a.parallel] for i in range(0, len(children), a.parallel)]
    print(json.dumps({"uptime": os.popen("uptime").read().strip(), "cores": os.cpu_count()}), flush=True)
    for group in groups:
        before = _pg_snapshot(url) if url else None
        if before and before["_dsn"]:
            _pss(before["_dsn"], reset=True)
        results = measure(group, env, getattr(a, "max_rss_gb", 14.0))
        if before:
            time.sleep(1.5)  # PostgreSQL 15 flushes backend statistics at most once a second
            after = _pg_snapshot(url)
            pg = {k: after[k] - before[k] for k in PG_COUNTERS}
            if before["_dsn"]:
                pg["statements"] = _pss(before["_dsn"], reset=False)
            results.append({"postgresql_deltas": pg})
        for r in results:
            print(json.dumps(r, default=str), flush=True)
    print(json.dumps({"uptime_after": os.popen("uptime").read().strip()}), flush=True)


if __name__ == "__main__":
    main()
