"""Progress towards the county's targets, as people read it (contract v4 section 6.2, seed 五(四)).

`eval_target` holds the numbers; this module says what they mean, once, for the CLI
(`townstat targets`), the workbook's 目标进度 sheet and the dashboard:

- **status**: 已达标 met / 未达标 missed when the year's indicator exists (`actual`); otherwise,
  for the monthly-fed indicators, 进度正常 on track / 进度落后 behind from `to_date`; else
  暂无数据 no data yet.
- **on track within the year**: `tax_total` is a flow, so by month m it should reach at least
  m/12 of the target (`expected_to_date`); `insured_persons` is a stock, so the persons enrolled
  in the latest month should already reach the target.
- **累计同比** (`to_date_yoy`): to_date against to_date_prev, the same months of Y-1; null when
  to_date_prev is not positive.
- **laggard**: 未达标 or 进度落后; what the workbook highlights and the dashboard colours.
- **completion** (完成率): attainment when the year's indicator exists; otherwise, within the
  year, to_date / target (the share of the year's target reached so far); null when the
  target is not positive or there is nothing to compare.
"""

from __future__ import annotations

import polars as pl

from pipelines.evaluation.targets import LEVEL_TABLES
from pipelines.indicators.catalogue import indicator

#: Indicators summed over the months (a flow): on track when to_date >= target * month / 12.
FLOW_INDICATORS = frozenset({"tax_total"})

STATUS_ZH = {"met": "已达标", "missed": "未达标", "on_track": "进度正常", "behind": "进度落后",
             "no_data": "暂无数据"}
STATUS_EN = {"met": "met", "missed": "missed", "on_track": "on track", "behind": "behind",
             "no_data": "no data yet"}
LEVEL_ZH = {"town": "乡镇", "specialty_town": "专业镇"}


def indicator_label(level: str, name: str) -> tuple[str, str, str]:
    """(Chinese name, unit, kind) of a target's indicator from the catalogue."""
    ind = indicator(LEVEL_TABLES[level][0], name)
    return ind.name_zh, ind.unit, ind.kind


def progress_frame(eval_target: pl.DataFrame, names: dict[tuple[str, str], str] | None = None) -> pl.DataFrame:
    """eval_target with what a person reads beside it.

    Adds: name (from ``names[(level, id)]``, the id when unknown), indicator_zh, unit, kind,
    month (1-12 of latest_period, null without), expected_to_date (flows only), to_date_yoy,
    completion, status (one of `STATUS_ZH`'s keys), status_zh, laggard. Sorted by level, id,
    year, indicator.
    """
    names = names or {}
    labels = {
        (lv, ind): indicator_label(lv, ind)
        for lv, ind in eval_target.select("level", "indicator").unique().iter_rows()
    }
    lab = pl.DataFrame(
        [{"level": lv, "indicator": ind, "indicator_zh": z, "unit": u, "kind": k}
         for (lv, ind), (z, u, k) in labels.items()],
        schema={"level": pl.String, "indicator": pl.String, "indicator_zh": pl.String,
                "unit": pl.String, "kind": pl.String},
    )
    nm = pl.DataFrame(
        [{"level": lv, "id": i, "name": n} for (lv, i), n in names.items()],
        schema={"level": pl.String, "id": pl.String, "name": pl.String},
    )
    month = pl.col("latest_period").str.slice(5, 2).cast(pl.Int32, strict=False)
    flow = pl.col("indicator").is_in(list(FLOW_INDICATORS))
    expected = pl.when(flow & month.is_not_null()).then(pl.col("target") * month / 12.0)
    has_progress = pl.col("to_date").is_not_null() & month.is_not_null()
    status = (
        pl.when(pl.col("actual").is_not_null())
        .then(pl.when(pl.col("met")).then(pl.lit("met")).otherwise(pl.lit("missed")))
        .when(has_progress & flow)
        .then(pl.when(pl.col("to_date") >= pl.col("expected_to_date"))
              .then(pl.lit("on_track")).otherwise(pl.lit("behind")))
        .when(has_progress)
        .then(pl.when(pl.col("to_date") >= pl.col("target"))
              .then(pl.lit("on_track")).otherwise(pl.lit("behind")))
        .otherwise(pl.lit("no_data"))
    )
    return (
        eval_target.join(lab, on=["level", "indicator"], how="left")
        .join(nm, on=["level", "id"], how="left")
        .with_columns(
            pl.coalesce("name", "id").alias("name"),
            month.alias("month"),
            expected.alias("expected_to_date"),
            pl.when(pl.col("to_date_prev") > 0)
            .then(pl.col("to_date") / pl.col("to_date_prev") - 1.0).alias("to_date_yoy"),
            pl.when(pl.col("actual").is_not_null()).then(pl.col("attainment"))
            .when(has_progress & (pl.col("target") > 0))
            .then(pl.col("to_date") / pl.col("target")).alias("completion"),
        )
        .with_columns(status.alias("status"))
        .with_columns(
            pl.col("status").replace_strict(STATUS_ZH).alias("status_zh"),
            pl.col("status").is_in(["missed", "behind"]).alias("laggard"),
        )
        .sort("level", "id", "year", "indicator")
    )


def target_names(dim_town: pl.DataFrame, dim_specialty_town: pl.DataFrame) -> dict[tuple[str, str], str]:
    """(level, id) -> name, from the two dimension tables."""
    out = {("town", c): n for c, n in dim_town.select("town_code", "town_name").iter_rows()}
    out |= {("specialty_town", i): n for i, n in dim_specialty_town.select("id", "name").iter_rows()}
    return out
