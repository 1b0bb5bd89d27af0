"""Disclosure-control parameters, read from ``schemas/disclosure.yaml`` (the one place)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import yaml

DISCLOSURE_YAML = Path(__file__).resolve().parents[2] / "schemas" / "disclosure.yaml"


@dataclass(frozen=True)
class DisclosureParams:
    """Threshold rule (min_contributors) and dominance rule (n, percent)."""

    min_contributors: int = 3
    dominance_contributors: int = 1
    dominance_percent: Fraction = Fraction(85)


def load_disclosure_params(path: str | Path | None = None) -> DisclosureParams:
    """Read and check the suppression parameters; refuse a malformed file with its name."""
    path = Path(path) if path is not None else DISCLOSURE_YAML
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        dominance = data["dominance"]
        params = DisclosureParams(
            min_contributors=int(data["min_contributors"]),
            dominance_contributors=int(dominance.get("contributors", 1)),
            dominance_percent=Fraction(str(dominance["percent"])),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(
            f"{path}: 披露控制参数文件无效 / invalid disclosure-control parameters: {exc}"
        ) from None
    if params.min_contributors < 1 or params.dominance_contributors < 1 or not (
        0 < params.dominance_percent <= 100
    ):
        raise ValueError(
            f"{path}: 参数超出范围 / parameters out of range: {params}"
        )
    return params
