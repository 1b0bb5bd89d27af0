"""townstat benchmarks: the pipeline against two named references, on demo data.

Steps (each measured in its own subprocess; its peak RSS is that child's ru_maxrss):

  floor      read every CSV's bytes, decode (UTF-8, else GB18030) and parse all text with
             pl.read_csv(infer_schema=False); xlsx with fastexcel. No validation: the floor
             no pipeline can beat. Seconds, MB/s, rows/s per source.
  ingest     per source (enterprise, tax, employment, registry): the pipeline's ingest
             (read, validate every cell, supersede) with an empty cache; compared with the
             floor for the same bytes.
  refresh    run_refresh end to end on a raw area of hard links, cold cache; then one new
             monthly tax file is added and the refresh timed again (warm cache). Per backend.
  reference  a hand-written DuckDB job doing the same refresh (bench/reference.py): decode,
             read, validate in SQL, supersede, town-year indicators, load into SQLite; checked
             against the demo's ground truth (<raw>_truth/town_year.csv).

Results: bench/results/<scale>-<YYYYMMDD-HHMM>.json, and a Markdown table printed to paste
into bench/README.md.

Examples:
  python bench/run.py --scale county
  python bench/run.py --scale province --raw /tmp/province/raw --only floor,reference
  python bench/run.py --scale city --backend postgresql --only refresh
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
STEPS = ("floor", "ingest", "refresh", "reference")
SOURCES = ("enterprise", "tax", "employment", "registry")


def say(msg: str) -> None:
    print(msg, flush=True)


def run_child(cmd: list[str]) -> tuple[int, float, float]:
    """Run `cmd` in a child process: (exit code, wall seconds, peak RSS MB from os.wait4)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT)
    _pid, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), time.perf_counter() - t, usage.ru_maxrss / 1024  # Linux: KiB


