"""The specialty-town evaluation as a terminal table, the way the county's leading-group
office reads it (contract section 6).

``render_evaluation(url, year)`` reads ``eval_specialty_town``, ``eval_criterion`` and
``dim_specialty_town`` (and ``dq_file`` for the data date) from the warehouse and prints
one block per criteria set: Chinese names first, each criterion's value with its threshold
and ✓/✗, the score (2 decimals) and the rank. Columns are aligned for double-width Chinese
characters (``unicodedata.east_asian_width``); every line of a block has the same width.
"""

from __future__ import annotations

import polars as pl

from pipelines.evaluation.criteria import CriteriaFileError, CriteriaSet, load_criteria_sets
from pipelines.evaluation.gap import gap_lines
from pipelines.evaluation.layout import wide
from pipelines.indicators.catalogue import SPECIALTY_TOWN_ID as S
from pipelines.lineage.display import boxed, display_width, table
from pipelines.warehouse.read import read_table

YES, NO, NONE = "✓", "✗", "-"
CATEGORY_ZH = {
    "manufacturing": "制造业",
    "agriculture": "特优农业",
    "light_industry": "特色轻工",
}
CRITERION_ZH = {
    "concentration": "集聚度",
    "scale": "规模",
    "market": "市场",
    "employment": "就业",
}
HEADERS = [
    "排名", "专业镇", "类别", "龙头企业", "配套企业", "集聚度",
    "产值(亿元)", "产值门槛(亿元)", "市场占有率", "占有率门槛",
    "从业人员", "就业门槛", "得分", "全部达标",
]
ALIGNS = [
    "right", "left", "left", "right", "right", "center",
    "right", "right", "right", "right",
    "right", "right", "right", "center",
]
#: display order (Chinese names first, then the criteria, score, rank, all met)
COLUMN_ORDER = [
    "专业镇", "类别", "龙头企业", "配套企业", "集聚度", "产值(亿元)", "产值门槛(亿元)",
    "市场占有率", "占有率门槛", "从业人员", "就业门槛", "得分", "排名", "全部达标",
]
#: threshold columns shown only when they differ between rows (else the footer states them)
_CONSTANT = {"占有率门槛": wide("market").threshold, "就业门槛": wide("employment").threshold}
YI = 100_000_000.0  # 1 亿元 in yuan


def _mark(met: bool | None) -> str:
    return NONE if met is None else (YES if met else NO)


def _num(value: float | int | None, fmt: str) -> str:
    return NONE if value is None else format(value, fmt)


def _with_mark(text: str, met: bool | None) -> str:
    return text if met is None else f"{text} {_mark(met)}"


def _criteria_files() -> dict[str, CriteriaSet]:
    """The shipped criteria-set files by name (for the Chinese name and the concentration
    thresholds, which the warehouse does not hold); empty when they cannot be read."""
    try:
        return {s.name: s for s in load_criteria_sets()}
    except (CriteriaFileError, OSError):
        return {}


def _data_date(url: str) -> str:
    files = read_table(url, "dq_file").filter(pl.col("status") == "loaded")
    if files.is_empty() or files["mtime"].drop_nulls().is_empty():
        return "未知 / unknown"
    latest = files["mtime"].max()
    return f"{latest:%Y-%m-%d %H:%M} UTC"


def _yuan_yi(value: float | None) -> str:
    return _num(None if value is None else value / YI, ",.2f")


_CONC, _SCALE, _MARKET, _EMPLOYMENT = (wide(c) for c in ("concentration", "scale", "market", "employment"))


