"""Disclosure control: pub_town_year, safe to publish (contract section 7)."""


import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Output,
    asset,
)

from pipelines.defs.io import FrameBundle
from pipelines.defs.keys import ins
from pipelines.defs.metadata import frame_preview
from pipelines.disclosure.leaks import leaking_cells, suppressed_cells
from pipelines.disclosure.suppression import publish_town_year

PUB_KEY = AssetKey(["pub", "town_year"])


@asset(key=PUB_KEY, group_name="disclosure", kinds={"polars"},
       ins=ins("enterprise", "tax", "registry", "refs", ind="ind_town"),
       check_specs=[AssetCheckSpec("no_suppressed_value_published", asset=PUB_KEY, blocking=True,
                                   description="every column listed in `suppressed` is NULL, and so "
                                               "are the yoy and ratio columns computed from it")],
       description="可公开的乡镇指标（已做披露控制）/ town indicators after disclosure control")
def pub_town_year(context: AssetExecutionContext, ind: pl.DataFrame, enterprise: FrameBundle, tax: FrameBundle,
                  registry: FrameBundle, refs: FrameBundle):
    pub = publish_town_year(ind, enterprise["fact"], tax.scan("taxpayer_year"), registry["fact"], refs["dim_town"])
    cells = suppressed_cells(pub)
    yield Output(pub, metadata={"dagster/row_count": pub.height, "suppressed_cells": sum(cells.values()),
                                "suppressed_by_column": cells, "preview": frame_preview(pub)})
    leaks = leaking_cells(pub)
    yield AssetCheckResult(check_name="no_suppressed_value_published", asset_key=PUB_KEY,
                           passed=leaks == 0, severity=AssetCheckSeverity.ERROR,
                           metadata={"leaking_cells": leaks})
