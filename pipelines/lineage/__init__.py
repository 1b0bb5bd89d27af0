"""Lineage for the bureau's staff: the source rows behind a published indicator."""

from pipelines.lineage.explain import (
    Explanation,
    LineageError,
    explain,
    render_explanation,
    supported_indicators,
)

__all__ = ["Explanation", "LineageError", "explain", "render_explanation", "supported_indicators"]