def _row(r: dict, names: dict[str, str], national: dict[str, bool]) -> list[str]:
    share = r[_MARKET.reads[0]]
    share_text = NONE if share is None else f"{share * 100:.1f}%"
    if national.get(r[S]) and r[_MARKET.met]:
        share_text += "*"
    threshold = r[_MARKET.threshold]
    employment_threshold = r[_EMPLOYMENT.threshold]
    return [
        str(r["rank"]),
        names.get(r[S], r[S]),
        CATEGORY_ZH.get(r["category"], r["category"]),
        *[_num(r[c], "d") for c in _CONC.reads],
        _mark(r[_CONC.met]),
        _with_mark(_yuan_yi(r[_SCALE.reads[0]]), r[_SCALE.met]),
        _yuan_yi(r[_SCALE.threshold]),
        _with_mark(share_text, r[_MARKET.met]),
        NONE if threshold is None else f"{threshold * 100:.0f}%",
        _with_mark(_num(r[_EMPLOYMENT.reads[0]], ",d"), r[_EMPLOYMENT.met]),
        _num(None if employment_threshold is None else round(employment_threshold), ",d"),
        f"{r['score']:.2f}",
        _mark(r["all_met"]),
    ]


def _scale_note(crit: pl.DataFrame, dims: pl.DataFrame) -> str | None:
    scale = crit.filter(pl.col("criterion") == "scale")
    if scale.is_empty():
        return None
    joined = (
        scale.join(dims.select(pl.col("id").alias(S), "category", "heritage"), on=S, how="left")
        .group_by("category", "heritage", "threshold")
        .len()
        .sort(["threshold", "category"], descending=[True, False])
    )
    parts = []
    for r in joined.iter_rows(named=True):
        label = CATEGORY_ZH.get(r["category"], r["category"] or "")
        if r["heritage"]:
            label += "(历史发源地/地理标志)"
        parts.append(f"{label} {_yuan_yi(r['threshold'])} 亿元")
    return "规模：成员企业年产值 >= 门槛（" + "；".join(parts) + "）。"


def _footer(
    set_name: str,
    year: int,
    crit: pl.DataFrame,
    dims: pl.DataFrame,
    spec: CriteriaSet | None,
    data_date: str,
) -> list[str]:
    present = set(crit["criterion"].unique().to_list())
    notes = [f"说明：{YES} 达标，{NO} 未达标，{NONE} 无此项或无数据；产值单位亿元（1 亿元 = 100,000,000 元）。"]
    if "concentration" in present:
        rule = "集聚度：至少有龙头企业和关联配套企业各达门槛"
        c = next((c for c in spec.criteria if c.name == "concentration"), None) if spec else None
        if c is not None and set(c.reads) == set(_CONC.reads):
            lead, supp = (c.thresholds[name]["manufacturing"] for name in _CONC.reads)
            rule = (f"集聚度：龙头企业 >= {lead:g} 家且关联配套企业 >= {supp:g} 家"
                    f"（值 = min(龙头/{lead:g}, 配套/{supp:g})，门槛 1）")
        notes.append(rule + "。")
    scale = _scale_note(crit, dims)
    if scale:
        notes.append(scale)
    if "market" in present:
        t = crit.filter(pl.col("criterion") == "market")["threshold"].drop_nulls().unique().sort()
        ts = "、".join(f"{v * 100:.0f}%" for v in t.to_list()) or NONE
        notes.append(f"市场：主导产品全省市场占有率 >= {ts}，或具有全国性大市场空间"
                     "（标 *，视为达标）。")
    if "employment" in present:
        t = crit.filter(pl.col("criterion") == "employment")["threshold"].drop_nulls().unique().sort()
        ts = "、".join(f"{v:,.0f}" for v in t.to_list()) or NONE
        notes.append(f"就业：成员企业从业人员期末人数 >= {ts} 人。")
    weights = (
        crit.group_by("criterion").agg(pl.col("weight").first()).sort("criterion")
        .iter_rows(named=True)
    )
    wtext = "、".join(f"{CRITERION_ZH.get(w['criterion'], w['criterion'])} {w['weight']:g}"
                      for w in weights)
    notes.append("得分 = 100 x sum(权重 x min(值/门槛, 1.5)) / (1.5 x sum(权重))，恰好达标得 66.67。")
    notes.append(f"权重：{wtext}；排名按得分由高到低，同分并列。")
    notes.append(f"统计年度 {year}；数据截至 {data_date}（已载入原始文件的最新修改时间）。")
    notes.append(f"来源：eval_specialty_town、eval_criterion，标准集 {set_name}。")
    notes.append(f"Evaluation of specialty towns, year {year}, criteria set {set_name}: "
                 f"{YES} met, {NO} not met; output in 100 million yuan (yi).")
    return notes


