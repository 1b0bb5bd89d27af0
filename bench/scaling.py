"""Cost as the work grows (issue 16, item 4): the cold refresh at fractions of the province.

The same generator writes each area: `townstat demo-data --scale province --fraction F --seed S`
(the first ceil(F x 121) county-level codes, every count of the province spec times F, the
province's files and formats; F = 1.0 is `--scale province` itself). For each fraction:

  1. the raw area <work>/raw-<F> (ground truth beside it, <work>/raw-<F>_truth): written in a
     child process, or, with --reuse, taken as it is when already there; --raw-for F=DIR gives
     a folder of one's own for a fraction (e.g. an existing whole province for 1.0). A reused or
     given area must have been written by this generator for this fraction and seed: its
     <raw>_truth/summary.json is checked (scale, fraction, seed, years, the keys the current
     generator writes) and so is every file of its files.csv;
  2. the cold refresh in its own process, as bench/run.py does it (its measured(), so the same
     numbers): bench/steps.py refresh --raw <raw> --work <work>/refresh-<F>/area
     --url sqlite:///<work>/refresh-<F>/warehouse.sqlite, i.e. run_refresh on a hard-link copy
     with an empty cache into a new SQLite warehouse, its reports (dashboard, data docs) in
     <work>/refresh-<F>/reports (TOWNSTAT_REPORTS_DIR), not the checkout's warehouse/reports.
     "cold s" is run_refresh's own time; "peak RSS" is the child's ru_maxrss from os.wait4
     (the largest single process of its tree, as in bench/run.py); "tree RSS" is the sum of
     the RSS of the child and all its worker processes, sampled every 0.5 s (the pipeline's
     ingest and load spawn workers);
  3. rows: dq_file's rows_read summed over the data files (enterprise, tax, employment,
     registry) of the published warehouse, i.e. what the refresh read; the generator's count
     (truth files.csv) is kept beside it. The refresh folder is deleted afterwards
     (--keep to keep it).

All areas are prepared (and checked) before the first refresh is timed. The results:
bench/results/scaling-<YYYYMMDD-HHMM>.json, .md (the table) and .svg (two charts: cold seconds
and memory against rows, each with the least-squares line through the origin, i.e. what
exactly linear growth would look like). The Markdown also gives the fitted exponents
(seconds ~ rows^b, memory ~ rows^c, least squares on logs): b <= 1 is linear or better, c
near 0 is flat memory.

Examples:
  python bench/scaling.py --work /tmp/scaling --reuse                      # 0.25 0.5 1.0
  python bench/scaling.py --work /tmp/scaling --reuse --raw-for 1.0=/tmp/province/raw
  python bench/scaling.py --work /tmp/scaling-tiny --fractions 0.02 0.04   # a quick try
  python bench/scaling.py --work /tmp/scaling --fractions 0.25 0.5 1.0 --only-generate
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import sqlite3
import sys
import threading
import time
from html import escape
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from run import machine, measured, run_child, say  # noqa: E402  (bench/run.py: the same measurement)

DATA_SOURCES = ("enterprise", "tax", "employment", "registry")
#: Top-level keys of the ground truth's summary.json that the current generator writes (an area
#: without "progress" and "targets" predates them: no January-March files, no targets.csv).
SUMMARY_KEYS = {"scale", "seed", "years", "specialty_town_ids", "sources", "bad_rows_by_rule", "per_year",
                "progress", "targets", "files", "minimums_per_year"}
YEARS = [2022, 2023, 2024]


def fkey(f: float) -> str:
    """The fraction as folder names spell it: 0.25, 0.5, 1.0."""
    return repr(float(f))


# ---------------------------------------------------------------------------- the raw areas

def area_size(raw: Path) -> tuple[int, int]:
    """(files, bytes) of every file under the raw area, hidden and odd ones included."""
    n = size = 0
    for dirpath, _dirs, names in os.walk(raw):
        for name in names:
            n += 1
            size += (Path(dirpath) / name).stat().st_size
    return n, size


def check_area(raw: Path, f: float, seed: int) -> list[str]:
    """What is wrong with `raw` as this generator's area for fraction f and seed (empty: nothing)."""
    truth = raw.with_name(raw.name + "_truth")
    summary_path = truth / "summary.json"
    if not summary_path.is_file():
        return [f"no ground truth {summary_path} (an area this script or townstat demo-data wrote has one)"]
    s = json.loads(summary_path.read_text(encoding="utf-8"))
    problems = []
    want = {"scale": "province", "fraction": f, "seed": seed, "years": YEARS}
    got = {"scale": s.get("scale"), "fraction": s.get("fraction", 1.0), "seed": s.get("seed"),
           "years": s.get("years")}
    for k, v in want.items():
        if got[k] != v:
            problems.append(f"{k} is {got[k]!r}, not {v!r}")
    missing = SUMMARY_KEYS - set(s)
    if missing:
        problems.append(f"written by another version of the generator: its summary.json lacks {sorted(missing)} "
                        "(before issue 14: no January-March files of the next year, no reference/targets.csv)")
    files_csv = truth / "files.csv"
    if files_csv.is_file():
        import polars as pl

        paths = pl.read_csv(files_csv, infer_schema=False)["path"].to_list()
        absent = [p for p in paths if not (raw / p).is_file()]
        if absent:
            problems.append(f"{len(absent)} file(s) of files.csv missing, e.g. {absent[0]}")
        if len(paths) != s.get("files"):
            problems.append(f"files.csv lists {len(paths)} files, summary.json says {s.get('files')}")
    else:
        problems.append(f"no {files_csv}")
    return problems


