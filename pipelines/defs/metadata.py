"""Metadata a person reads in the Dagster UI: small Markdown previews of frames."""


import polars as pl
from dagster import MetadataValue


def frame_preview(frame: pl.DataFrame, n: int = 10) -> MetadataValue:
    if frame.height == 0:
        return MetadataValue.md("(empty)")
    head = frame.head(n)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * head.width]
    for row in head.iter_rows():
        cells = [f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v)) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return MetadataValue.md("\n".join(lines))
