"""Deterministic, vectorised demo raw-area generator with ground truth (contract only)."""

from pipelines.demo.area import DemoSummary, write_demo_raw_area
from pipelines.demo.spec import ScaleSpec, scale_spec

__all__ = ["DemoSummary", "ScaleSpec", "scale_spec", "write_demo_raw_area"]
