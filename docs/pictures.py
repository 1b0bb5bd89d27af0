"""Make the README's pictures: the dashboard and the evaluation workbook of the county demo.

    python docs/pictures.py            # regenerate docs/images/*.png and docs/images/pictures.json
    python docs/pictures.py --help

What it does, all in a temporary folder (the checkout's raw/, warehouse/ and dagster_home/ are
left alone):

1. writes the county demo raw area (`write_demo_raw_area(scale="county", seed=7)`) and refreshes
   it into a SQLite warehouse with the real pipeline (`run_refresh`), which writes
   ``dashboard.html`` and ``evaluation_<year>.xlsx`` into its reports folder (GX off, the demo
   PII key, a Dagster instance of its own);
2. ``docs/images/dashboard.png``: the dashboard's first screen, a headless Chromium screenshot
   (1400 x 1000, plotly given 10 s of virtual time to draw);
3. ``docs/images/workbook.png``: the workbook's first printed page (the first criteria set's
   sheet), converted to PDF by LibreOffice headless and rendered by ``pdftoppm``, cropped to
   the page's title and table (``pdftotext -bbox``; the footer left out) at the resolution
   that makes them 1400 pixels wide (80 dpi at least: a sheet fitted to one A4 page wide
   prints small);
4. ``docs/images/pictures.json``, the manifest: for each picture the SHA-256 of the PNG, of the
   module that draws it (``pipelines/reports/dashboard.py`` / ``workbook.py``, line endings
   normalised) and of every published table the picture shows (`table_digest`: the rows read
   back with `read_table`, sorted, floats to 10 significant digits — the same on any machine).

``tests/test_readme_pictures.py`` compares the manifest with the PNGs, the modules and the
county demo warehouse of the test session: after a change to the dashboard or workbook code, or
to the demo data, it fails with "run python docs/pictures.py". It never re-renders: the
pixels depend on the machine's fonts and browser, the manifest's inputs do not.

Needs: ``chromium`` (or chromium-browser / google-chrome), ``soffice`` (Debian:
``libreoffice-calc-nogui``) and ``pdftoppm``/``pdftotext`` (``poppler-utils``). The PNGs are
kept as the tools draw them (about 130 KB and 50 KB; no Pillow in the environment, none needed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
if str(CHECKOUT) not in sys.path:  # `python docs/pictures.py` puts docs/ first, not the checkout
    sys.path.insert(0, str(CHECKOUT))
IMAGES = CHECKOUT / "docs" / "images"
MANIFEST = IMAGES / "pictures.json"
RERUN = "run python docs/pictures.py"

#: The demo the pictures show (the same as the test session's county warehouse).
DEMO = {"scale": "county", "seed": 7}

#: Each picture: its file, the module that draws it, and the published tables it shows.
PICTURES: dict[str, dict] = {
    "dashboard": {
        "png": "docs/images/dashboard.png",
        "sources": ["pipelines/reports/dashboard.py"],
        # every table `build_figures` reads
        "tables": ["pub_town_year", "dim_town", "dim_specialty_town", "eval_criterion",
                   "eval_specialty_town", "ind_specialty_town_year", "eval_target", "eval_gap"],
        "alt": "看板 / dashboard",
    },
    "workbook": {
        "png": "docs/images/workbook.png",
        "sources": ["pipelines/reports/workbook.py"],
        # the first page: one criteria set's sheet (eval_criterion, eval_specialty_town, names)
        "tables": ["eval_criterion", "eval_specialty_town", "dim_specialty_town"],
        "alt": "评价工作簿 / evaluation workbook",
    },
}

WINDOW = (1400, 1000)
DPI = 80
#: the workbook's picture: its table this many pixels wide (the sheet prints one page wide)
WORKBOOK_WIDTH = 1400
PNG_LIMIT = 300 * 1024
SIGNIFICANT = 10


# ---- digests (shared with tests/test_readme_pictures.py) ------------------------------------

def source_digest(rel: str, root: Path = CHECKOUT) -> str:
    """SHA-256 of a source file's bytes with CRLF/CR turned into LF (a Windows checkout agrees)."""
    data = (root / rel).read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _cell(value: object) -> object:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return float(f"{value:.{SIGNIFICANT}g}")  # the last bits of a sum may differ by machine
    if isinstance(value, (int, str, bool)) or value is None:
        return value
    return str(value)


def table_digest(url: str, name: str) -> str:
    """SHA-256 of a published table's content, independent of the machine and of row order:
    its column names and types, then its rows (floats rounded to 10 significant digits) as JSON
    lines, sorted. Date-time columns (file times, load times) are left out."""
    import polars as pl

    from pipelines.warehouse.read import read_table

    df = read_table(url, name)
    df = df.select([c for c, t in df.schema.items() if not isinstance(t, pl.Datetime)])
    h = hashlib.sha256()
    h.update(json.dumps([[c, str(t)] for c, t in df.schema.items()], ensure_ascii=False).encode())
    lines = sorted(json.dumps([_cell(v) for v in row], ensure_ascii=False, sort_keys=True)
                   for row in df.iter_rows())
    for line in lines:
        h.update(b"\n" + line.encode("utf-8"))
    return h.hexdigest()


