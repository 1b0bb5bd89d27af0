"""The demo's simulated world: entities, annual reports, monthly tax and enrolment records.

Everything is numpy/Polars vectorised; loops run over specialty towns, years and months only.
Money is held as integer fen (enterprise amounts are whole hundreds of yuan).
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.demo.identifiers import make_person_ids, make_usccs
from pipelines.demo.spec import (
    SECTION_WEIGHTS,
    TEMPLATES,
    WENXI,
    WENXI_TOWNS,
    ScaleSpec,
    specialty_codes,
    threshold_expr,
)
from pipelines.reference import industry_classes, shipped_towns

EPOCH = dt.date(1970, 1, 1)
WORDS = list("华兴鑫盛宏泰瑞恒丰源达祥信诚旺利通隆德嘉金晋汾康宇佳润浩森乾坤永新福顺安锦辉明")
OUT_OF_PROVINCE = np.array(["410102", "410323", "610102", "130102", "150102", "370102", "411202"])


def rng_for(seed: int, *keys: object) -> np.random.Generator:
    return np.random.default_rng([seed] + [zlib.crc32(str(k).encode("utf-8")) for k in keys])


def days(d: dt.date) -> int:
    return (d - EPOCH).days


@dataclass
class World:
    spec: ScaleSpec
    seed: int
    years: tuple[int, ...]
    towns: pl.DataFrame
    entities: pl.DataFrame  # eid, uscc, name, etype, kind, in_register, reg_town, industry_code, _section, ...
    enterprise_rows: pl.DataFrame  # year, eid, canonical enterprise columns (money in fen)
    specialty: pl.DataFrame  # specialty town reference rows
    leading: pl.DataFrame  # specialty_town_id, uscc, from_year, to_year
    share_target: dict[str, float]
    taxpayers: pl.DataFrame  # eid-level tax parameters
    rev_by_year: dict[int, np.ndarray]  # annual revenue (yuan) per taxpayer row, by year
    persons: dict[str, np.ndarray]
    person_ids: pl.Series
    employer_eid: np.ndarray


def _pick_by_weight(rng, n, weights):
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _industries(rng, etypes: np.ndarray, exclude: set[str]) -> np.ndarray:
    cls = industry_classes().filter(~pl.col("industry_code").is_in(sorted(exclude)))
    out = np.empty(len(etypes), dtype=object)
    for et, weights in SECTION_WEIGHTS.items():
        m = etypes == et
        k = int(m.sum())
        if not k:
            continue
        secs = list(weights)
        sec = np.array(secs)[_pick_by_weight(rng, k, [weights[s] for s in secs])]
        res = np.empty(k, dtype=object)
        for s in secs:
            codes = cls.filter(pl.col("section") == s)["industry_code"].to_numpy()
            if et == "individual" and s == "F":
                codes = np.array([c for c in codes if c.startswith("52")])
            mm = sec == s
            res[mm] = codes[rng.integers(0, len(codes), size=int(mm.sum()))]
        out[m] = res
    return out.astype(str)


def _random_dates(rng, years_lo: np.ndarray, years_hi: np.ndarray) -> np.ndarray:
    """Uniform day in [Jan 1 of years_lo, Dec 31 of years_hi] as days since epoch."""
    lo = np.array([days(dt.date(int(y), 1, 1)) for y in range(1990, 2031)])
    base = lo[years_lo - 1990]
    top = lo[years_hi + 1 - 1990] - 1
    return base + (rng.random(len(base)) * (top - base + 1)).astype(np.int64)


def build_world(spec: ScaleSpec, seed: int, years: tuple[int, ...]) -> World:
    rng = rng_for(seed, "world", spec.scale)
    y0, y_last = years[0], years[-1]
    ny = len(years)
    towns = shipped_towns().filter(pl.col("county_code").is_in(list(spec.county_codes))).sort("town_code")
    t_codes = towns["town_code"].to_numpy().astype(str)
    t_county = towns["county_code"].to_numpy().astype(str)
    t_weight = rng.lognormal(0, 0.9, len(t_codes)) * np.where(
        towns["town_name"].str.ends_with("街道").to_numpy(), 2.0, 1.0)
    county_list = np.array(spec.county_codes)
    county_first = np.searchsorted(t_county, county_list)
    county_count = np.searchsorted(t_county, county_list, side="right") - county_first
    exclude = specialty_codes()

    # ---------------------------------------------------------------- specialty towns
    plans = []
    for w in WENXI_TOWNS:
        if WENXI in spec.county_codes:
            plans.append(dict(w, county=WENXI))
    if spec.other_specialty_per_county:
        srng = rng_for(seed, "specialty", spec.scale)
        k = 0
        for c in spec.county_codes:
            n_here = spec.other_specialty_per_county if c != WENXI else 0
            if spec.scale == "province" and c.startswith("1408") and c != WENXI:
                n_here = 2
            ctowns = t_codes[t_county == c]
            for j in range(n_here):
                tpl = TEMPLATES[(k * 5 + int(srng.integers(0, 3))) % len(TEMPLATES)]
                k += 1
                nh = int(srng.integers(0, 3))
                host = tuple(sorted(srng.choice(ctowns, size=min(nh, len(ctowns)), replace=False))) if nh else ()
                cname = towns.filter(pl.col("county_code") == c)["county_name"][0]
                plans.append(dict(
                    id=f"{c}-{j + 1:02d}", name=f"{cname}{tpl.product}专业镇", host=host, tpl=tpl, county=c,
                    n_lead=int(srng.integers(1, 3)), n_members=int(srng.integers(8, 32)),
                    lead_rev=float(srng.lognormal(np.log(8e7), 0.5)),
                    mem_rev=float(srng.lognormal(np.log(6e6), 0.5)), prod=3e5,
                    share=float(srng.uniform(0.1, 0.8)), lead_from=y0))
    mem_parts = []
    lead_rows = []
    for p in plans:
        tpl = p["tpl"]
        n_m = p["n_members"]
        mr = rng_for(seed, "members", p["id"])
        is_lead = np.arange(n_m) < p["n_lead"]
        codes = np.where(
            is_lead | (mr.random(n_m) < 0.4),
            np.array(tpl.core)[mr.integers(0, len(tpl.core), n_m)],
            np.array(tpl.supporting)[mr.integers(0, len(tpl.supporting), n_m)],
        )
        hosts = np.array(p["host"]) if p["host"] else t_codes[t_county == p["county"]]
        town = hosts[mr.integers(0, len(hosts), n_m)]
        rev0 = np.where(is_lead, p["lead_rev"] * mr.lognormal(0, 0.25, n_m), p["mem_rev"] * mr.lognormal(0, 0.7, n_m))
        mem_parts.append(pl.DataFrame({
            "industry_code": codes, "reg_town": town, "rev0": rev0,
            "prod": np.full(n_m, p["prod"]) * mr.lognormal(0, 0.2, n_m),
            "specialty_id": [p["id"]] * n_m, "is_leading": is_lead,
        }))
    members = pl.concat(mem_parts) if mem_parts else pl.DataFrame(
        schema={"industry_code": pl.String, "reg_town": pl.String, "rev0": pl.Float64, "prod": pl.Float64,
                "specialty_id": pl.String, "is_leading": pl.Boolean})
    n_mem = members.height

    # ---------------------------------------------------------------- entity universe
    n_rep = spec.reporters
    n_other = spec.register - n_mem - int(n_rep * 0.98)
    n_neither = max(25, spec.taxpayer_others // 50)
    kind = np.concatenate([np.zeros(n_mem, np.int8), np.ones(n_rep, np.int8), np.full(n_other, 2, np.int8),
                           np.full(n_neither, 3, np.int8)])
    n = len(kind)
    u = rng.random(n)
    etype = np.where(kind <= 1, "enterprise", np.where(kind == 3, "enterprise",
                     np.where(u < 0.36, "enterprise", np.where(u < 0.93, "individual", "cooperative"))))
    etype = etype.astype(str)
    town_idx = _pick_by_weight(rng, n, t_weight)
    reg_town = t_codes[town_idx]
    reg_town[:n_mem] = members["reg_town"].to_numpy()
    industry = _industries(rng, etype, exclude)
    industry[:n_mem] = members["industry_code"].to_numpy()
    in_register = kind <= 2
    in_register[n_mem:n_mem + n_rep] = rng.random(n_rep) >= 0.02
    county_of = np.array([t[:6] for t in reg_town]) if n < 50_000 else pl.Series(reg_town).str.slice(0, 6).to_numpy()
    county_of = county_of.astype(str)
    region = county_of.copy()
    region[kind == 3] = np.where(rng.random(int((kind == 3).sum())) < 0.5, "140100", "410102")
    cat = np.where(etype == "enterprise", 1, np.where(etype == "individual", 2, 3))
    uscc = make_usccs(n, rng, region, cat)

    # dates (days since epoch)
    est_year = np.where(kind == 0, rng.integers(2000, 2019, n),
                        np.where(kind == 1, np.where(u < 0.88, rng.integers(1995, y0, n),
                                                     np.where(u < 0.94, y0, min(y0 + 1, y_last))),
                                 (1998 + 27 * rng.power(2.5, n)).astype(np.int64).clip(1998, y_last)))
    established = _random_dates(rng, est_year, est_year)
    dereg = np.full(n, -1, dtype=np.int64)
    r2 = rng.random(n)
    rep_dereg = (kind == 1) & (r2 < 0.03) & (est_year < y_last)
    dyear = np.maximum(est_year + 1, np.where(rng.random(n) < 0.5, y_last - 1, y_last))
    dereg = np.where(rep_dereg, _random_dates(rng, dyear.clip(max=y_last), dyear.clip(max=y_last)), dereg)
    oth_dereg = (kind == 2) & (r2 < 0.22)
    cand = established + 30 + rng.exponential(1400, n).astype(np.int64)
    dereg = np.where(oth_dereg & (cand <= days(dt.date(y_last, 12, 31))), cand, dereg)
    dereg = np.where((dereg >= 0) & (dereg <= established), established + 30, dereg)

    # names
    town_name_of = dict(zip(towns["town_code"], towns["town_name"], strict=True))
    county_name_of = dict(zip(towns["county_code"], towns["county_name"], strict=True))
    w1 = np.array(WORDS)[rng.integers(0, len(WORDS), n)]
    w2 = np.array(WORDS)[rng.integers(0, len(WORDS), n)]
    ent = pl.DataFrame({
        "eid": np.arange(n, dtype=np.int64), "kind": kind, "etype": etype, "uscc": uscc,
        "in_register": in_register, "reg_town": reg_town, "industry_code": industry,
        "established": established, "deregistered": dereg, "w1": w1, "w2": w2,
        "suffix_k": rng.integers(0, 4, n),
    })
    cls = industry_classes().select("industry_code", pl.col("section").alias("_section"),
                                    pl.col("industry_name"))
    ent = ent.join(cls, on="industry_code", how="left").sort("eid")
    ind_short = (pl.col("industry_name").str.replace_all("制造|种植|加工|生产|批发|零售|服务|及其他|其他|活动|业|、|及|和|（|）", "")
                 .str.slice(0, 4))
    cshort = pl.col("reg_town").str.slice(0, 6).replace_strict(county_name_of, default="晋").str.slice(0, 2)
    tname = pl.col("reg_town").replace_strict(town_name_of, default="").str.replace("街道|镇|乡|社区", "")
    suffix = pl.col("suffix_k").replace_strict({0: "有限公司", 1: "有限责任公司", 2: "股份有限公司", 3: "科技有限公司"})
    ent = ent.with_columns(
        pl.when(pl.col("etype") == "enterprise").then(pl.concat_str([cshort, "w1", "w2", ind_short, suffix]))
        .when(pl.col("etype") == "individual").then(
            pl.concat_str([tname, "w1", "w2", ind_short, pl.col("suffix_k").replace_strict(
                {0: "店", 1: "经营部", 2: "门市部", 3: "商行"})]))
        .otherwise(pl.concat_str([cshort, tname, "w1", ind_short, pl.lit("专业合作社")])).alias("name"),
        pl.from_epoch(pl.col("established"), time_unit="d").alias("established"),
        pl.when(pl.col("deregistered") >= 0).then(pl.from_epoch(pl.col("deregistered"), time_unit="d"))
        .alias("deregistered"),
        threshold_expr(pl.col("industry_code"), pl.col("_section")).alias("threshold"),
    ).drop("w1", "w2", "suffix_k")

    # ---------------------------------------------------------------- enterprise reports
    rep_mask = kind <= 1
    rep_eid = np.flatnonzero(rep_mask)
    m = len(rep_eid)
    rr = rng_for(seed, "reports", spec.scale)
    thr = ent["threshold"].to_numpy()[rep_eid]
    thr = np.where(np.isnan(thr.astype(np.float64)), 0.0, thr.astype(np.float64))
    rev0 = rr.lognormal(np.log(4.5e6), 1.35, m)
    boost = rr.random(m) < 0.02
    rev0 = np.where(boost, rev0 * (1 + rr.pareto(1.2, m) * 4), rev0).clip(1e5, 4e10)
    rev0[:n_mem] = members["rev0"].to_numpy()
    growth = np.exp(rr.normal(0.05, 0.16, (m, ny)))
    growth[:, 0] = 1.0
    crossing = (np.arange(m) >= n_mem) & (thr > 0) & (rr.random(m) < 0.06)
    rev0 = np.where(crossing, thr * rr.uniform(0.75, 0.97, m), rev0)
    if ny > 1:
        growth[:, 1] = np.where(crossing, thr * rr.uniform(1.03, 1.3, m) / rev0, growth[:, 1])
    rev = rev0[:, None] * np.cumprod(growth, axis=1)
    sec = ent["_section"].to_numpy()[rep_eid]
    out_ratio = np.where(np.isin(sec, ["B", "C", "D"]), rr.uniform(0.92, 1.08, m),
                         np.where(sec == "A", rr.uniform(0.9, 1.2, m), rr.uniform(0.2, 0.6, m)))
    prod = rr.lognormal(np.log(3.5e5), 0.5, m)
    prod[:n_mem] = members["prod"].to_numpy()
    rd_flag = (np.isin(sec, ["C", "M", "I"]) & (rr.random(m) < 0.35)) | (np.arange(m) < n_mem) & (rr.random(m) < 0.5)
    exp_flag = rr.random(m) < 0.1
    ecom_flag = rr.random(m) < 0.2
    high_tech = rd_flag & (rr.random(m) < 0.2)
    sme = rr.random(m) < 0.05
    giant = (sme & (rr.random(m) < 0.15)) | (rr.random(m) < 0.002)
    lvl = np.where(rr.random(m) < 0.94, "none", np.where(rr.random(m) < 0.6, "municipal",
                                                         np.where(rr.random(m) < 0.85, "provincial", "national")))
    reloc = (np.arange(m) >= n_mem) & (rr.random(m) < 0.03)
    reloc_from = rr.integers(1, max(2, ny), m)
    rep_reg = reg_town[rep_eid]
    rep_county_pos = np.searchsorted(county_list, np.array([t[:6] for t in rep_reg]) if m < 50_000
                                     else pl.Series(rep_reg).str.slice(0, 6).to_numpy().astype(str))
    other_town = t_codes[county_first[rep_county_pos] + (rr.random(m) * county_count[rep_county_pos]).astype(np.int64)]
    est_y = ent["established"].dt.year().to_numpy()[rep_eid]
    der = ent["deregistered"].dt.year().to_numpy()[rep_eid]
    der = np.where(np.isnan(der.astype(np.float64)), 9999, der).astype(np.int64)
    rows = []

    def r100(x):
        return (np.round(x / 100.0) * 100).astype(np.int64) * 100  # fen, whole hundreds of yuan

    for k, y in enumerate(years):
        files = (est_y <= y) & (der > y) & ((rr.random(m) >= 0.015) | (np.arange(m) < n_mem))
        revenue = rev[:, k] * rr.lognormal(0, 0.02, m)
        emp = np.maximum(1, np.round(revenue / prod * rr.lognormal(0, 0.05, m))).astype(np.int64).clip(max=900_000)
        rd = np.where(rd_flag, revenue * rr.uniform(0.005, 0.05, m), np.nan)
        rd = np.where(~rd_flag & (rr.random(m) < 0.4), 0.0, rd)
        ex = np.where(exp_flag, revenue * rr.uniform(0.05, 0.5, m), np.where(rr.random(m) < 0.5, 0.0, np.nan))
        ec = np.where(ecom_flag, revenue * rr.uniform(0.01, 0.3, m), np.where(rr.random(m) < 0.5, 0.0, np.nan))
        pats = np.where(rd_flag, rr.poisson(2.0, m), 0)
        town = np.where(reloc & (k >= reloc_from), other_town, rep_reg)
        sel = np.flatnonzero(files)
        rows.append(pl.DataFrame({
            "year": np.full(len(sel), y, dtype=np.int32), "eid": rep_eid[sel].astype(np.int64),
            "town_code": town[sel], "output_value": r100(revenue * out_ratio)[sel],
            "revenue": r100(revenue)[sel], "employees": emp[sel],
            "rd_expenditure": pl.Series(np.where(np.isnan(rd), -1, r100(np.nan_to_num(rd)))[sel]),
            "export_value": pl.Series(np.where(np.isnan(ex), -1, r100(np.nan_to_num(ex)))[sel]),
            "ecommerce_sales": pl.Series(np.where(np.isnan(ec), -1, r100(np.nan_to_num(ec)))[sel]),
            "patents_granted": pats[sel].astype(np.int64), "high_tech": high_tech[sel],
            "specialized_sme": sme[sel], "little_giant": giant[sel], "tech_center_level": lvl[sel],
        }))
    money_opt = ["rd_expenditure", "export_value", "ecommerce_sales"]
    er = pl.concat(rows).with_columns(
        [pl.when(pl.col(c) >= 0).then(pl.col(c)).alias(c) for c in money_opt]
    ).join(ent.select("eid", "uscc", "name", "industry_code", "_section", "kind"), on="eid", how="left")
    er = er.sort("year", "eid")

    # ---------------------------------------------------------------- specialty reference
    mem_eids = np.arange(n_mem)
    lead_mask = members["is_leading"].to_numpy()
    mem_ids = members["specialty_id"].to_numpy()
    for p in plans:
        sel = mem_eids[(mem_ids == p["id"]) & lead_mask]
        for j, e in enumerate(sel):
            to_year = "" if not (p["id"].endswith("-02") and p["county"] != WENXI and j == 1) else str(y0 + 1)
            lead_rows.append((p["id"], str(uscc[e]), p["lead_from"], to_year))
    specialty = pl.DataFrame({
        "id": [p["id"] for p in plans], "name": [p["name"] for p in plans],
        "county_code": [p["county"] for p in plans],
        "host_town_codes": [";".join(p["host"]) for p in plans],
        "category": [p["tpl"].category for p in plans],
        "heritage": [p["tpl"].heritage for p in plans],
        "national_market": [p["tpl"].national_market for p in plans],
        "core_industry_codes": [";".join(p["tpl"].core) for p in plans],
        "supporting_industry_codes": [";".join(p["tpl"].supporting) for p in plans],
    }, schema_overrides={"heritage": pl.Boolean, "national_market": pl.Boolean})
    leading = pl.DataFrame(lead_rows, schema=["specialty_town_id", "uscc", "from_year", "to_year"], orient="row")

    # ---------------------------------------------------------------- taxpayers
    tr = rng_for(seed, "taxpayers", spec.scale)
    end_all = days(dt.date(y_last, 12, 31))
    start_all = days(dt.date(y0, 1, 1))
    est_d = established
    der_d = np.where(dereg >= 0, dereg, 10**7)
    oth = np.flatnonzero((kind == 2) & (est_d <= end_all) & (der_d >= start_all))
    oth = np.sort(tr.choice(oth, size=min(len(oth), spec.taxpayer_others), replace=False))
    tp_eid = np.concatenate([rep_eid, oth, np.flatnonzero(kind == 3)])
    nt = len(tp_eid)
    tp_rev = {}
    base_oth = np.where(etype[tp_eid] == "individual", tr.lognormal(np.log(2.5e5), 0.9, nt),
                        np.where(etype[tp_eid] == "cooperative", tr.lognormal(np.log(4e5), 1.0, nt),
                                 tr.lognormal(np.log(2e6), 1.2, nt)))
    for k, y in enumerate(years):
        rv = base_oth * (1.05 ** k)
        rv[:m] = rev[:, k]
        tp_rev[y] = rv
    taxpayers = pl.DataFrame({
        "eid": tp_eid.astype(np.int64), "etype": etype[tp_eid], "est": est_d[tp_eid], "der": der_d[tp_eid],
        "kind": kind[tp_eid], "noise": tr.lognormal(0, 0.25, nt),
    }).join(ent.select("eid", "uscc", "name"), on="eid", how="left").sort("eid")
    taxpayers = taxpayers.with_columns(
        pl.when(pl.col("kind") == 3).then(0).otherwise(pl.col("est")).alias("est"),
        pl.when(pl.col("kind") == 3).then(10**7).otherwise(pl.col("der")).alias("der"))

    # ---------------------------------------------------------------- persons and employers
    pr = rng_for(seed, "persons", spec.scale)
    npers = spec.persons
    emp_weight = np.zeros(n)
    avg_emp = er.group_by("eid").agg(pl.col("employees").mean()).sort("eid")
    emp_weight[avg_emp["eid"].to_numpy()] = avg_emp["employees"].to_numpy() * 0.8
    alive_all = (est_d < start_all) & (dereg < 0)
    emp_weight = np.where((kind == 2) & alive_all,
                          np.where(etype == "enterprise", 4.0, np.where(etype == "individual", 1.2, 2.0)),
                          emp_weight)
    emp_weight = np.where(kind == 3, 3.0, emp_weight)
    emp_pool = np.flatnonzero(emp_weight > 0)
    pw = emp_weight[emp_pool]
    e0 = emp_pool[_pick_by_weight(pr, npers, pw)]
    e1 = emp_pool[_pick_by_weight(pr, npers, pw)]
    nm = 12 * ny
    switch = np.where(pr.random(npers) < 0.1, pr.integers(1, nm, npers), nm + 1)
    overlap = (pr.random(npers) < 0.3) & (e0 != e1)
    start = np.where(pr.random(npers) < 0.04, pr.integers(1, nm, npers), 0)
    end = np.where(pr.random(npers) < 0.04, pr.integers(0, nm - 1, npers), nm + 1)
    end = np.maximum(end, start)
    # hukou: the employer's county mostly; some other counties of the area; some other provinces
    emp_town = reg_town[e0]
    local = pr.random(npers)
    h_town_idx = np.where(local < 0.8, -1, _pick_by_weight(pr, npers, t_weight))
    hukou0 = np.where(h_town_idx < 0, emp_town, t_codes[np.maximum(h_town_idx, 0)])
    hukou0 = np.where(kind[e0] == 3, t_codes[_pick_by_weight(pr, npers, t_weight)], hukou0)
    outp = local > 0.95
    hukou0 = np.where(outp, OUT_OF_PROVINCE[pr.integers(0, len(OUT_OF_PROVINCE), npers)], hukou0)
    hukou1 = t_codes[_pick_by_weight(pr, npers, t_weight)]
    hmove = np.where(pr.random(npers) < 0.04, pr.integers(1, nm, npers), nm + 1)
    area = pl.Series(hukou0).str.slice(0, 6).to_numpy().astype(str)
    birth = pl.Series(pr.integers(days(dt.date(1962, 1, 1)), days(dt.date(2004, 12, 31)), npers))
    birth_s = pl.from_epoch(birth, time_unit="d").dt.strftime("%Y%m%d").to_numpy().astype(str)
    grp = pl.DataFrame({"a": area, "b": birth_s, "r": pr.integers(0, 1000, npers)}).with_columns(
        ((pl.col("r").first().over("a", "b") + pl.int_range(pl.len()).over("a", "b")) % 1000).alias("seq"))
    pids = make_person_ids(area, birth_s, grp["seq"].to_numpy())
    base_yuan = np.round(pr.lognormal(np.log(4800), 0.35, npers).clip(3600, 30000)).astype(np.int64)
    persons = dict(e0=e0, e1=e1, switch=switch, overlap=overlap, start=start, end=end,
                   hukou0=hukou0, hukou1=hukou1, hmove=hmove, base_yuan=base_yuan)
    share = {p["id"]: p["share"] for p in plans}
    return World(spec, seed, years, towns, ent, er, specialty, leading, share, taxpayers, tp_rev,
                 persons, pl.Series("person_id", pids), emp_pool)


SEASON = np.array([1.05, 0.85, 0.95, 1.0, 1.0, 0.95, 0.95, 0.95, 1.0, 1.05, 1.05, 1.3])


def tax_month(w: World, year: int, month: int) -> pl.DataFrame:
    """Canonical tax rows of one month (money in fen)."""
    r = rng_for(w.seed, "tax", year, month)
    tp = w.taxpayers
    n = tp.height
    ms = days(dt.date(year, month, 1))
    me = days(dt.date(year + month // 12, month % 12 + 1, 1)) - 1
    alive = (tp["est"].to_numpy() <= me) & (tp["der"].to_numpy() >= ms) & (r.random(n) >= 0.04)
    rev = w.rev_by_year[year] * tp["noise"].to_numpy()
    monthly = rev / 12 * SEASON[month - 1] * r.lognormal(0, 0.15, n)
    et = tp["etype"].to_numpy()
    indiv = et == "individual"
    coop = et == "cooperative"
    vat_rate = np.where(indiv, 0.01, np.where(coop, 0.0, 0.03))
    vat = monthly * vat_rate * r.lognormal(0, 0.2, n)
    vat = np.where(indiv & (r.random(n) < 0.4), 0.0, vat)
    refund = r.random(n) < 0.015
    vat = np.where(refund, -np.abs(vat) * r.uniform(0.2, 1.0, n) - 100, vat)
    cit_month = month in (1, 4, 7, 10, 5)
    cit = np.where(et == "enterprise", rev * (0.012 if month == 5 else 0.004) * r.lognormal(0, 0.3, n), np.nan)
    if not cit_month:
        cit = np.where(et == "enterprise", np.where(r.random(n) < 0.5, 0.0, np.nan), np.nan)
    other = monthly * 0.004 * r.lognormal(0, 0.4, n)
    other = np.where(indiv & (r.random(n) < 0.3), np.nan, other)
    inv = np.where(indiv & (r.random(n) < 0.3), np.nan, monthly * r.lognormal(0, 0.1, n))

    def fen(x):
        return np.where(np.isnan(x), -(10**15), np.round(x * 100)).astype(np.int64)

    sel = np.flatnonzero(alive)
    df = pl.DataFrame({
        "eid": tp["eid"].to_numpy()[sel], "uscc": tp["uscc"].to_numpy()[sel],
        "taxpayer_name": tp["name"].to_numpy()[sel],
        "vat": fen(vat)[sel], "corporate_income_tax": fen(cit)[sel], "other_tax": fen(other)[sel],
        "invoice_sales": fen(inv)[sel], "_r": r.random(len(sel)),
    }).with_columns([pl.when(pl.col(c) > -(10**15)).then(pl.col(c)).alias(c)
                     for c in ["vat", "corporate_income_tax", "other_tax", "invoice_sales"]])
    parts = pl.sum_horizontal("vat", "corporate_income_tax", "other_tax")
    all_null = pl.col("vat").is_null() & pl.col("corporate_income_tax").is_null() & pl.col("other_tax").is_null()
    df = df.with_columns(
        pl.lit(f"{year}-{month:02d}").alias("period"),
        pl.when(all_null).then(None)
        .when(pl.col("_r") < 0.1).then(None)  # blank total: the pipeline sums the parts
        .when(pl.col("_r") > 0.997).then(parts + 50_000)  # a given total that disagrees (flag only)
        .otherwise(parts).alias("total_tax"),
    ).drop("_r")
    return df


def extend_revenue(w: World, year: int) -> None:
    """Revenue of a year after the report years, which only the monthly files reach: each
    taxpayer's revenue of the year before times its own growth (a stream of its own, so the
    report years' records do not change)."""
    if year in w.rev_by_year:
        return
    before = w.rev_by_year[year - 1]
    r = rng_for(w.seed, "next-year", w.spec.scale, year)
    w.rev_by_year[year] = before * r.lognormal(0.06, 0.12, len(before))


