"""write_demo_raw_area: the whole demo raw area plus its ground truth."""

from __future__ import annotations

import json
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
from pipelines.demo.spec import check_codes, scale_spec
from pipelines.demo.world import World, build_world, employment_month, rng_for, tax_month
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
                 rows: int = 0, fmt: str = "") -> None:
        p = self.raw / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        self.order.append(rel)
        if status is not None:
            self.files.append(dict(path=rel, source=source or "", status=status, rows_read=rows,
                                   rows_loaded=rows if status == "loaded" else 0, rows_rejected=0, format=fmt))


def _headers(cols: list[str], source: str, rng, units_shown: dict[str, str] | None = None) -> list[str]:
    out = []
    for c in cols:
        h = header_for(c, source, rng)
        if units_shown and c in units_shown:
            h = h + units_shown[c]
        out.append(h)
    return out


def _fmt(i: int, rows: int, xlsx_every: int = 5) -> str:
    if i % xlsx_every == xlsx_every - 1 and rows <= XLSX_MAX_ROWS:
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
) -> DemoSummary:
    """Write a deterministic demo raw area into `out` and its ground truth into `truth_dir`.

    `truth_dir` defaults to `out.parent / (out.name + "_truth")`; the raw area holds only what
    a bureau would drop. The same seed gives the same bytes and mtimes.
    """
    t0 = time.monotonic()
    say = progress or (lambda _m: None)
    out = Path(out)
    truth_dir = Path(truth_dir) if truth_dir is not None else out.parent / (out.name + "_truth")
    # hidden files such as .gitkeep do not count: the raw area ignores them too
    if out.exists() and any(not p.name.startswith(".") for p in out.iterdir()):
        raise FileExistsError(f"{out} is not empty; the demo writes a fresh raw area")
    years = tuple(sorted(int(y) for y in years))
    spec = scale_spec(scale)
    check_codes()
    say(f"building the {scale} world (seed {seed})")
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
            fmt = "xlsx" if fr.height <= XLSX_MAX_ROWS else "csv-gb18030"
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
    rev_fmt = "xlsx" if rev.height <= XLSX_MAX_ROWS else "csv-utf8"
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
        if fmt == "xlsx" and fr.height > XLSX_MAX_ROWS:
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
    dup_candidate = None
    i = 0
    for y in years:
        for mth in range(1, 13):
            fr = tax_month(w, y, mth).join(w.entities.select("eid", "_section"), on="eid", how="left")
            rng = rng_for(seed, "tax-file", y, mth)
            fmt = _fmt(i, fr.height)
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
            tax_acc.append(v.select(pl.lit(y, pl.Int32).alias("year"), "eid", eff.alias("tax")))
            if dup_candidate is None and y == years[min(1, len(years) - 1)] and mth >= 6 and fmt != "xlsx":
                dup_candidate = (lay.path, em.data)
            i += 1
        say(f"tax {y}: 12 monthly files")
    tax_all = pl.concat(tax_acc)

    # ------------------------------------------------------------------ employment, monthly
    uscc_by_eid = w.entities.sort("eid")["uscc"]
    dec = []
    emp_counts = {"rows_written": 0, "valid_rows": 0}
    i = 0
    for y in years:
        for mth in range(1, 13):
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
            fmt = "xlsx" if i % 12 == 3 and fr.height <= XLSX_MAX_ROWS else CSV_FORMATS[(i + 2) % 4]
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
            if mth == 12:
                dec.append(fr.filter(pl.Series(em.ok)).select(pl.lit(y, pl.Int32).alias("year"), "pidx", "eid",
                                                              "hukou_code"))
            i += 1
        say(f"employment {y}: 12 monthly files")
    dec_all = pl.concat(dec)

    # ------------------------------------------------------------------ truth
    say("computing the ground truth")
    truth_dir.mkdir(parents=True, exist_ok=True)
    town_year = _town_year(years, current, tax_all, dec_all, reg_valid_all, town_of)
    spec_year = _specialty_year(w, current)
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
        "scale": scale, "seed": seed, "years": list(years),
        "specialty_town_ids": w.specialty["id"].to_list(),
        "sources": sources,
        "bad_rows_by_rule": {r: int(c) for r, c in bad.group_by("rule").len().sort("rule").iter_rows()}
        if bad.height else {},
        "per_year": {str(k): v for k, v in per_year.items()},
        "files": files.height,
        "minimums_per_year": dict(enterprise_reports=spec.min_reports, taxpayers=spec.min_taxpayers,
                                  insured_persons=spec.min_insured, register_entities=spec.min_register),
    }
    town_year.write_csv(truth_dir / "town_year.csv")
    bad.write_csv(truth_dir / "bad_rows.csv")
    files.select("path", "source", "status", "rows_read", "rows_loaded", "rows_rejected", "format").write_csv(
        truth_dir / "files.csv")
    spec_year.drop("core_output_fen", "output_fen", "share_target").write_csv(truth_dir / "specialty_town_year.csv")
    (truth_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                            encoding="utf-8")
    for k, name in enumerate(["town_year.csv", "bad_rows.csv", "files.csv", "specialty_town_year.csv",
                              "summary.json"]):
        os.utime(truth_dir / name, (BASE_MTIME + 60 * (len(area.order) + k),) * 2)
    secs = time.monotonic() - t0
    say(f"done in {secs:.1f}s: {files.height} files, {bad.height} bad rows")
    return DemoSummary(out, truth_dir, scale, seed, years, files.height, bad.height, sources, per_year,
                       w.specialty["id"].to_list(), secs)


def _town_year(years, current, tax_all, dec_all, reg, town_of) -> pl.DataFrame:
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
    df = pl.concat(frames, how="diagonal_relaxed").fill_null(0)
    return df.select(
        "town_code", "year", pl.col("enterprises").cast(pl.Int64),
        _fen_text(pl.col("output_fen")).alias("output_value"), _fen_text(pl.col("revenue_fen")).alias("revenue"),
        pl.col("employees").cast(pl.Int64), _fen_text(pl.col("tax_fen").cast(pl.Int64)).alias("tax_total"),
        pl.col("insured_persons").cast(pl.Int64), pl.col("market_entities").cast(pl.Int64),
    ).sort("town_code", "year")


def _specialty_year(w: World, current: pl.DataFrame) -> pl.DataFrame:
    towns = w.towns
    lead = w.leading
    rows = []
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
            rows.append(dict(specialty_town_id=s["id"], year=y, member_enterprises=mem.height,
                             leading_enterprises=n_lead, supporting_enterprises=mem.height - n_lead,
                             output_value=f"{out_fen // 100}.{out_fen % 100:02d}",
                             core_output_value=f"{core_fen // 100}.{core_fen % 100:02d}",
                             employees=int(mem["employees"].sum()), output_fen=out_fen, core_output_fen=core_fen,
                             share_target=w.share_target[s["id"]]))
    return pl.DataFrame(rows)


