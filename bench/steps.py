"""One measured step, run in its own process by bench/run.py (so its peak RSS is its own).

    python bench/steps.py floor     --raw DIR --result FILE
    python bench/steps.py ingest    --raw DIR --result FILE --source tax
    python bench/steps.py refresh   --raw DIR --result FILE --work DIR --url URL [--incremental [--as-job]]
    python bench/steps.py reference --raw DIR --result FILE --work DIR [--truth DIR]

Each writes a JSON result file; bench/run.py adds the peak RSS it measured with wait4().
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATA_SOURCES = ("enterprise", "tax", "employment", "registry")


def say(msg: str) -> None:
    print(msg, flush=True)


def data_files(raw: Path):
    from pipelines.ingest.inventory import scan_raw_area

    return [f for f in scan_raw_area(raw) if f.source in DATA_SOURCES]


# ---------------------------------------------------------------------------- floor

def floor(raw: Path) -> dict:
    """Read, decode and parse (all text, no validation) every CSV and xlsx of each source."""
    import io

    import fastexcel
    import polars as pl

    per: dict[str, dict] = {s: {"files": 0, "bytes": 0, "rows": 0, "seconds": 0.0} for s in DATA_SOURCES}
    for f in data_files(raw):
        suffix = f.path.suffix.lower()
        if suffix not in (".csv", ".xlsx"):
            continue
        t = time.perf_counter()
        try:
            if suffix == ".csv":
                data = f.path.read_bytes()
                if data.startswith(b"\xef\xbb\xbf"):
                    data = data[3:]
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    data = data.decode("gb18030").encode("utf-8")
                frame = pl.read_csv(io.BytesIO(data), has_header=False, infer_schema=False,
                                    truncate_ragged_lines=True)
            else:
                frame = fastexcel.read_excel(f.path).load_sheet(0, header_row=None,
                                                                dtypes="string").to_polars()
        except Exception:  # not a table: the pipeline rejects it too; its bytes still count
            frame = None
        p = per[f.source]
        p["seconds"] += time.perf_counter() - t
        p["files"] += 1
        p["bytes"] += f.bytes
        p["rows"] += frame.height if frame is not None else 0
    for s, p in per.items():
        say(f"  floor {s}: {p['files']} files, {p['bytes'] / 1e6:.1f} MB, {p['rows']:,} rows "
            f"in {p['seconds']:.2f}s")
    total = {k: sum(p[k] for p in per.values()) for k in ("files", "bytes", "rows", "seconds")}
    return {"sources": per, "total": total, "seconds": total["seconds"]}


# ---------------------------------------------------------------------------- ingest

def ingest(raw: Path, source: str) -> dict:
    """Validate every file of one source with an empty cache (the pipeline's ingest stage)."""
    from pipelines.ingest.inventory import scan_raw_area
    from pipelines.ingest.pseudonymise import pii_key
    from pipelines.ingest.references import read_references, reference_context
    from pipelines.ingest.sources import IngestCache, cache_fingerprint, ingest_source

    t0 = time.perf_counter()
    files = scan_raw_area(raw)
    t_scan = time.perf_counter() - t0
    refs = read_references([f for f in files if f.source == "reference"])
    ctx = reference_context(refs.towns)
    key = pii_key()
    with tempfile.TemporaryDirectory(prefix="townstat-bench-cache-") as cache_dir:
        cache = IngestCache(Path(cache_dir), cache_fingerprint(ctx, key))
        mine = [f for f in files if f.source == source]
        t = time.perf_counter()
        result = ingest_source(source, mine, ctx, key, cache)
        seconds = time.perf_counter() - t
    rows_read = sum(o.rows_read for o in result.outcomes)
    out = {"source": source, "seconds": seconds, "scan_seconds": t_scan, "files": len(mine),
           "bytes": sum(f.bytes for f in mine), "rows_read": rows_read,
           "rows_loaded": sum(o.rows_loaded for o in result.outcomes), "current_rows": result.current.height}
    say(f"  ingest {source}: {out['files']} files, {rows_read:,} rows in {seconds:.2f}s "
        f"(scan + sha256 of the whole area {t_scan:.2f}s, not included)")
    return out


# ---------------------------------------------------------------------------- refresh

def link_area(raw: Path, dest: Path) -> int:
    """A copy of the raw area made of hard links (the raw area itself is never touched)."""
    n = 0
    for dirpath, _dirs, names in os.walk(raw):
        for name in names:
            src = Path(dirpath) / name
            dst = dest / src.relative_to(raw)
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:  # another filesystem: copy, keeping the mtime
                shutil.copy2(src, dst)
            n += 1
    return n


def add_tax_month(area: Path, suffix: str = "_补报", bump: int = 1) -> Path:
    """A new tax file: an existing CSV with one amount raised by `bump`, so its sha256 differs
    (from every file there: a second night passes another `bump`, or its file could repeat the
    first night's bytes, which the ingest cache knows)."""
    tax = sorted(p for p in (area / "tax").rglob("*.csv") if not p.name.startswith("."))
    src = max(tax, key=lambda p: p.stat().st_size)
    data = src.read_bytes()
    lines = data.rstrip(b"\n").split(b"\n")
    for i in range(len(lines) - 1, 0, -1):
        m = list(re.finditer(rb"(?<![\d.])(\d+)\.(\d+)", lines[i]))
        if m:
            last = m[-1]
            bumped = str(int(last.group(1)) + bump).encode()
            lines[i] = lines[i][:last.start(1)] + bumped + lines[i][last.end(1):]
            break
    dst = src.with_name(src.stem + suffix + ".csv")
    dst.write_bytes(b"\n".join(lines) + b"\n")
    return dst


def refresh_as_job(work: Path, url: str) -> dict:
    """The nightly case as the sensor runs it: one more tax file, then the `refresh` job in a
    process of its own, as Dagster's run worker executes a run the sensor requested
    (`dagster job execute`: the code location loaded, the job's executor, a real instance)."""
    import subprocess

    area = work / "raw"
    extra = add_tax_month(area, "_补报二", bump=2)
    say(f"  added {extra.relative_to(area)}")
    from pipelines.status import make_instance_folder

    home = make_instance_folder(work / "dagster_home")  # the instance the project ships
    env = {**os.environ, "DAGSTER_HOME": str(home), "TOWNSTAT_RAW_DIR": str(area), "WAREHOUSE_URL": url,
           "TOWNSTAT_CACHE_DIR": str(work / "cache"), "TOWNSTAT_REPORTS_DIR": str(work / "reports")}
    dagster = Path(sys.executable).with_name("dagster")
    t, began = time.perf_counter(), time.time()
    done = subprocess.run([str(dagster), "job", "execute", "-m", "pipelines.definitions", "-j", "refresh"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    run_start, run_end = _run_times(home)
    log = done.stdout + done.stderr
    steps = {m.group(1): float(m.group(2)) for m in re.finditer(
        r' - (\w+) - STEP_SUCCESS - Finished execution of step "\w+" in ([\d.]+)s', log)}
    ms = {m.group(1): float(m.group(2)) / 1000 for m in re.finditer(
        r' - (\w+) - STEP_SUCCESS - Finished execution of step "\w+" in ([\d.]+)ms', log)}
    published = "warehouse__published" in {**steps, **ms} and done.returncode == 0
    to_end = None if run_end is None else run_end - began
    run = None if run_start is None or run_end is None else run_end - run_start
    say(f"  refresh job (as the sensor runs it, executor {os.environ.get('TOWNSTAT_EXECUTOR', 'default')}): "
        f"exit {done.returncode}, published={published} in {seconds:.1f}s to the process's end"
        + ("" if to_end is None else f", {to_end:.1f}s to the run's end (the run itself {run:.1f}s)"))
    return {"seconds": seconds, "seconds_to_run_end": to_end, "run_seconds": run,
            "published": published, "exit_code": done.returncode,
            "step_seconds": {**steps, **ms}, "added_file": str(extra.relative_to(area)),
            "executor": os.environ.get("TOWNSTAT_EXECUTOR", "default")}


def _run_times(home: Path) -> tuple[float | None, float | None]:
    """(start, end) of the newest run in the instance at `home`, as epoch seconds: its
    RUN_START and its RUN_SUCCESS or RUN_FAILURE events (None when not found)."""
    from dagster import DagsterEventType, DagsterInstance

    # the shipped dagster.yaml places the event log below DAGSTER_HOME
    before = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with DagsterInstance.get() as instance:
            runs = instance.get_runs(limit=1)
            if not runs:
                return None, None
            stamps = {r.dagster_event.event_type: r.timestamp for r in instance.all_logs(runs[0].run_id)
                      if r.dagster_event is not None}
    finally:
        if before is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = before
    end = stamps.get(DagsterEventType.RUN_SUCCESS, stamps.get(DagsterEventType.RUN_FAILURE))
    return stamps.get(DagsterEventType.RUN_START), end


def refresh(raw: Path, work: Path, url: str, incremental: bool) -> dict:
    """run_refresh end to end; cold: a fresh linked area and an empty cache; incremental: one
    more tax file, the cache of the cold run."""
    os.environ.pop("DAGSTER_HOME", None)  # an ephemeral Dagster instance, nobody else's
    from pipelines.refresh import run_refresh

    area = work / "raw"
    if not incremental:
        if work.exists():
            shutil.rmtree(work)
        n = link_area(raw, area)
        say(f"  linked {n} files into {area}")
        extra = None
    else:
        extra = add_tax_month(area)
        say(f"  added {extra.relative_to(area)}")
    t = time.perf_counter()
    outcome = run_refresh(area, url, cache_dir=str(work / "cache"), staging_dir=None)
    seconds = time.perf_counter() - t
    say(f"  refresh ({'incremental' if incremental else 'cold'}): published={outcome.published} "
        f"in {seconds:.1f}s")
    return {"seconds": seconds, "published": outcome.published, "incremental": incremental,
            "failed_checks": outcome.failed_checks, "failed_steps": outcome.failed_steps,
            "added_file": str(extra.relative_to(area)) if extra else None,
            "step_seconds": outcome.step_seconds, "tables": outcome.tables}


# ---------------------------------------------------------------------------- main

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=["floor", "ingest", "refresh", "reference"])
    p.add_argument("--raw", type=Path, required=True)
    p.add_argument("--result", type=Path, required=True)
    p.add_argument("--source", choices=DATA_SOURCES)
    p.add_argument("--work", type=Path)
    p.add_argument("--url")
    p.add_argument("--incremental", action="store_true")
    p.add_argument("--as-job", action="store_true",
                   help="with --incremental: run the refresh job as the sensor would (dagster job execute)")
    p.add_argument("--truth", type=Path)
    a = p.parse_args()
    if a.step == "floor":
        res = floor(a.raw)
    elif a.step == "ingest":
        res = ingest(a.raw, a.source)
    elif a.step == "refresh" and a.as_job:
        res = refresh_as_job(a.work, a.url)
    elif a.step == "refresh":
        res = refresh(a.raw, a.work, a.url, a.incremental)
    else:
        from reference import run

        res = run(a.raw, a.work, a.truth, progress=say)
        shutil.rmtree(a.work / "utf8", ignore_errors=True)
    a.result.write_text(json.dumps(res, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