def employment_month(w: World, year: int, month: int) -> pl.DataFrame:
    """Canonical enrolment rows of one month: pidx (person index), employer eid, hukou, base (fen).

    A month after the report years continues them: an enrolment, employer or hukou with no
    change planned within the report years (`12 * years + 1`, "never") stays as it is."""
    p = w.persons
    t = (year - w.years[0]) * 12 + month - 1
    never = 12 * len(w.years) + 1

    def planned(a: np.ndarray) -> np.ndarray:
        return np.where(a == never, np.iinfo(np.int64).max, a)

    switch = planned(p["switch"])
    active = (p["start"] <= t) & (t <= planned(p["end"]))
    emp = np.where(t < switch, p["e0"], p["e1"])
    main = np.flatnonzero(active)
    extra = np.flatnonzero(active & (t == switch) & p["overlap"])
    pidx = np.concatenate([main, extra])
    employer = np.concatenate([emp[main], p["e0"][extra]])
    order = np.lexsort((pidx, employer))
    pidx, employer = pidx[order], employer[order]
    hukou = np.where(t < planned(p["hmove"])[pidx], p["hukou0"][pidx], p["hukou1"][pidx])
    k = year - w.years[0]
    base = (np.round(p["base_yuan"][pidx] * 1.05**k)).astype(np.int64) * 100
    return pl.DataFrame({"pidx": pidx.astype(np.int64), "eid": employer.astype(np.int64),
                         "hukou": hukou, "contribution_base": base})