def generate(raw: Path, f: float, seed: int) -> dict:
    """`townstat demo-data --scale province --fraction f` in a child: wall seconds and peak RSS."""
    cmd = [sys.executable, "-m", "pipelines.cli", "demo-data", "--scale", "province", "--fraction", fkey(f),
           "--seed", str(seed), "--out", str(raw), "--quiet"]
    say(f"[{time.strftime('%H:%M:%S')}] generating fraction {fkey(f)} into {raw} ...")
    code, wall, rss = run_child(cmd)
    if code != 0:
        sys.exit(f"generating fraction {fkey(f)} failed (exit {code}); remove {raw} and its _truth and retry")
    say(f"[{time.strftime('%H:%M:%S')}] generated fraction {fkey(f)} in {wall:.0f}s, "
        f"peak RSS {rss:.0f} MB")
    return {"seconds": wall, "peak_rss_mb": rss}


def prepare(f: float, work: Path, seed: int, given: Path | None, reuse: bool, check: bool) -> dict:
    raw = (given or work / f"raw-{fkey(f)}").resolve()
    entry: dict = {"fraction": f, "raw": str(raw)}
    exists = raw.is_dir() and any(raw.iterdir())
    if given is not None and not exists:
        sys.exit(f"--raw-for {fkey(f)}={given}: not a raw area (missing or empty)")
    if exists and given is None and not reuse:
        sys.exit(f"{raw} already exists: pass --reuse to measure it as it is, or remove it "
                 f"(and {raw.name}_truth) to write it anew")
    if exists:
        entry["origin"] = "given" if given is not None else "reused"
    else:
        truth = raw.with_name(raw.name + "_truth")
        if truth.exists():
            shutil.rmtree(truth)
        entry["origin"] = "generated"
        entry["generation"] = generate(raw, f, seed)
    problems = check_area(raw, f, seed)
    entry["check"] = problems or "ok"
    if problems:
        msg = f"{raw} is not this generator's area for fraction {fkey(f)}, seed {seed}: " + "; ".join(problems)
        if check:
            fix = "leave out --raw-for to have it written" if given is not None else "remove it to have it written"
            sys.exit(msg + f"\n({fix}, or pass --no-check to measure it anyway)")
        say("WARNING: " + msg)
    import polars as pl

    files = pl.read_csv(raw.with_name(raw.name + "_truth") / "files.csv", infer_schema=False)
    data = files.filter(pl.col("source").is_in(DATA_SOURCES))
    entry["truth_rows"] = int(data["rows_read"].cast(pl.Int64).sum())
    entry["files"], entry["bytes"] = area_size(raw)
    say(f"  fraction {fkey(f)}: {entry['origin']}, {entry['files']} files, {entry['bytes'] / 1e9:.2f} GB, "
        f"{entry['truth_rows']:,} data rows (generator's count)")
    return entry