# ---- tools ------------------------------------------------------------------------------------

def _tool(*names: str, package: str) -> str:
    for n in names:
        found = shutil.which(n)
        if found:
            return found
    raise SystemExit(f"{names[0]} not found: install it (Debian: apt-get install -y {package})")


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0] if text else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _run(cmd: list[str], timeout: int, what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")


def _png_size(png: Path) -> tuple[int, int]:
    head = png.read_bytes()[:24]
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def shoot_dashboard(html: Path, out: Path, work: Path) -> str:
    chrome = _tool("chromium", "chromium-browser", "google-chrome", package="chromium")
    profile = work / "chromium-profile"
    cmd = [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", "--disable-extensions", "--force-device-scale-factor=1",
           f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
           "--virtual-time-budget=10000", f"--screenshot={out}", html.resolve().as_uri()]
    out.unlink(missing_ok=True)
    _run(cmd, 180, "chromium screenshot")
    if not out.exists():
        raise SystemExit(f"chromium wrote no screenshot: {' '.join(cmd)}")
    return _version([chrome, "--version"])


def _content_box(pdf: Path, pdftotext: str, pad: float = 12.0,
                 gap: float = 72.0) -> tuple[float, float, float, float] | None:
    """The first page's table in points (x0, y0, x1, y1): the box of its printed words from
    the top down to the first blank band taller than ``gap`` (what lies below is the page
    footer), plus ``pad``; None when the page has no text."""
    proc = subprocess.run([pdftotext, "-bbox", "-f", "1", "-l", "1", str(pdf), "-"],
                          capture_output=True, text=True, timeout=120)
    num = r'="([0-9.]+)"'
    page = re.search(r"<page width" + num + r" height" + num, proc.stdout)
    words = re.findall(r"<word xMin" + num + r" yMin" + num + r" xMax" + num + r" yMax" + num,
                       proc.stdout)
    if proc.returncode != 0 or not page or not words:
        return None
    width, height = (float(v) for v in page.groups())
    boxes = sorted(([float(v) for v in w] for w in words), key=lambda b: b[1])
    top = [boxes[0]]
    for b in boxes[1:]:
        if b[1] - max(t[3] for t in top) > gap:
            break
        top.append(b)
    return (max(min(b[0] for b in top) - pad, 0.0), max(min(b[1] for b in top) - pad, 0.0),
            min(max(b[2] for b in top) + pad, width), min(max(b[3] for b in top) + pad, height))


def _page_options(box: tuple[float, float, float, float] | None) -> list[str]:
    """pdftoppm's resolution and crop: the table ``WORKBOOK_WIDTH`` pixels wide (at least
    `DPI` dots per inch), or the whole page at `DPI`."""
    if box is None:
        return ["-r", str(DPI)]
    x0, y0, x1, y1 = box
    dpi = min(max(round(WORKBOOK_WIDTH * 72 / (x1 - x0)), DPI), 300)
    px = dpi / 72
    return ["-r", str(dpi), "-x", str(int(x0 * px)), "-y", str(int(y0 * px)),
            "-W", str(math.ceil((x1 - x0) * px)), "-H", str(math.ceil((y1 - y0) * px))]


def render_workbook(xlsx: Path, out: Path, work: Path) -> str:
    soffice = _tool("soffice", "libreoffice", package="libreoffice-calc-nogui")
    pdftoppm = _tool("pdftoppm", package="poppler-utils")
    pdf_dir = work / "pdf"
    pdf_dir.mkdir(exist_ok=True)
    # a profile of its own: a LibreOffice already running elsewhere would take the job and
    # return before the PDF exists
    profile = (work / "soffice-profile").resolve().as_uri()
    _run([soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore",
          "--convert-to", "pdf", "--outdir", str(pdf_dir), str(xlsx)], 300, "LibreOffice conversion")
    pdf = pdf_dir / (xlsx.stem + ".pdf")
    if not pdf.exists():
        raise SystemExit(f"LibreOffice wrote no PDF for {xlsx}")
    stem = work / "page"
    box = _content_box(pdf, _tool("pdftotext", package="poppler-utils"))
    _run([pdftoppm, "-png", *_page_options(box), "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
         120, "pdftoppm")
    shutil.move(str(stem.with_suffix(".png")), out)
    return _version([soffice, "--version"]) + "; " + _version([pdftoppm, "-v"])


# ---- the run ----------------------------------------------------------------------------------

def _isolate(work: Path) -> None:
    """The demo's own settings: GX off, the demo PII key, a Dagster instance and defaults in
    ``work``; nothing the caller's environment says about a real warehouse applies."""
    for k in ("TOWNSTAT_PII_KEY", "TOWNSTAT_ENV", "TOWNSTAT_STAGING_DIR", "TOWNSTAT_SCRATCH_DIR"):
        os.environ.pop(k, None)
    os.environ["TOWNSTAT_GX"] = "off"
    home = work / "dagster_home"
    home.mkdir()
    shipped = CHECKOUT / "dagster_home" / "dagster.yaml"
    if shipped.exists():
        shutil.copyfile(shipped, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    for k, sub in (("TOWNSTAT_REPORTS_DIR", "reports"), ("TOWNSTAT_CACHE_DIR", "cache"),
                   ("TOWNSTAT_RAW_DIR", "raw")):
        os.environ[k] = str(work / sub)
    os.environ["WAREHOUSE_URL"] = f"sqlite:///{work / 'warehouse.sqlite'}"


def make_pictures(work: Path, quiet: bool = False) -> dict:
    say = (lambda _m: None) if quiet else (lambda m: print(m, flush=True))
    _isolate(work)
    # the drawing code as the refresh imports it; compared again before the manifest is written
    sources = {name: {rel: source_digest(rel) for rel in spec["sources"]}
               for name, spec in PICTURES.items()}
    from pipelines.demo import write_demo_raw_area
    from pipelines.refresh import run_refresh

    t0 = time.time()
    summary = write_demo_raw_area(work / "raw", **DEMO)
    url = f"sqlite:///{work / 'warehouse.sqlite'}"
    reports = work / "reports"
    say(f"demo raw area written ({time.time() - t0:.0f}s); refreshing …")
    outcome = run_refresh(summary.out, url, cache_dir=str(work / "cache"), reports_dir=str(reports))
    if not outcome.published:
        raise SystemExit("the demo refresh did not publish:\n" + outcome.summary_text())
    say(f"refreshed ({time.time() - t0:.0f}s)")
    html = reports / "dashboard.html"
    books = sorted(reports.glob("evaluation_*.xlsx"))
    if not html.exists() or not books:
        raise SystemExit(f"the refresh wrote no dashboard.html or evaluation_*.xlsx in {reports}")

    # drawn in the work folder; docs/images changes only when everything succeeded
    drawn = {name: work / Path(spec["png"]).name for name, spec in PICTURES.items()}
    tools = {}
    tools["dashboard"] = shoot_dashboard(html, drawn["dashboard"], work)
    say(f"dashboard.png ({time.time() - t0:.0f}s)")
    tools["workbook"] = render_workbook(books[-1], drawn["workbook"], work)
    say(f"workbook.png from {books[-1].name} ({time.time() - t0:.0f}s)")

    for name, spec in PICTURES.items():
        now = {rel: source_digest(rel) for rel in spec["sources"]}
        if now != sources[name]:
            raise SystemExit(f"{', '.join(spec['sources'])} changed while the pictures were made: "
                             f"{RERUN} again (docs/images/ is left as it was)")
    manifest = {
        "about": f"made by docs/pictures.py from the county demo (seed {DEMO['seed']}); "
                 f"checked by tests/test_readme_pictures.py — after a change, {RERUN}",
        "demo": DEMO,
        "pictures": {},
    }
    for name, spec in PICTURES.items():
        png = drawn[name]
        width, height = _png_size(png)
        manifest["pictures"][name] = {
            "png": spec["png"],
            "png_sha256": file_digest(png),
            "bytes": png.stat().st_size,
            "width": width,
            "height": height,
            "made_with": tools[name],
            "sources": sources[name],
            "tables": {t: table_digest(url, t) for t in spec["tables"]},
        }
        if png.stat().st_size > PNG_LIMIT:
            say(f"warning: {spec['png']} is {png.stat().st_size // 1024} KB (> {PNG_LIMIT // 1024} KB)")
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name, spec in PICTURES.items():
        shutil.copyfile(drawn[name], CHECKOUT / spec["png"])
    MANIFEST.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    say(f"{MANIFEST.relative_to(CHECKOUT)} written ({time.time() - t0:.0f}s)")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python docs/pictures.py",
        description="Regenerate the README's pictures from the county demo: refresh the demo "
                    "raw area (seed 7) into a temporary SQLite warehouse, screenshot "
                    "dashboard.html with headless Chromium (docs/images/dashboard.png), render "
                    "the evaluation workbook's first page with LibreOffice and pdftoppm "
                    "(docs/images/workbook.png), and write docs/images/pictures.json (the "
                    "SHA-256 of each PNG, of the module that draws it and of the tables it "
                    "shows), which tests/test_readme_pictures.py checks. Takes a few minutes; "
                    "needs chromium, soffice (libreoffice-calc-nogui) and pdftoppm (poppler-utils).",
    )
    parser.add_argument("--keep", metavar="DIR",
                        help="work in DIR (kept afterwards: raw area, warehouse, reports, PDF) "
                             "instead of a temporary folder")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)
    t0 = time.time()
    if args.keep:
        work = Path(args.keep).resolve()
        work.mkdir(parents=True, exist_ok=False)
        make_pictures(work, args.quiet)
    else:
        with tempfile.TemporaryDirectory(prefix="townstat-pictures-") as tmp:
            make_pictures(Path(tmp), args.quiet)
    if not args.quiet:
        for spec in PICTURES.values():
            png = CHECKOUT / spec["png"]
            w, h = _png_size(png)
            print(f"{spec['png']}: {w}x{h}, {png.stat().st_size // 1024} KB")
        print(f"done in {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
