"""write_demo_raw_area: the whole demo raw area plus its ground truth."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from pipelines.demo import render as R
from pipelines.demo.emit import Layout, emit, header_for
from pipelines.demo.spec import (
    PROGRESS_MONTHS,
    SPECIALTY_TARGETS,
    TARGET_TOWNS_PER_COUNTY,
    TARGETS_BAD,
    TOWN_TARGETS,
    check_codes,
    scale_spec,
)
from pipelines.demo.world import (
    World,
    build_world,
    employment_month,
    extend_revenue,
    rng_for,
    tax_month,
)
from pipelines.reference import TOWNS_CSV

BASE_MTIME = 1_736_899_200  # 2025-01-15 00:00:00 UTC; file k gets BASE_MTIME + 60 k
AREA_NAME = {"county": "闻喜县", "city": "运城市", "province": "山西省"}
ENT_COLUMNS = ["year", "uscc", "name", "town_code", "industry_code", "output_value", "revenue", "employees",
               "rd_expenditure", "export_value", "ecommerce_sales", "patents_granted", "high_tech",
               "specialized_sme", "little_giant", "tech_center_level"]
ENT_MONEY = ["output_value", "revenue", "rd_expenditure", "export_value", "ecommerce_sales"]
TAX_MONEY = ["vat", "corporate_income_tax", "other_tax", "total_tax", "invoice_sales"]
REG_COLUMNS = ["uscc", "name", "entity_type", "town_code", "industry_code", "established", "deregistered"]
CSV_FORMATS = ["csv-utf8", "csv-bom", "csv-gbk", "csv-gb18030"]
XLSX_MAX_ROWS = 60_000
TARGETS_PATH = "reference/targets.csv"


@dataclass
class DemoSummary:
    out: Path
    truth_dir: Path
    scale: str
    seed: int
    years: tuple[int, ...]
    files: int
    bad_rows: int
    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    per_year: dict[int, dict[str, int]] = field(default_factory=dict)
    specialty_town_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0
    progress_year: int | None = None  # the year after the last report year, January to March only
    targets: int = 0  # accepted rows of reference/targets.csv


class _Area:
    def __init__(self, raw: Path) -> None:
        self.raw = raw
        self.order: list[str] = []  # relative paths in mtime order
        self.files: list[dict] = []
        self.bad: list[pl.DataFrame] = []

    def add(self, emitted, lay: Layout) -> None:
        self.order.append(lay.path)
        self.files.append(emitted.file_row)
        if emitted.bad_rows.height:
            self.bad.append(emitted.bad_rows)

    def raw_file(self, rel: str, data: bytes, source: str | None, status: str | None,
                 rows: int = 0, fmt: str = "", bad_rows: pl.DataFrame | None = None) -> None:
        p = self.raw / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        self.order.append(rel)
        n_bad = 0 if bad_rows is None else bad_rows["source_row"].n_unique()
        if bad_rows is not None and bad_rows.height:
            self.bad.append(bad_rows)
        if status is not None:
            self.files.append(dict(path=rel, source=source or "", status=status, rows_read=rows,
                                   rows_loaded=rows - n_bad if status == "loaded" else 0, rows_rejected=0,
                                   format=fmt))


def _headers(cols: list[str], source: str, rng, units_shown: dict[str, str] | None = None) -> list[str]:
    out = []
    for c in cols:
        h = header_for(c, source, rng)
        if units_shown and c in units_shown:
            h = h + units_shown[c]
        out.append(h)
    return out


def _fmt(i: int, rows: int, xlsx_every: int = 5, xlsx_max: int = XLSX_MAX_ROWS) -> str:
    if i % xlsx_every == xlsx_every - 1 and rows <= xlsx_max:
        return "xlsx"
    return CSV_FORMATS[i % 4]


def _ext(fmt: str) -> str:
    return "xlsx" if fmt == "xlsx" else "csv"


def _fen_text(e: pl.Expr) -> pl.Expr:
    return R.money_text(e, "元")


def write_demo_raw_area(
    out: Path,
    scale: Literal["county", "city", "province"] = "county",
    seed: int = 7,
    years: tuple[int, ...] = (2022, 2023, 2024),
    progress: Callable[[str], None] | None = None,
    truth_dir: Path | None = None,
    months_ahead: int = PROGRESS_MONTHS,
    fraction: float = 1.0,
) -> DemoSummary:
    """Write a deterministic demo raw area into `out` and its ground truth into `truth_dir`.

    `truth_dir` defaults to `out.parent / (out.name + "_truth")`; the raw area holds only what
    a bureau would drop. The same seed gives the same bytes and mtimes.

    Besides the report years, the monthly tax and enrolment files reach the first
    `months_ahead` months of the year after the last report year (none when that year is
    still to come), and `reference/targets.csv` sets targets for the last report year and
    the year after (contract section 6.2), so that eval_target shows progress within a year.

    `fraction` (province only) writes that fraction of the province (`province_fraction`):
    the same files with about f times the rows each. A file is xlsx only where the whole
    province's file would be (f x XLSX_MAX_ROWS rows at most), so the mix of formats, and
    the work per row, stays that of the province.
    """
    t0 = time.monotonic()
    say = progress or (lambda _m: None)
    out = Path(out)
    truth_dir = Path(truth_dir) if truth_dir is not None else out.parent / (out.name + "_truth")
    # hidden files such as .gitkeep do not count: the raw area ignores them too
    if out.exists() and any(not p.name.startswith(".") for p in out.iterdir()):
        raise FileExistsError(f"{out} is not empty; the demo writes a fresh raw area")
    years = tuple(sorted(int(y) for y in years))
    if not 0 <= months_ahead <= 12:
        raise ValueError(f"months_ahead must be 0 to 12, not {months_ahead}")
    spec = scale_spec(scale, fraction)
    xlsx_max = round(XLSX_MAX_ROWS * spec.fraction)  # the province's choice of formats
    check_codes()
    say(f"building the {scale} world (seed {seed}"
        + (f", fraction {spec.fraction}: {len(spec.county_codes)} counties)" if spec.fraction != 1 else ")"))
    w = build_world(spec, seed, years)
    out.mkdir(parents=True, exist_ok=True)
    area = _Area(out)
    aname = AREA_NAME[scale]
    leading_set = set(w.leading["uscc"].to_list())
    y0, y_last = years[0], years[-1]

    # ------------------------------------------------------------------ enterprise reports
    ent_valid = []
    er = w.enterprise_rows
    for k, y in enumerate(years):
        fr = er.filter(pl.col("year") == y)
        rng = rng_for(seed, "enterprise-file", y)
        style = k % 3
        if style == 0:
            fmt = "xlsx" if fr.height <= xlsx_max else "csv-gb18030"
            lay = Layout(f"enterprise/{y}/{aname}企业年报_{y}.{_ext(fmt)}", "enterprise", fmt, ENT_COLUMNS,
                         _headers(ENT_COLUMNS, "enterprise", rng), [f"{y}年{aname}企业年报主要指标汇总表", "单位：万元"],
                         {c: "万元" for c in ENT_MONEY}, bool_pairs=[("是", "否"), ("有", "无")],
                         total_label="name", blank_row=True)
        elif style == 1:
            units = {c: "千元" for c in ENT_MONEY} | {"output_value": "万元"}
            lay = Layout(f"enterprise/{y}/{aname}企业统计年报{y}.csv", "enterprise", "csv-gbk", ENT_COLUMNS,
                         _headers(ENT_COLUMNS, "enterprise", rng, {"output_value": "(万元)"}),
                         [f"{aname}{y}年度企业统计年报", "金额单位：千元"], units, thousands=True,
                         bool_pairs=[("Y", "N"), ("1", "0")], total_label="name")
        else:
            units = {"output_value": "万元", "revenue": "千元", "rd_expenditure": "元", "export_value": "亿元",
                     "ecommerce_sales": "万元"}
            shown = {"output_value": "（万元）", "revenue": "(千元)", "rd_expenditure": "（元）",
                     "export_value": "(亿元)", "ecommerce_sales": "（万元）"}
            lay = Layout(f"enterprise/{y}/enterprise_report_{y}.csv", "enterprise", "csv-bom", ENT_COLUMNS,
                         _headers(ENT_COLUMNS, "enterprise", rng, shown), [], units,
                         bool_pairs=[("true", "false"), ("yes", "no"), ("是", "否")])
        em = emit(fr, lay, rng, out, protect=fr["uscc"].is_in(list(leading_set)).to_numpy())
        area.add(em, lay)
        ent_valid.append(fr.filter(pl.Series(em.ok)))
        say(f"enterprise {y}: {fr.height} rows")
    ent_valid_all = pl.concat(ent_valid)

    # revision of the middle (or only) year: same keys, changed values, later mtime
    ry = years[1] if len(years) > 1 else years[0]
    rr = rng_for(seed, "revision", ry)
    cand = ent_valid_all.filter((pl.col("year") == ry) & ~pl.col("uscc").is_in(list(leading_set)))
    nrev = max(5, cand.height // 33)
    pick = np.sort(rr.choice(cand.height, size=min(nrev, cand.height), replace=False))
    rev = cand[pick].with_columns(
        ((pl.col("output_value") * pl.Series(rr.uniform(0.85, 1.15, len(pick))) / 10_000).round(0)
         .cast(pl.Int64) * 10_000).alias("output_value"),
        ((pl.col("revenue") * pl.Series(rr.uniform(0.85, 1.15, len(pick))) / 10_000).round(0)
         .cast(pl.Int64) * 10_000).alias("revenue"),
        (pl.col("employees") + pl.Series(rr.integers(-3, 8, len(pick)))).clip(lower_bound=0).alias("employees"),
    )
    rev_fmt = "xlsx" if rev.height <= xlsx_max else "csv-utf8"
    rev_lay = Layout(f"enterprise/{ry}/{aname}企业年报_{ry}_更正.{_ext(rev_fmt)}", "enterprise", rev_fmt,
                     ENT_COLUMNS, list(ENT_COLUMNS), [f"{ry}年企业年报数据更正"], {c: "万元" for c in ENT_MONEY},
                     bad_fraction=0.0)
    revision = (rev, rev_lay, rr)

    # ------------------------------------------------------------------ register
    ents = w.entities.filter(pl.col("in_register"))
    reg_valid = []
    groups = [("enterprise", "cooperative"), ("individual",)] if scale != "province" else \
        [("enterprise",), ("individual",), ("cooperative",)]
    for g, types in enumerate(groups):
        fr = ents.filter(pl.col("etype").is_in(list(types))).select(
            "eid", "uscc", "name", pl.col("etype").alias("entity_type"), pl.col("reg_town").alias("town_code"),
            "industry_code", "_section", "established", "deregistered").sort("eid")
        rng = rng_for(seed, "registry-file", g)
        fmt = ["xlsx", "csv-gb18030", "csv-gbk"][g]
        if fmt == "xlsx" and fr.height > xlsx_max:
            fmt = "csv-utf8"
        name = ["市场主体登记名录", "个体工商户登记名录", "农民专业合作社名录"][g]
        title = [f"{aname}{name}（截至{y_last}年12月31日）"] if g != 1 else []
        lay = Layout(f"registry/{name}.{_ext(fmt)}", "registry", fmt, REG_COLUMNS,
                     _headers(REG_COLUMNS, "registry", rng), title, {}, etype_english=(g == 2))
        em = emit(fr, lay, rng, out, protect=fr["uscc"].is_in(list(leading_set)).to_numpy())
        area.add(em, lay)
        reg_valid.append(fr.filter(pl.Series(em.ok)))
    reg_valid_all = pl.concat(reg_valid).select("eid", pl.col("town_code").alias("reg_town"),
                                                "established", "deregistered")
    say(f"registry: {ents.height} rows")

    # ------------------------------------------------------------------ town of each entity, by year
    current = pl.concat([ent_valid_all.join(revision[0].select("year", "eid"), on=["year", "eid"], how="anti"),
                         revision[0]], how="vertical_relaxed").sort("year", "eid")
    town_of = {
        y: pl.concat([
            current.filter(pl.col("year") == y).select("eid", pl.col("town_code").alias("town")),
            reg_valid_all.join(current.filter(pl.col("year") == y).select("eid"), on="eid", how="anti")
            .select("eid", pl.col("reg_town").alias("town")),
        ])
        for y in years
    }

    # ------------------------------------------------------------------ tax, monthly
    tax_acc = []
    tax_counts = {"rows_written": 0, "valid_rows": 0}

    def tax_file(y: int, mth: int, i: int) -> tuple[Layout, bytes | None]:
        fr = tax_month(w, y, mth).join(w.entities.select("eid", "_section"), on="eid", how="left")
        rng = rng_for(seed, "tax-file", y, mth)
        fmt = _fmt(i, fr.height, xlsx_max=xlsx_max)
        has_total = i % 4 != 3
        cols = (["seq"] if i % 3 == 0 else []) + ["period", "uscc", "taxpayer_name", "vat",
                                                   "corporate_income_tax", "other_tax"]
        cols += (["total_tax"] if has_total else []) + ["invoice_sales"]
        style = "xlsxdate" if fmt == "xlsx" and (i // 5) % 2 == 0 else R.PERIOD_STYLES[(i * 3) % 7]
        shown = {c: ("(元)" if i % 2 else "（元）") for c in TAX_MONEY} if i % 5 == 2 else None
        title = [f"{y}年{mth}月{aname}税收收入明细", "金额单位：元"] if i % 4 == 1 else []
        lay = Layout(f"tax/{y}/税收明细_{y}{mth:02d}.{_ext(fmt)}", "tax", fmt, cols,
                     _headers(cols, "tax", rng, shown), title, {c: "元" for c in TAX_MONEY},
                     period_style=style, thousands=(i % 3 == 1), blank_row=(mth == 6),
                     total_label="taxpayer_name" if mth == 12 else None)
        em = emit(fr, lay, rng, out)
        area.add(em, lay)
        tax_counts["rows_written"] += em.file_row["rows_read"]
        tax_counts["valid_rows"] += em.file_row["rows_loaded"]
        v = fr.filter(pl.Series(em.ok))
        parts = pl.sum_horizontal("vat", "corporate_income_tax", "other_tax")
        none = pl.col("vat").is_null() & pl.col("corporate_income_tax").is_null() & pl.col("other_tax").is_null()
        eff = pl.when(none).then(None).otherwise(parts)
        if has_total:
            eff = pl.coalesce(pl.col("total_tax"), eff)
        tax_acc.append(v.select(pl.lit(y, pl.Int32).alias("year"), pl.lit(mth, pl.Int8).alias("month"), "eid",
                                eff.alias("tax")))
        return lay, em.data

    dup_candidate = None
    i = 0
    for y in years:
        for mth in range(1, 13):
            lay, data = tax_file(y, mth, i)
            if dup_candidate is None and y == years[min(1, len(years) - 1)] and mth >= 6 and lay.fmt != "xlsx":
                dup_candidate = (lay.path, data)
            i += 1
        say(f"tax {y}: 12 monthly files")
    n_tax_files = i

    # ------------------------------------------------------------------ employment, monthly
    uscc_by_eid = w.entities.sort("eid")["uscc"]
    dec = []
    enrol_at = {}  # (year, month) -> accepted enrolment rows of a month whose persons eval_target counts
    emp_counts = {"rows_written": 0, "valid_rows": 0}

    def employment_file(y: int, mth: int, i: int) -> pl.DataFrame:
        """Write one month's enrolment file; its accepted rows (year, pidx, eid, hukou_code)."""
        em_fr = employment_month(w, y, mth)
        rng = rng_for(seed, "employment-file", y, mth)
        hv = rng.integers(0, 1000, em_fr.height)
        fr = em_fr.with_columns(
            w.person_ids.gather(em_fr["pidx"]).alias("person_id"),
            uscc_by_eid.gather(em_fr["eid"]).alias("employer_uscc"),
            pl.lit(f"{y}-{mth:02d}").alias("period"),
            pl.when(pl.col("hukou").str.len_chars() == 6).then(pl.col("hukou"))
            .when(pl.Series(hv) < 250).then(pl.col("hukou").str.slice(0, 6))
            .when(pl.Series(hv) < 450).then(pl.concat_str([pl.col("hukou"), pl.lit("000")]))
            .otherwise(pl.col("hukou")).alias("hukou_code"),
        )
        fmt = "xlsx" if i % 12 == 3 and fr.height <= xlsx_max else CSV_FORMATS[(i + 2) % 4]
        cols = ["period", "person_id", "employer_uscc", "hukou_code", "contribution_base"]
        style = "xlsxdate" if fmt == "xlsx" and (i // 12) % 2 == 1 else R.PERIOD_STYLES[(i * 5 + 1) % 7]
        shown = {"contribution_base": "（元）"} if i % 3 == 0 else None
        title = [f"{y}年{mth}月社会保险参保缴费明细"] if i % 4 == 2 else []
        lay = Layout(f"employment/{y}/参保明细_{y}{mth:02d}.{_ext(fmt)}", "employment", fmt, cols,
                     _headers(cols, "employment", rng, shown), title, {"contribution_base": "元"},
                     period_style=style, blank_row=(i == 4))
        em = emit(fr, lay, rng, out)
        area.add(em, lay)
        emp_counts["rows_written"] += em.file_row["rows_read"]
        emp_counts["valid_rows"] += em.file_row["rows_loaded"]
        return fr.filter(pl.Series(em.ok)).select(pl.lit(y, pl.Int32).alias("year"), "pidx", "eid", "hukou_code")

    i = 0
    for y in years:
        for mth in range(1, 13):
            ok_rows = employment_file(y, mth, i)
            if mth == 12:
                dec.append(ok_rows)
            elif mth == months_ahead and y == y_last:
                enrol_at[(y, mth)] = ok_rows.drop("hukou_code")
            i += 1
        say(f"employment {y}: 12 monthly files")
    n_emp_files = i
    dec_all = pl.concat(dec)

    # ------------------------------------------------------------------ truth
    say("computing the ground truth")
    truth_dir.mkdir(parents=True, exist_ok=True)
    tax_all = pl.concat(tax_acc)
    town_num = _town_year_numbers(years, current, tax_all, dec_all, reg_valid_all, town_of)
    town_year = _town_year_text(town_num)
    spec_year, members = _specialty_year(w, current, tax_all)
    market = spec_year.select(
        pl.col("specialty_town_id"), "year",
        pl.when(pl.col("core_output_fen") > 0)
        .then((pl.col("core_output_fen") / pl.col("share_target") / 1_000_000).round(0).cast(pl.Int64) * 10_000)
        .otherwise(pl.lit(100_000_000)).alias("provincial_output"))
    spec_year = spec_year.join(market, on=["specialty_town_id", "year"]).with_columns(
        (pl.col("core_output_fen") / 100 / pl.col("provincial_output")).alias("market_share"))

    # ------------------------------------------------------------------ reference files
    st = w.specialty.with_columns(pl.col("heritage").replace_strict({True: "true", False: "false"}),
                                  pl.col("national_market").replace_strict({True: "true", False: "false"}))
    refs = [("reference/specialty_towns.csv", st), ("reference/leading_enterprises.csv", w.leading),
            ("reference/market_totals.csv", market)]
    for rel, df in refs:
        area.raw_file(rel, df.write_csv().encode("utf-8"), "reference", "loaded", df.height, "csv-utf8")
    if scale != "province":
        data = TOWNS_CSV.read_bytes()
        area.raw_file("reference/towns.csv", data, "reference", "loaded", data.count(b"\n") - 1, "csv-utf8")

    # ------------------------------------------------------------------ odd files
    xr = rng_for(seed, "odd-files")
    area.raw_file(f"{aname}企业名单_临时.csv", current.head(5).select("uscc", "name", "town_code").write_csv()
                  .encode("utf-8"), "", "rejected", fmt="csv-utf8")
    area.raw_file(f"enterprise/{y_last}/填报说明.pdf",
                  b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
                  "enterprise", "rejected", fmt="pdf")
    area.raw_file(f"employment/{y_last}/参保明细_备份.xlsx", b"PK\x03\x04" + xr.bytes(2048), "employment",
                  "rejected", fmt="xlsx")
    area.raw_file(f"tax/{y_last}/税收明细_导出失败.csv", b"\x00\x01\x02\xff\xfe" + xr.bytes(4096), "tax",
                  "rejected", fmt="csv")
    area.raw_file(f"enterprise/{y0}/~${aname}企业年报_{y0}.xlsx", b"\x0block-file" + xr.bytes(150), None, None)
    area.raw_file("tax/.hidden.csv", "所属期,纳税人识别号,增值税\n".encode(), None, None)
    area.raw_file(f"employment/{y0}/x.tmp", b"partial copy", None, None)
    # the revision (later mtime than the file it corrects) and a file dropped twice
    rev_df, rev_lay, rrng = revision
    em = emit(rev_df.join(w.entities.select("eid", "_section"), on="eid", how="left"), rev_lay, rrng, out)
    area.add(em, rev_lay)
    if dup_candidate is not None:
        path, data = dup_candidate
        area.raw_file(path.rsplit(".", 1)[0] + " - 副本.csv", data, "tax", "duplicate", fmt="csv")

    # ------------------------------------------------------------------ the year after: January to March
    # The monthly files run ahead of the annual reports: the first months of the next year
    # arrive last (the latest mtimes), with the same taxpayers and insured persons.
    next_year = y_last + 1 if months_ahead > 0 and y_last + 1 <= dt.date.today().year else None
    if next_year is not None:
        extend_revenue(w, next_year)
        for mth in range(1, months_ahead + 1):
            tax_file(next_year, mth, n_tax_files + mth - 1)
        for mth in range(1, months_ahead + 1):
            ok_rows = employment_file(next_year, mth, n_emp_files + mth - 1)
            if mth == months_ahead:
                enrol_at[(next_year, mth)] = ok_rows.drop("hukou_code")
        say(f"{next_year}: tax and enrolment files of months 1-{months_ahead}")
    tax_all = pl.concat(tax_acc)

    # ------------------------------------------------------------------ targets (contract 6.2)
    tg_bytes, tg_rows, tg_bad, tg_truth = _targets(
        w, years, next_year, months_ahead, town_num, spec_year, members, tax_all, town_of, reg_valid_all,
        dec_all, enrol_at)
    area.raw_file(TARGETS_PATH, tg_bytes, "reference", "loaded", tg_rows, "csv-utf8", bad_rows=tg_bad)

    # ------------------------------------------------------------------ mtimes, truth files
    for k, rel in enumerate(area.order):
        os.utime(out / rel, (BASE_MTIME + 60 * k, BASE_MTIME + 60 * k))
    files = pl.DataFrame(area.files).with_columns(
        (pl.col("rows_read") - pl.col("rows_loaded")).alias("rows_rejected"))
    bad = pl.concat(area.bad).sort("path", "source_row", "column") if area.bad else pl.DataFrame()
    ent_written = int(files.filter(pl.col("source") == "enterprise")["rows_read"].sum())
    ent_loaded = int(files.filter(pl.col("source") == "enterprise")["rows_loaded"].sum())
    reg_files = files.filter(pl.col("source") == "registry")
    per_year = {}
    for y in years:
        per_year[y] = dict(
            enterprise_reports=int((current["year"] == y).sum()),
            taxpayers=int(tax_all.filter(pl.col("year") == y)["eid"].n_unique()),
            insured_persons_december=int(dec_all.filter(pl.col("year") == y)["pidx"].n_unique()),
            register_entities=reg_valid_all.height,
            market_entities_alive=int(town_year.filter(pl.col("year") == y)["market_entities"].sum()),
        )
    sources = {
        "enterprise": dict(rows_written=ent_written, valid_rows=ent_loaded, current_rows=current.height,
                           revised_rows=rev_df.height),
        "tax": dict(tax_counts, current_rows=tax_counts["valid_rows"]),
        "employment": dict(emp_counts, current_rows=emp_counts["valid_rows"]),
        "registry": dict(rows_written=int(reg_files["rows_read"].sum()),
                         valid_rows=int(reg_files["rows_loaded"].sum()), current_rows=reg_valid_all.height),
    }
    summary = {
        "scale": scale, **({"fraction": spec.fraction} if spec.fraction != 1 else {}), "seed": seed,
        "years": list(years),
        "specialty_town_ids": w.specialty["id"].to_list(),
        "sources": sources,
        "bad_rows_by_rule": {r: int(c) for r, c in bad.group_by("rule").len().sort("rule").iter_rows()}
        if bad.height else {},
        "per_year": {str(k): v for k, v in per_year.items()},
        # the months after the report years that the monthly files reach (contract 6.2 progress)
        "progress": {"year": next_year, "months": months_ahead if next_year is not None else 0,
                     "tax_rows": int((tax_all["year"] == next_year).sum()) if next_year is not None else 0},
        "targets": {"rows_written": tg_rows, "accepted": tg_truth.height,
                    "by_level": {lv: int(n) for lv, n in tg_truth.group_by("level").len().sort("level").iter_rows()}},
        "files": files.height,
        "minimums_per_year": dict(enterprise_reports=spec.min_reports, taxpayers=spec.min_taxpayers,
                                  insured_persons=spec.min_insured, register_entities=spec.min_register),
    }
    town_year.write_csv(truth_dir / "town_year.csv")
    bad.write_csv(truth_dir / "bad_rows.csv")
    files.select("path", "source", "status", "rows_read", "rows_loaded", "rows_rejected", "format").write_csv(
        truth_dir / "files.csv")
    spec_year.drop("core_output_fen", "output_fen", "tax_fen", "share_target").write_csv(
        truth_dir / "specialty_town_year.csv")
    tg_truth.write_csv(truth_dir / "targets.csv")
    (truth_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                            encoding="utf-8")
    for k, name in enumerate(["town_year.csv", "bad_rows.csv", "files.csv", "specialty_town_year.csv",
                              "summary.json", "targets.csv"]):
        os.utime(truth_dir / name, (BASE_MTIME + 60 * (len(area.order) + k),) * 2)
    secs = time.monotonic() - t0
    say(f"done in {secs:.1f}s: {files.height} files, {bad.height} bad rows")
    return DemoSummary(out, truth_dir, scale, seed, years, files.height, bad.height, sources, per_year,
                       w.specialty["id"].to_list(), secs, next_year, tg_truth.height)


def _town_year_numbers(years, current, tax_all, dec_all, reg, town_of) -> pl.DataFrame:
    """Town-year truth in numbers (money in fen): town_code, year, enterprises, output_fen,
    revenue_fen, employees, tax_fen, insured_persons, market_entities."""
    frames = []
    for y in years:
        tw = town_of[y]
        e = current.filter(pl.col("year") == y).group_by("town_code").agg(
            pl.len().alias("enterprises"), pl.col("output_value").sum().alias("output_fen"),
            pl.col("revenue").sum().alias("revenue_fen"), pl.col("employees").sum().alias("employees"))
        t = tax_all.filter(pl.col("year") == y).join(tw, on="eid", how="inner").group_by("town").agg(
            pl.col("tax").sum().alias("tax_fen")).rename({"town": "town_code"})
        d = dec_all.filter(pl.col("year") == y).join(tw, on="eid", how="inner").group_by("town").agg(
            pl.col("pidx").n_unique().alias("insured_persons")).rename({"town": "town_code"})
        end = pl.date(y, 12, 31)
        mk = reg.filter((pl.col("established") <= end) & (pl.col("deregistered").is_null()
                                                         | (pl.col("deregistered") > end)))
        mk = mk.group_by("reg_town").agg(pl.len().alias("market_entities")).rename({"reg_town": "town_code"})
        j = e
        for other in (t, d, mk):
            j = j.join(other, on="town_code", how="full", coalesce=True)
        frames.append(j.with_columns(pl.lit(y, pl.Int32).alias("year")))
    return pl.concat(frames, how="diagonal_relaxed").fill_null(0)


def _town_year_text(df: pl.DataFrame) -> pl.DataFrame:
    """town_year.csv: the numbers of `_town_year_numbers`, money as exact yuan text."""
    return df.select(
        "town_code", "year", pl.col("enterprises").cast(pl.Int64),
        _fen_text(pl.col("output_fen")).alias("output_value"), _fen_text(pl.col("revenue_fen")).alias("revenue"),
        pl.col("employees").cast(pl.Int64), _fen_text(pl.col("tax_fen").cast(pl.Int64)).alias("tax_total"),
        pl.col("insured_persons").cast(pl.Int64), pl.col("market_entities").cast(pl.Int64),
    ).sort("town_code", "year")


def _specialty_year(w: World, current: pl.DataFrame, tax_all: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Specialty-town-year truth (with tax_fen, the members' total_tax in fen) and the members
    (specialty_town_id, year, eid)."""
    towns = w.towns
    lead = w.leading
    rows = []
    member_parts = []
    tax_by_year = {y: tax_all.filter(pl.col("year") == y).group_by("eid").agg(pl.col("tax").sum())
                   for y in w.years}
    for s in w.specialty.iter_rows(named=True):
        host = [h for h in s["host_town_codes"].split(";") if h]
        area = host or towns.filter(pl.col("county_code") == s["county_code"])["town_code"].to_list()
        core = s["core_industry_codes"].split(";")
        codes = core + s["supporting_industry_codes"].split(";")
        lt = lead.filter(pl.col("specialty_town_id") == s["id"])
        for y in w.years:
            mem = current.filter((pl.col("year") == y) & pl.col("town_code").is_in(area)
                                 & pl.col("industry_code").is_in(codes))
            lead_u = lt.filter((pl.col("from_year") <= y) & ((pl.col("to_year") == "")
                                                             | (pl.col("to_year").cast(pl.Int64, strict=False) >= y)))
            n_lead = int(mem["uscc"].is_in(lead_u["uscc"].to_list()).sum())
            out_fen = int(mem["output_value"].sum())
            core_fen = int(mem.filter(pl.col("industry_code").is_in(core))["output_value"].sum())
            tax_fen = int(tax_by_year[y].filter(pl.col("eid").is_in(mem["eid"].implode()))["tax"].sum())
            member_parts.append(mem.select(pl.lit(s["id"]).alias("specialty_town_id"),
                                           pl.lit(y, pl.Int32).alias("year"), "eid"))
            rows.append(dict(specialty_town_id=s["id"], year=y, member_enterprises=mem.height,
                             leading_enterprises=n_lead, supporting_enterprises=mem.height - n_lead,
                             output_value=f"{out_fen // 100}.{out_fen % 100:02d}",
                             core_output_value=f"{core_fen // 100}.{core_fen % 100:02d}",
                             employees=int(mem["employees"].sum()), output_fen=out_fen, core_output_fen=core_fen,
                             tax_fen=tax_fen, share_target=w.share_target[s["id"]]))
    members = pl.concat(member_parts) if member_parts else pl.DataFrame(
        schema={"specialty_town_id": pl.String, "year": pl.Int32, "eid": pl.Int64})
    return pl.DataFrame(rows), members




# ---------------------------------------------------------------------------- targets (contract 6.2)

_WAN_FEN = 1_000_000  # 1 万元 in fen
_MONEY_TARGETS = {"output_value", "tax_total"}
_LEVEL_ZH = {"town": "乡镇", "specialty_town": "专业镇"}


def _round_target(value: float, money: bool, up: bool) -> int:
    """A target as a bureau writes it: money (fen) in whole 万元 (whole yuan below 1 million
    yuan), counts in whole units; rounded up or down so that a designed met/missed holds."""
    step = (_WAN_FEN if value >= 100 * _WAN_FEN else 100) if money else 1
    q = value / step
    return int((math.ceil(q) if up else math.floor(q)) * step)


def _targets(w: World, years: tuple[int, ...], next_year: int | None, months: int, town_num: pl.DataFrame,
             spec_num: pl.DataFrame, members: pl.DataFrame, tax_all: pl.DataFrame, town_of: dict,
             reg: pl.DataFrame, dec_all: pl.DataFrame, enrol_at: dict
             ) -> tuple[bytes, int, pl.DataFrame, pl.DataFrame]:
    """reference/targets.csv: (bytes, data rows, planted bad rows, truth of eval_target).

    Every specialty town and a few towns per county get targets for the last report year
    (half of them, at random, set a little below the year's actual value: met; the others a
    little above it: missed) and for the year after (the last year's value x 1.05-1.15; its
    progress comes from the January-March files). A few rows spell the level 乡镇/专业镇, one
    town code is written with 12 digits, and two rows are bad on purpose (`TARGETS_BAD`). The
    truth holds eval_target as the contract defines it, computed from the generator's records.
    """
    rng = rng_for(w.seed, "targets", w.spec.scale)
    y_last = years[-1]
    year_of = {"last": y_last, "next": next_year}
    town_codes = set(w.towns["town_code"].to_list())

    # actual values of the last report year (money in fen)
    last = town_num.filter(pl.col("year") == y_last)
    actual: dict[tuple[str, str, int, str], int] = {}
    for r in last.iter_rows(named=True):
        actual[("town", r["town_code"], y_last, "tax_total")] = int(r["tax_fen"])
        actual[("town", r["town_code"], y_last, "insured_persons")] = int(r["insured_persons"])
    for r in spec_num.filter(pl.col("year") == y_last).iter_rows(named=True):
        sid = r["specialty_town_id"]
        actual[("specialty_town", sid, y_last, "output_value")] = int(r["output_fen"])
        actual[("specialty_town", sid, y_last, "tax_total")] = int(r["tax_fen"])
        actual[("specialty_town", sid, y_last, "supporting_enterprises")] = int(r["supporting_enterprises"])
        actual[("specialty_town", sid, y_last, "employees")] = int(r["employees"])

    # which towns: a few per county among those with tax and insured persons in the last year
    chosen = []
    per_county = TARGET_TOWNS_PER_COUNTY.get(w.spec.scale, 5)
    eligible = last.filter((pl.col("tax_fen") > 0) & (pl.col("insured_persons") > 0)).sort("town_code")
    for county in w.spec.county_codes:
        codes = eligible.filter(pl.col("town_code").str.starts_with(county))["town_code"].to_list()
        if codes:
            chosen += sorted(rng.choice(codes, size=min(per_county, len(codes)), replace=False).tolist())

    plan = [("specialty_town", sid, ind, which) for sid in w.specialty["id"].to_list()
            for ind, whiches in SPECIALTY_TARGETS for which in whiches]
    plan += [("town", t, ind, which) for t in chosen for ind, whiches in TOWN_TARGETS for which in whiches]
    plan = [p for p in plan if year_of[p[3]] is not None and actual.get((p[0], p[1], y_last, p[2]), 0) > 0]
    n_last = sum(1 for p in plan if p[3] == "last")
    met_designed = iter((rng.permutation(n_last) % 2 == 0).tolist())
    rows = []
    for level, ident, ind, which in plan:
        base = actual[(level, ident, y_last, ind)]
        money = ind in _MONEY_TARGETS
        if which == "last":
            met = next(met_designed)
            f = rng.uniform(0.93, 0.99) if met else rng.uniform(1.03, 1.12)
            target = _round_target(base * f, money, up=not met)
        else:
            f = rng.uniform(1.01, 1.05) if ind == "insured_persons" else rng.uniform(1.05, 1.15)
            target = _round_target(base * f, money, up=True)
        rows.append(dict(level=level, id=ident, year=year_of[which], indicator=ind, target=target, money=money))
    rows.sort(key=lambda r: (r["level"], r["id"], r["year"], r["indicator"]))

    # as written: a few Chinese levels, one 12-digit town code, money in yuan
    written = []
    twelve_done = False
    for k, r in enumerate(rows):
        level = _LEVEL_ZH[r["level"]] if k % 5 == 3 else r["level"]
        ident = r["id"]
        if r["level"] == "town" and not twelve_done and r["year"] == (next_year or y_last):
            ident, twelve_done = ident + "000", True
        target = str(r["target"] // 100) if r["money"] else str(r["target"])
        written.append([level, ident, str(r["year"]), r["indicator"], target])
    bad_written = []
    for rule, col in TARGETS_BAD:
        if (rule, col) == ("unknown_town", "id"):
            county = w.spec.county_codes[0]
            code = next(f"{county}{k:03d}" for k in range(999, 0, -1) if f"{county}{k:03d}" not in town_codes)
            bad_written.append(["town", code, str(y_last), "tax_total", "12000000"])
        elif (rule, col) == ("value_invalid", "target"):
            # a key no other row has (a duplicate key would break duplicate_key as well)
            ident = chosen[0] if chosen else sorted(town_codes)[0]
            bad_written.append(["town", ident, str(next_year or y_last), "enterprises", "待定"])
        else:
            raise ValueError((rule, col))
    # the bad rows sit among the others, at evenly spread places
    lines = list(written)
    bad_rows = []
    for j, ((rule, col), row) in enumerate(zip(TARGETS_BAD, bad_written, strict=True)):
        pos = min(len(lines), (j + 1) * len(written) // (len(bad_written) + 1) + j)
        lines.insert(pos, row)
        bad_rows.append((pos, rule, col))
    bad = pl.DataFrame(
        [(TARGETS_PATH, pos + 2, col, rule) for pos, rule, col in bad_rows],
        schema={"path": pl.String, "source_row": pl.Int64, "column": pl.String, "rule": pl.String},
        orient="row")
    data = pl.DataFrame(lines, schema=["level", "id", "year", "indicator", "target"], orient="row").write_csv()

    # ------------------------------------------------------------------ truth of eval_target
    def attributed(level: str, y: int) -> pl.DataFrame:
        """(eid, id): the taxpayers and employers counting for each id in year y."""
        if level == "town":
            if y in town_of:
                return town_of[y].select("eid", pl.col("town").alias("id"))
            if y == next_year:  # no reports: the register town (contract section 5)
                return reg.select("eid", pl.col("reg_town").alias("id"))
            return pl.DataFrame(schema={"eid": pl.Int64, "id": pl.String})
        earlier = [r for r in years if r <= y]  # a year without reports: the latest earlier members
        return members.filter(pl.col("year") == (max(earlier) if earlier else -1)).select(
            "eid", pl.col("specialty_town_id").alias("id"))

    def tax_to(level: str, y: int, month: int) -> dict[str, int]:
        t = tax_all.filter((pl.col("year") == y) & (pl.col("month") <= month))
        agg = t.join(attributed(level, y), on="eid", how="inner").group_by("id").agg(pl.col("tax").sum())
        return dict(agg.iter_rows())

    def insured_at(level: str, y: int, month: int) -> dict[str, int]:
        e = dec_all.filter(pl.col("year") == y) if month == 12 else enrol_at.get((y, month))
        if e is None or e.height == 0:
            return {}
        agg = e.join(attributed(level, y), on="eid", how="inner").group_by("id").agg(pl.col("pidx").n_unique())
        return dict(agg.iter_rows())

    latest = {y_last: 12}
    if next_year is not None:
        latest[next_year] = months
    memo: dict = {}
    truth = []
    for r in rows:
        lv, ident, y, ind = r["level"], r["id"], r["year"], r["indicator"]
        act = actual.get((lv, ident, y, ind)) if y in years else None
        row = dict(level=lv, id=ident, year=y, indicator=ind, target=_num(r["target"], r["money"]),
                   actual=None if act is None else _num(act, r["money"]),
                   met=act is not None and act >= r["target"], latest_period=None, to_date=None, to_date_prev=None)
        if ind in ("tax_total", "insured_persons") and y in latest:
            m = latest[y]
            fn = tax_to if ind == "tax_total" else insured_at
            for col, yy in (("to_date", y), ("to_date_prev", y - 1)):
                key = (fn.__name__, lv, yy, m)
                if key not in memo:
                    memo[key] = fn(lv, yy, m)
                row[col] = _num(memo[key].get(ident, 0), r["money"])
            row["latest_period"] = f"{y}-{m:02d}"
        truth.append(row)
    truth_df = pl.DataFrame(truth, schema={
        "level": pl.String, "id": pl.String, "year": pl.Int32, "indicator": pl.String, "target": pl.String,
        "actual": pl.String, "met": pl.Boolean, "latest_period": pl.String, "to_date": pl.String,
        "to_date_prev": pl.String}).sort("level", "id", "year", "indicator")
    return data.encode("utf-8"), len(lines), bad, truth_df


def _num(value: int, money: bool) -> str:
    """Exact text of a value: money given in fen as yuan with two decimals, counts as integers."""
    if not money:
        return str(int(value))
    sign = "-" if value < 0 else ""
    a = abs(int(value))
    return f"{sign}{a // 100}.{a % 100:02d}"