# ---------------------------------------------------------------------------- the refresh

class TreeRSS:
    """Peak of the summed RSS of this process's descendants, sampled every `every` seconds."""

    def __init__(self, every: float = 0.5) -> None:
        self.every, self.peak, self.samples = every, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def _descendants(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(d))
        out, todo = [], list(children.get(os.getpid(), []))
        while todo:
            p = todo.pop()
            out.append(p)
            todo += children.get(p, [])
        return out

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            total = 0
            for pid in self._descendants():
                try:
                    total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self._page
                except (OSError, IndexError, ValueError):
                    pass
            self.peak = max(self.peak, total)
            self.samples += 1

    def __enter__(self) -> TreeRSS:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


def dq_rows(db: Path) -> dict[str, dict[str, int]]:
    """Per data source: files, rows_read and bytes of the warehouse's dq_file."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        q = ("SELECT source, count(*), coalesce(sum(rows_read), 0), coalesce(sum(bytes), 0) FROM dq_file "
             f"WHERE source IN ({','.join('?' * len(DATA_SOURCES))}) GROUP BY source")
        return {s: {"files": n, "rows_read": int(r), "bytes": int(b)}
                for s, n, r, b in con.execute(q, DATA_SOURCES)}
    finally:
        con.close()


def cold_refresh(entry: dict, work: Path, keep: bool) -> None:
    f = entry["fraction"]
    wdir = work / f"refresh-{fkey(f)}"
    if wdir.exists():
        shutil.rmtree(wdir)  # cold: no cache, no warehouse
    wdir.mkdir(parents=True)
    db = wdir / "warehouse.sqlite"
    args = ["refresh", "--raw", entry["raw"], "--work", str(wdir / "area"), "--url", f"sqlite:///{db}"]
    entry["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
    before = os.environ.get("TOWNSTAT_REPORTS_DIR")
    os.environ["TOWNSTAT_REPORTS_DIR"] = str(wdir / "reports")  # not the checkout's warehouse/reports
    try:
        with TreeRSS() as tree:
            res = measured(args, f"refresh sqlite cold, fraction {fkey(f)}")
    finally:
        if before is None:
            os.environ.pop("TOWNSTAT_REPORTS_DIR", None)
        else:
            os.environ["TOWNSTAT_REPORTS_DIR"] = before
    entry["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    res["tree_rss_mb"] = tree.peak / 2**20
    res["tree_rss_samples"] = tree.samples
    entry["cold"] = res
    if res.get("ok") and db.exists():
        try:
            entry["rows_by_source"] = dq_rows(db)
            entry["rows"] = sum(v["rows_read"] for v in entry["rows_by_source"].values())
        except sqlite3.Error as exc:
            say(f"  dq_file not readable ({exc}); rows from the generator's count")
    if "rows" not in entry:
        entry["rows"], entry["rows_from"] = entry["truth_rows"], "truth files.csv"
    else:
        entry["rows_from"] = "dq_file"
    say(f"  fraction {fkey(f)}: {entry['rows']:,} rows, cold {res.get('seconds', float('nan')):.1f}s, "
        f"peak RSS {res['peak_rss_mb']:.0f} MB, tree RSS {res['tree_rss_mb']:.0f} MB")
    if not keep:
        shutil.rmtree(wdir, ignore_errors=True)


# ---------------------------------------------------------------------------- fits, table, plot

def through_origin(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope k of y = k x."""
    sxx = sum(x * x for x in xs)
    return sum(x * y for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0


def log_slope(xs: list[float], ys: list[float]) -> float | None:
    """Exponent b of y ~ x^b, least squares on logs (None with fewer than two points)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else None


def measured_points(res: dict) -> list[dict]:
    return [e for e in res["fractions"] if e.get("cold", {}).get("ok") and e["cold"].get("seconds")]


def fits(res: dict) -> dict:
    pts = measured_points(res)
    rows = [e["rows"] / 1e6 for e in pts]
    out: dict = {}
    for name, ys in (("seconds", [e["cold"]["seconds"] for e in pts]),
                     ("peak_rss_mb", [e["cold"]["peak_rss_mb"] for e in pts]),
                     ("tree_rss_mb", [e["cold"]["tree_rss_mb"] for e in pts])):
        out[name] = {"per_million_rows_through_origin": through_origin(rows, ys), "exponent": log_slope(rows, ys)}
    if len(pts) >= 2:
        a, b = pts[0], pts[-1]
        out["largest_over_smallest"] = {
            "rows": b["rows"] / a["rows"], "seconds": b["cold"]["seconds"] / a["cold"]["seconds"],
            "peak_rss_mb": b["cold"]["peak_rss_mb"] / a["cold"]["peak_rss_mb"],
            "tree_rss_mb": b["cold"]["tree_rss_mb"] / a["cold"]["tree_rss_mb"] if a["cold"]["tree_rss_mb"] else None}
    return out


def markdown(res: dict, svg_name: str) -> str:
    m = res["machine"]
    out = [f"### scaling: cold refresh (SQLite) at fractions of the province, seed {res['seed']} "
           f"({res['started']}, {m['cpus']} CPUs, load average at start {m['loadavg_at_start'][0]})", "",
           "| fraction | counties | files | MB | rows | cold s | s per million rows | peak RSS MB | tree RSS MB |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for e in res["fractions"]:
        c = e.get("cold", {})
        s = c.get("seconds")
        rows = e.get("rows") or e["truth_rows"]
        note = "" if not c or c.get("published") else " (NOT published)"
        out.append(f"| {fkey(e['fraction'])} | {e['counties']} | {e['files']} | {e['bytes'] / 1e6:,.0f} | {rows:,} | "
                   f"{'–' if s is None else f'{s:,.1f}'}{note} | {'–' if s is None else f'{s / rows * 1e6:.2f}'} | "
                   f"{c.get('peak_rss_mb', 0):,.0f} | {c.get('tree_rss_mb', 0):,.0f} |")
    fit = res.get("fits", {})
    lines = []
    for name, label in (("seconds", "cold seconds"), ("peak_rss_mb", "peak RSS"), ("tree_rss_mb", "tree RSS")):
        b = fit.get(name, {}).get("exponent")
        if b is not None:
            lines.append(f"{label} ~ rows^{b:.2f}")
    if lines:
        out += ["", "Fitted exponents (least squares on logs; 1 = linear, 0 = flat): " + ", ".join(lines) + "."]
    r = fit.get("largest_over_smallest")
    if r:
        out.append(f"Largest over smallest: {r['rows']:.2f}× the rows, {r['seconds']:.2f}× the seconds, "
                   f"{r['peak_rss_mb']:.2f}× the peak RSS"
                   + (f", {r['tree_rss_mb']:.2f}× the tree RSS." if r.get("tree_rss_mb") else "."))
    out += ["", "Rows: dq_file rows_read of the data files (what the refresh read). Peak RSS: the refresh "
            "process's ru_maxrss (os.wait4; the largest single process, as in bench/run.py); tree RSS: the "
            "sum over the refresh process and its workers, sampled every 0.5 s. Load average before/after "
            "each refresh is in the JSON.", "", f"![cold refresh and memory against rows](results/{svg_name})", ""]
    return "\n".join(out)


def _ticks(top: float, n: int = 5) -> list[float]:
    if top <= 0:
        return [0.0, 1.0]
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw)
    return [i * step for i in range(int(top / step + 1e-9) + 2) if i * step <= top * 1.0001 + step * 0.999]


def _fmt_tick(v: float) -> str:
    return f"{v:,.0f}" if v >= 10 or v == int(v) else f"{v:g}"


def _panel(x0: float, title: str, ylabel: str, pts: list[tuple[float, float, str]], k: float,
           extra: tuple[str, list[tuple[float, float]]] | None = None,
           width: float = 430, height: float = 330) -> list[str]:
    """One chart: measured points joined by a line, and y = k x dashed (least squares through origin);
    `extra`, (label, points), a second series in orange."""
    left, right, top, bottom = 62, 14, 34, 46
    pw, ph = width - left - right, height - top - bottom
    xt = _ticks(max(p[0] for p in pts) * 1.08)
    ys = [p[1] for p in pts] + ([p[1] for p in extra[1]] if extra else [])
    yt = _ticks(max(max(ys), k * xt[-1]) * 1.05)
    xmax, ymax = xt[-1], yt[-1]

    def X(v: float) -> float:
        return x0 + left + v / xmax * pw

    def Y(v: float) -> float:
        return top + ph - v / ymax * ph

    g = [f'<text x="{x0 + left + pw / 2:.1f}" y="20" text-anchor="middle" font-size="14" font-weight="bold">'
         f'{escape(title)}</text>']
    for v in yt:
        g.append(f'<line x1="{X(0):.1f}" y1="{Y(v):.1f}" x2="{X(xmax):.1f}" y2="{Y(v):.1f}" stroke="#e5e5e5"/>')
        g.append(f'<text x="{X(0) - 6:.1f}" y="{Y(v) + 4:.1f}" text-anchor="end" font-size="11">{_fmt_tick(v)}</text>')
    for v in xt:
        g.append(f'<line x1="{X(v):.1f}" y1="{Y(0):.1f}" x2="{X(v):.1f}" y2="{Y(0) + 4:.1f}" stroke="#333"/>')
        g.append(f'<text x="{X(v):.1f}" y="{Y(0) + 17:.1f}" text-anchor="middle" font-size="11">{_fmt_tick(v)}</text>')
    g.append(f'<line x1="{X(0):.1f}" y1="{Y(0):.1f}" x2="{X(xmax):.1f}" y2="{Y(0):.1f}" stroke="#333"/>')
    g.append(f'<line x1="{X(0):.1f}" y1="{Y(0):.1f}" x2="{X(0):.1f}" y2="{Y(ymax):.1f}" stroke="#333"/>')
    g.append(f'<text x="{X(xmax / 2):.1f}" y="{height - 8}" text-anchor="middle" font-size="12">'
             'rows read (millions)</text>')
    g.append(f'<text transform="translate({x0 + 16},{top + ph / 2:.1f}) rotate(-90)" text-anchor="middle" '
             f'font-size="12">{escape(ylabel)}</text>')
    xe = min(xmax, ymax / k) if k > 0 else xmax
    g.append(f'<line x1="{X(0):.1f}" y1="{Y(0):.1f}" x2="{X(xe):.1f}" y2="{Y(k * xe):.1f}" stroke="#999" '
             'stroke-width="1.5" stroke-dasharray="6 4"/>')
    path = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y, _ in pts)
    g.append(f'<polyline points="{path}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    for x, y, label in pts:
        g.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="4" fill="#1f77b4"/>')
        g.append(f'<text x="{X(x) - 6:.1f}" y="{Y(y) - 9:.1f}" text-anchor="end" font-size="11" fill="#1f77b4">'
                 f'{escape(label)}</text>')
    if extra:
        label, xy = extra
        g.append(f'<polyline points="{" ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in xy)}" fill="none" '
                 'stroke="#ff7f0e" stroke-width="2"/>')
        g += [f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3.5" fill="#ff7f0e"/>' for x, y in xy]
        g.append(f'<text x="{X(0) + 8:.1f}" y="{top + 40}" font-size="11" fill="#ff7f0e">{escape(label)}</text>')
        g.append(f'<text x="{X(0) + 8:.1f}" y="{top + 26}" font-size="11" fill="#1f77b4">peak RSS of the '
                 'refresh process (wait4)</text>')
    g.append(f'<text x="{X(0) + 8:.1f}" y="{top + 12}" font-size="11" fill="#777">dashed: proportional to rows, least '
             f'squares through 0 ({k:,.1f} per M rows)</text>')
    return g


def svg(res: dict) -> str:
    pts = measured_points(res)
    if not pts:
        return ('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40"><text x="10" y="25">'
                'no successful refresh to plot</text></svg>\n')
    rows = [e["rows"] / 1e6 for e in pts]
    labels = [f"×{fkey(e['fraction'])}" for e in pts]
    secs = [e["cold"]["seconds"] for e in pts]
    rss = [e["cold"]["peak_rss_mb"] for e in pts]
    tree = [e["cold"]["tree_rss_mb"] for e in pts]
    w, h = 880, 330
    body = _panel(0, "cold refresh: seconds", "seconds", list(zip(rows, secs, labels, strict=True)),
                  through_origin(rows, secs))
    extra = ("tree RSS: sum over the refresh and its workers (sampled)",
             list(zip(rows, tree, strict=True))) if any(tree) else None
    mem = _panel(450, "memory (MB)", "MB", list(zip(rows, rss, labels, strict=True)),
                 through_origin(rows, rss), extra)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            'font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(body + mem) + "\n</svg>\n")


# ---------------------------------------------------------------------------- main

def parse_raw_for(items: list[str]) -> dict[float, Path]:
    out = {}
    for it in items:
        f, sep, d = it.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"--raw-for {it!r}: write FRACTION=DIR, e.g. 1.0=/tmp/province/raw")
        out[float(f)] = Path(d)
    return out


def main() -> None:
    p = argparse.ArgumentParser(prog="python bench/scaling.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0], metavar="F",
                   help="fractions of the province, 0.01 to 1 (default 0.25 0.5 1.0)")
    p.add_argument("--work", type=Path, default=BENCH / "out" / "scaling",
                   help="folder of the raw areas (raw-<F>, raw-<F>_truth) and the refresh scratch "
                        "(refresh-<F>); default bench/out/scaling")
    p.add_argument("--reuse", action="store_true",
                   help="measure a raw area already in <work>/raw-<F> as it is (checked); without it an "
                        "existing area stops the run rather than being overwritten")
    p.add_argument("--raw-for", action="append", default=[], metavar="F=DIR",
                   help="use DIR as the raw area of fraction F (checked like a reused one), e.g. "
                        "1.0=/tmp/province/raw; may be given more than once")
    p.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="measure a reused or given area even when its ground truth does not match this "
                        "generator, fraction and seed (a warning, recorded in the JSON)")
    p.add_argument("--only-generate", action="store_true",
                   help="write (or check) the raw areas and stop: no refresh, no results")
    p.add_argument("--keep", action="store_true", help="keep <work>/refresh-<F> (linked area, cache, warehouse)")
    p.add_argument("--results", type=Path, default=BENCH / "results",
                   help="folder of scaling-<YYYYMMDD-HHMM>.json/.md/.svg (default bench/results)")
    a = p.parse_args()
    try:
        given = parse_raw_for(a.raw_for)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        p.error(str(exc))
    fractions = sorted(set(a.fractions))
    bad = [f for f in fractions if not 0.01 <= f <= 1.0]
    if bad:
        p.error(f"fractions must be 0.01 to 1: {bad}")
    stray = [f for f in given if f not in fractions]
    if stray:
        p.error(f"--raw-for names fraction(s) not in --fractions: {stray}")
    sys.path.insert(0, str(ROOT))
    from pipelines.demo.spec import scale_spec

    work = a.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now()
    res: dict = {"kind": "scaling", "started": started.strftime("%Y-%m-%d %H:%M"), "machine": machine(),
                 "seed": a.seed, "work": str(work), "backend": "sqlite", "fractions": []}
    say(f"townstat scaling: fractions {' '.join(fkey(f) for f in fractions)}, seed {a.seed}, work {work}")
    for f in fractions:
        entry = prepare(f, work, a.seed, given.get(f), a.reuse, a.check)
        entry["counties"] = len(scale_spec("province", f).county_codes)
        res["fractions"].append(entry)
    if a.only_generate:
        say("raw areas ready (--only-generate): " + ", ".join(e["raw"] for e in res["fractions"]))
        return
    for entry in res["fractions"]:
        cold_refresh(entry, work, a.keep)
    res["finished"] = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    res["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    res["fits"] = fits(res)
    a.results.mkdir(parents=True, exist_ok=True)
    stem = a.results / f"scaling-{started.strftime('%Y%m%d-%H%M')}"
    svg_path = stem.with_suffix(".svg")
    svg_path.write_text(svg(res), encoding="utf-8")
    md = markdown(res, svg_path.name)
    stem.with_suffix(".md").write_text(md, encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps(res, indent=2, ensure_ascii=False, default=str))
    say(f"\nresults written to {stem}.json, .md and .svg\n")
    print(md)
    failed = [fkey(e["fraction"]) for e in res["fractions"] if not e.get("cold", {}).get("ok")]
    if failed:
        sys.exit(f"refresh failed for fraction(s) {', '.join(failed)}")


if __name__ == "__main__":
    main()
