"""Cross-source quality flags (contract section 8)."""

from pipelines.quality.flags import FLAG_COLUMNS, cross_source_flags

__all__ = ["FLAG_COLUMNS", "cross_source_flags"]
