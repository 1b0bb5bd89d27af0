"""Bounded memory on hostile files (issue 12 item 2): the county refresh with a 3-million-row
xlsx and a 1 GB CSV planted, against the clean county refresh.

    .venv/bin/python bench/hostile.py                      # county demo, 1 GB CSV, 3 M-row xlsx
    .venv/bin/python bench/hostile.py --csv-mb 200 --xlsx-rows 1200000   # a quicker look

Both refreshes are cold (empty cache, new warehouse), each in its own child process through
`bench/steps.py refresh`, so the peak RSS is that child's (`wait4`). Targets: peak RSS at most
1.5x and wall time at most 2x the clean refresh. The planted files are refused whole (the CSV
for the memory bound, the sheet for Excel's row limit): what they cost is listing, hashing
and the streamed check of the sheet.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zipfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from run import ensure_raw, machine, measured, say  # noqa: E402
from steps import link_area  # noqa: E402

ENROLMENT_HEADER = "所属期,公民身份号码,单位统一社会信用代码,户籍地区划代码,缴费基数(元)\n"


def plant_csv(path: Path, megabytes: int) -> int:
    """A valid-looking enrolment CSV of `megabytes` MB (rows repeated in blocks: fast to write)."""
    from tests.ingest.rawfiles import person, uscc

    block = "".join(f"2024-06,{person(i % 997 + 1)},{uscc(i % 389 + 1)},140823,{3000 + i}.00\n"
                    for i in range(10_000)).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    target = megabytes * 1024 * 1024
    with path.open("wb") as fh:
        fh.write(ENROLMENT_HEADER.encode())
        written = 0
        while written < target:
            fh.write(block)
            written += len(block)
    return path.stat().st_size


def plant_xlsx(path: Path, rows: int) -> int:
    """A tax workbook of `rows` data rows, no <dimension> (the check must count), deflated."""
    from tests.ingest.rawfiles import uscc

    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        z.writestr("xl/workbook.xml", f'<?xml version="1.0"?><workbook {ns} xmlns:r="{rel}"><sheets>'
                                      '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
                   f'2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" '
                   'Target="worksheets/sheet1.xml"/></Relationships>')
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(f'<?xml version="1.0"?><worksheet {ns}><sheetData>'.encode())
            fh.write(b'<row r="1"><c r="A1" t="inlineStr"><is><t>\xe6\x89\x80\xe5\xb1\x9e\xe6\x9c\x9f</t></is></c>'
                     b'<c r="B1" t="inlineStr"><is><t>\xe7\xba\xb3\xe7\xa8\x8e\xe4\xba\xba\xe8\xaf\x86\xe5\x88\xab'
                     b'\xe5\x8f\xb7</t></is></c><c r="C1" t="inlineStr"><is><t>\xe5\xa2\x9e\xe5\x80\xbc\xe7\xa8'
                     b'\x8e</t></is></c></row>')
            codes = [uscc(i).encode() for i in range(1, 101)]
            for start in range(2, rows + 2, 10_000):
                fh.write(b"".join(
                    b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>2024-07</t></is></c><c r="B%d" '
                    b't="inlineStr"><is><t>%s</t></is></c><c r="C%d"><v>%d</v></c></row>'
                    % (r, r, r, codes[r % 100], r, r % 1000) for r in range(start, min(start + 10_000, rows + 2))))
            fh.write(b"</sheetData></worksheet>")
    return path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", type=Path, help="the clean raw area (default: the county demo in bench/out)")
    ap.add_argument("--work", type=Path, default=BENCH / "out" / "hostile", help="scratch folder")
    ap.add_argument("--csv-mb", type=int, default=1024, help="size of the planted CSV (MB)")
    ap.add_argument("--xlsx-rows", type=int, default=3_000_000, help="data rows of the planted xlsx")
    args = ap.parse_args()

    raw = ensure_raw("county", args.raw)
    planted = args.work / "planted-raw"
    if not planted.exists():
        link_area(raw, planted)
        t = time.perf_counter()
        csv_bytes = plant_csv(planted / "employment" / "参保明细_全量导出.csv", args.csv_mb)
        xlsx_bytes = plant_xlsx(planted / "tax" / "税收明细_全量.xlsx", args.xlsx_rows)
        say(f"planted a {csv_bytes / 1e6:,.0f} MB CSV and a {xlsx_bytes / 1e6:,.1f} MB xlsx of "
            f"{args.xlsx_rows:,} rows in {time.perf_counter() - t:.0f} s")
    results = {}
    for label, area in (("clean", raw), ("planted", planted)):
        work = args.work / label
        results[label] = measured(["refresh", "--raw", str(area), "--work", str(work),
                                   "--url", f"sqlite:///{work}.sqlite"], f"cold refresh, {label}")
        Path(f"{work}.sqlite").unlink(missing_ok=True)
    clean, bad = results["clean"], results["planted"]
    rss = bad["peak_rss_mb"] / clean["peak_rss_mb"]
    wall = bad["wall_seconds"] / clean["wall_seconds"]
    say("\n| county refresh, cold | wall s | peak RSS MB |\n|---|---:|---:|")
    say(f"| clean | {clean['wall_seconds']:.1f} | {clean['peak_rss_mb']:.0f} |")
    say(f"| + {args.csv_mb:,} MB CSV and {args.xlsx_rows:,}-row xlsx | {bad['wall_seconds']:.1f} | "
        f"{bad['peak_rss_mb']:.0f} |")
    say(f"| ratio (target ≤ 2x time, ≤ 1.5x RSS) | {wall:.2f}x | {rss:.2f}x |")
    out = BENCH / "results" / f"hostile-{time.strftime('%Y%m%d-%H%M')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), "clean": clean, "planted": bad,
                               "ratios": {"wall": wall, "rss": rss}}, indent=2, default=str))
    ok = clean["ok"] and bad["ok"] and bad.get("published") and rss <= 1.5 and wall <= 2
    say(f"{'PASS' if ok else 'FAIL'}: results in {out.relative_to(ROOT)}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
