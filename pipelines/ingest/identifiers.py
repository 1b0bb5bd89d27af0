"""Identifier normalisation and check characters as Polars expressions (contract section 1).

USCC: GB 32100-2015, 18 characters from `0-9 A-H J-N P-R T U W-Y`, check character
(31 − Σ wᵢ·cᵢ mod 31) mod 31 with wᵢ = 3^(i−1) mod 31.
Person ID: GB 11643, ISO 7064 MOD 11-2, wᵢ = 2^(18−i) mod 11 over the first 17 digits,
check = (12 − Σ mod 11) mod 11 where 10 is written `X`.
Everything is vectorised: one expression per character position, no Python per row.
"""

from __future__ import annotations

import polars as pl

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_VALUES = {c: i for i, c in enumerate(USCC_CHARSET)}
USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
PERSON_WEIGHTS = [pow(2, 18 - i, 11) for i in range(1, 18)]  # 7, 9, 10, 5, 8, 4, 2, ...

_FULLWIDTH_DIGITS = [chr(0xFF10 + d) for d in range(10)]
_ASCII_DIGITS = [str(d) for d in range(10)]

# Whitespace of every kind, full-width space included.
_SPACES = r"[\s\u3000]+"


def normalise_uscc(col: pl.Expr) -> pl.Expr:
    """Spaces stripped, upper-cased."""
    return col.str.replace_all(_SPACES, "").str.to_uppercase()


def uscc_is_valid(col: pl.Expr) -> pl.Expr:
    """True when the normalised code has 18 valid characters and the right check character."""
    shape_ok = col.str.contains(f"^[{USCC_CHARSET}]{{18}}$")
    total = pl.sum_horizontal(
        col.str.slice(i, 1).replace_strict(USCC_VALUES, default=0, return_dtype=pl.Int64) * w
        for i, w in enumerate(USCC_WEIGHTS)
    )
    expected = (31 - total % 31) % 31
    check = col.str.slice(17, 1).replace_strict(USCC_VALUES, default=-1, return_dtype=pl.Int64)
    return (shape_ok & (check == expected)).fill_null(False)


def normalise_person_id(col: pl.Expr) -> pl.Expr:
    """Spaces stripped, full-width digits and `Ｘ` made ASCII, `x` upper-cased."""
    return (
        col.str.replace_all(_SPACES, "")
        .str.replace_many([*_FULLWIDTH_DIGITS, "Ｘ", "ｘ", "x"], [*_ASCII_DIGITS, "X", "X", "X"])
    )


def person_id_is_valid(col: pl.Expr) -> pl.Expr:
    """18 characters, 17 digits then a digit or X, with the MOD 11-2 check digit."""
    shape_ok = col.str.contains(r"^[0-9]{17}[0-9X]$")
    total = pl.sum_horizontal(
        col.str.slice(i, 1).cast(pl.Int64, strict=False).fill_null(0) * w
        for i, w in enumerate(PERSON_WEIGHTS)
    )
    expected = (12 - total % 11) % 11
    last = col.str.slice(17, 1)
    check = pl.when(last == "X").then(10).otherwise(last.cast(pl.Int64, strict=False))
    return (shape_ok & (check == expected)).fill_null(False)


def uscc_check_character(first17: str) -> str:
    """The check character for 17 characters (used by tests and the demo data)."""
    total = sum(USCC_VALUES[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def person_id_check_digit(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, PERSON_WEIGHTS, strict=True))
    v = (12 - total % 11) % 11
    return "X" if v == 10 else str(v)