def measured(args: list[str], label: str) -> dict:
    """Run `bench/steps.py args` in a child; its JSON result plus wall seconds and peak RSS."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result_path = Path(fh.name)
    cmd = [sys.executable, str(BENCH / "steps.py"), *args, "--result", str(result_path)]
    say(f"[{time.strftime('%H:%M:%S')}] {label} ...")
    code, wall, rss = run_child(cmd)
    res: dict = {"ok": code == 0, "exit_code": code}
    if code == 0 and result_path.exists() and result_path.stat().st_size:
        res.update(json.loads(result_path.read_text()))
    result_path.unlink(missing_ok=True)
    res["wall_seconds"] = wall
    res["peak_rss_mb"] = rss
    say(f"[{time.strftime('%H:%M:%S')}] {label}: {'ok' if code == 0 else f'FAILED ({code})'} "
        f"wall {wall:.1f}s, peak RSS {res['peak_rss_mb']:.0f} MB")
    return res


def ensure_raw(scale: str, raw: Path | None) -> Path:
    if raw is not None:
        if not raw.is_dir():
            sys.exit(f"--raw {raw}: not a directory")
        return raw
    raw = BENCH / "out" / scale / "raw"
    if not raw.exists() or not any(raw.iterdir()):
        say(f"writing {scale} demo data into {raw} (province takes ~7 minutes) ...")
        sys.path.insert(0, str(ROOT))
        from pipelines.demo import write_demo_raw_area

        write_demo_raw_area(raw, scale=scale, seed=7, progress=lambda m: say(f"  {m}"))
    return raw


def machine() -> dict:
    load = os.getloadavg()
    mem = ""
    try:
        mem = next(line for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")).split(":")[1].strip()
    except (OSError, StopIteration):
        pass
    return {"cpus": os.cpu_count(), "memory": mem, "python": platform.python_version(),
            "loadavg_at_start": [round(x, 2) for x in load]}


# ---------------------------------------------------------------------------- report

def _r(x: float | None, nd: int = 1) -> str:
    return "–" if x is None else f"{x:,.{nd}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "–" if not a or not b else f"{a / b:.1f}×"


def markdown(res: dict) -> str:
    scale, steps = res["scale"], res["steps"]
    out = [f"### {scale} ({res['started']}, {res['machine']['cpus']} CPUs, load average at start "
           f"{res['machine']['loadavg_at_start'][0]})", ""]
    fl = steps.get("floor")
    if fl or steps.get("ingest"):
        out += ["| source | MB | rows | floor s | floor MB/s | ingest s | ingest rows/s | ingest peak RSS MB "
                "| ingest ÷ floor |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for s in SOURCES:
            f = (fl or {}).get("sources", {}).get(s, {})
            i = (steps.get("ingest") or {}).get(s, {})
            mb = (f.get("bytes") or i.get("bytes") or 0) / 1e6
            rows = i.get("rows_read") or f.get("rows")
            fs, is_ = f.get("seconds"), i.get("seconds")
            out.append(f"| {s} | {mb:,.1f} | {rows or 0:,} | {_r(fs, 2)} | {_r(mb / fs if fs else None)} | "
                       f"{_r(is_, 2)} | {_r(rows / is_ if is_ and rows else None, 0)} | "
                       f"{_r(i.get('peak_rss_mb'), 0)} | {_ratio(is_, fs)} |")
        if fl:
            t = fl["total"]
            out.append(f"| **all** | {t['bytes'] / 1e6:,.1f} | {t['rows']:,} | {t['seconds']:.2f} | "
                       f"{t['bytes'] / 1e6 / t['seconds']:,.1f} | | | floor peak RSS "
                       f"{fl['peak_rss_mb']:.0f} | |")
        out.append("")
    ref = steps.get("reference")
    ref_s = ref.get("seconds") if ref and ref.get("ok") else None
    if ref:
        ph = ref.get("phases", {})
        out += ["| reference (DuckDB) phase | seconds |", "|---|---:|"]
        out += [f"| {k} | {v:.1f} |" for k, v in ph.items()]
        out.append(f"| **total** | {_r(ref_s)} (peak RSS {ref['peak_rss_mb']:.0f} MB) |")
        if "truth" in ref:
            out.append("")
            out.append("Reference vs ground truth (town-years mismatched / total): " + ", ".join(
                f"{c} {v['mismatched']}/{v['rows']}" for c, v in ref["truth"].items()))
        out.append("")
    rf = steps.get("refresh")
    if rf:
        out += ["| refresh | cold s | cold peak RSS MB | incremental s (+1 tax file) | incr. peak RSS MB "
                "| the same as the sensor runs it: its process's wall s (to the run's end) | cold ÷ reference |", "|---|---:|---:|---:|---:|---:|---:|"]
        for backend, r in rf.items():
            c, i, j = r.get("cold", {}), r.get("incremental", {}), r.get("as_job", {})
            out.append(f"| {backend} | {_r(c.get('seconds'))}{'' if c.get('published') else ' (NOT published)'} | "
                       f"{_r(c.get('peak_rss_mb'), 0)} | {_r(i.get('seconds'))} | {_r(i.get('peak_rss_mb'), 0)} | "
                       f"{_r(j.get('seconds'))}"
                       f"{'' if j.get('seconds_to_run_end') is None else ' (' + _r(j['seconds_to_run_end']) + ')'} | "
                       f"{_ratio(c.get('seconds'), ref_s)} |")
        out.append("")
        for backend, r in rf.items():
            for kind in ("cold", "incremental"):
                st = r.get(kind, {}).get("step_seconds") or {}
                if st:
                    out.append(f"{backend} {kind} step times: " + ", ".join(
                        f"{k} {v:.1f}" for k, v in sorted(st.items(), key=lambda kv: -kv[1])))
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------- main

def main() -> None:
    p = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", choices=["county", "city", "province"], required=True,
                   help="demo scale (names the result file; picks bench/out/<scale>/raw)")
    p.add_argument("--raw", type=Path, help="raw area to measure (default bench/out/<scale>/raw, "
                   "generated with seed 7 when missing); it is only read, never modified")
    p.add_argument("--truth", type=Path, help="ground truth for the reference check "
                   "(default <raw>_truth next to the raw area)")
    p.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both",
                   help="warehouse backend(s) for the refresh step (default both)")
    p.add_argument("--only", default=",".join(STEPS),
                   help=f"comma-separated steps to run (default all: {','.join(STEPS)})")
    p.add_argument("--work", type=Path, help="scratch directory (default a temporary one)")
    a = p.parse_args()
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    bad = [s for s in only if s not in STEPS]
    if bad:
        p.error(f"unknown step(s) {bad}; choose from {','.join(STEPS)}")
    raw = ensure_raw(a.scale, a.raw).resolve()
    truth = a.truth or raw.with_name(raw.name + "_truth")
    started = dt.datetime.now()
    res = {"scale": a.scale, "raw": str(raw), "started": started.strftime("%Y-%m-%d %H:%M"),
           "machine": machine(), "steps": {}}
    work_ctx = tempfile.TemporaryDirectory(prefix="townstat-bench-") if a.work is None else None
    work = Path(work_ctx.name) if work_ctx else a.work
    work.mkdir(parents=True, exist_ok=True)
    say(f"townstat bench: scale={a.scale} raw={raw} steps={','.join(only)} work={work}")
    try:
        if "floor" in only:
            res["steps"]["floor"] = measured(["floor", "--raw", str(raw)], "floor")
        if "ingest" in only:
            res["steps"]["ingest"] = {s: measured(["ingest", "--raw", str(raw), "--source", s],
                                                  f"ingest {s}") for s in SOURCES}
        if "reference" in only:
            args = ["reference", "--raw", str(raw), "--work", str(work / "reference")]
            if truth.exists():
                args += ["--truth", str(truth)]
            res["steps"]["reference"] = measured(args, "reference (DuckDB)")
        if "refresh" in only:
            res["steps"]["refresh"] = {}
            backends = ["sqlite", "postgresql"] if a.backend == "both" else [a.backend]
            for backend in backends:
                res["steps"]["refresh"][backend] = run_refresh_backend(backend, raw, work)
    finally:
        if work_ctx:
            work_ctx.cleanup()
    res["finished"] = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    res["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results = BENCH / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{a.scale}-{started.strftime('%Y%m%d-%H%M')}.json"
    path.write_text(json.dumps(res, indent=2, ensure_ascii=False, default=str))
    say(f"\nresults written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}\n")
    print(markdown(res))


def run_refresh_backend(backend: str, raw: Path, work: Path) -> dict:
    wdir = work / f"refresh-{backend}"
    server = None
    try:
        if backend == "sqlite":
            wdir.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{wdir / 'warehouse.sqlite'}"
        else:
            sys.path.insert(0, str(ROOT))
            from tests.postgres_server import PostgresServer

            server = PostgresServer().start()
            url = server.create_database("townstat_bench")
        base = ["refresh", "--raw", str(raw), "--work", str(wdir / "area"), "--url", url]
        cold = measured(base, f"refresh {backend} cold")
        incr = measured([*base, "--incremental"], f"refresh {backend} incremental") if cold.get("ok") else {}
        job = measured([*base, "--incremental", "--as-job"], f"refresh {backend} nightly as the sensor runs it") \
            if cold.get("ok") else {}
        return {"cold": cold, "incremental": incr, "as_job": job}
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