def _block(
    set_name: str,
    year: int,
    wide: pl.DataFrame,
    crit: pl.DataFrame,
    dims: pl.DataFrame,
    spec: CriteriaSet | None,
    data_date: str,
    gap: list[str] = (),
) -> list[str]:
    names = dict(zip(dims["id"].to_list(), dims["name"].to_list(), strict=True))
    national = dict(zip(dims["id"].to_list(), dims["national_market"].to_list(), strict=True))
    rows = [_row(r, names, national) for r in wide.sort("rank", S).iter_rows(named=True)]
    shown = [h for h in COLUMN_ORDER
             if h not in _CONSTANT or wide[_CONSTANT[h]].drop_nulls().n_unique() > 1]
    order = [HEADERS.index(h) for h in shown]
    body = table(
        [HEADERS[i] for i in order],
        [[row[i] for i in order] for row in rows],
        [ALIGNS[i] for i in order],
        max_widths=[28] + [None] * (len(order) - 1),
    )
    width = display_width(body[0])
    title_zh = spec.name_zh if spec is not None and spec.name_zh else set_name
    met = int(wide["all_met"].sum())
    title = [
        f"{year} 年度专业镇认定评价：{title_zh}",
        f"Specialty-town evaluation {year}, criteria set {set_name}: "
        f"{wide.height} 个专业镇 / towns，全部达标 / all met: {met}",
    ]
    rule = "+" + "-" * (width - 2) + "+"
    foot = _footer(set_name, year, crit, dims, spec, data_date)
    return [rule, *boxed(title, width), *body, *boxed(foot, width), *boxed(list(gap), width), rule]


def evaluation_years(url: str) -> list[int]:
    """The years eval_specialty_town holds."""
    return sorted(read_table(url, "eval_specialty_town")["year"].unique().to_list())


def render_evaluation(url: str, year: int, criteria_set: str | None = None) -> str:
    """The evaluation of ``year`` as terminal text: one block per criteria set (all sets
    when ``criteria_set`` is None), rows by rank. When the year (or the set) has no
    evaluation, a bilingual message listing what is available."""
    wide = read_table(url, "eval_specialty_town")
    years = sorted(wide["year"].unique().to_list())
    if year not in years:
        have = "、".join(str(y) for y in years) if years else "无 / none"
        return (
            f"{year} 年没有专业镇评价结果。可用年份：{have}\n"
            f"No specialty-town evaluation for {year}. Years available: "
            f"{', '.join(str(y) for y in years) if years else 'none'}"
        )
    wide = wide.filter(pl.col("year") == year)
    sets = sorted(wide["criteria_set"].unique().to_list())
    if criteria_set is not None:
        if criteria_set not in sets:
            return (
                f"{year} 年没有标准集 {criteria_set} 的评价结果。可用标准集：{'、'.join(sets)}\n"
                f"No evaluation under criteria set {criteria_set!r} for {year}. "
                f"Criteria sets available: {', '.join(sets)}"
            )
        sets = [criteria_set]
    crit = read_table(url, "eval_criterion").filter(pl.col("year") == year)
    dims = read_table(url, "dim_specialty_town")
    files = _criteria_files()
    data_date = _data_date(url)
    gap = read_table(url, "eval_gap").filter(pl.col("year") == year)
    names = dict(zip(dims["id"].to_list(), dims["name"].to_list(), strict=True))
    blocks = []
    for name in sets:
        # under the table: what each specialty town still lacks, in words (contract section 6.1)
        lines = gap_lines(gap.filter(pl.col("criteria_set") == name), names, name, year)
        blocks.append("\n".join(_block(
            name,
            year,
            wide.filter(pl.col("criteria_set") == name),
            crit.filter(pl.col("criteria_set") == name),
            dims,
            files.get(name),
            data_date,
            ["认定差距 / distance to recognition:", *lines],
        )))
    return "\n\n".join(blocks) + "\n"
