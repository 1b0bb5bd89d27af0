"""Identifier normalisation and check characters as Polars expressions (contract section 1).

USCC: GB 32100-2015, 18 characters from `0-9 A-H J-N P-R T U W-Y`, check character
(31 − Σ wᵢ·cᵢ mod 31) mod 31 with wᵢ = 3^(i−1) mod 31.
Person ID: GB 11643, ISO 7064 MOD 11-2, wᵢ = 2^(18−i) mod 11 over the first 17 digits,
check = (12 − Σ mod 11) mod 11 where 10 is written `X`.
Check digits are computed on a byte matrix with numpy: no Python per row.
"""

from __future__ import annotations

import numpy as np
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


def _ascii_matrix(values: pl.Series, width: int) -> np.ndarray:
    """Strings of exactly `width` ASCII characters (no null) as an (n, width) byte matrix, for
    vectorised check digits: a view of the Arrow data buffer, no Python object per row."""
    if len(values) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    arr = values.to_arrow()  # large_string, one chunk
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]]
    if data.size != len(values) * width:  # callers pass only strings matching a fixed-width ASCII pattern
        raise ValueError("identifiers of unexpected width")
    return data.reshape(-1, width)


def _weighted_sum(m: np.ndarray, weights: list[int]) -> np.ndarray:
    """Σ weights[j] · m[:, j] per row, column by column (small integers: int32 is exact)."""
    columns = np.ascontiguousarray(m[:, : len(weights)].T)
    total = np.zeros(len(m), dtype=np.int64 if m.dtype == np.int64 else np.int32)
    for j, w in enumerate(weights):
        total += columns[j] * total.dtype.type(w)
    return total


_USCC_LUT = np.full(256, -1, dtype=np.int64)
for _c, _v in USCC_VALUES.items():
    _USCC_LUT[ord(_c)] = _v


def _uscc_valid_series(s: pl.Series) -> pl.Series:
    shape = s.str.contains(f"^[{USCC_CHARSET}]{{18}}$").fill_null(False).to_numpy()
    out = np.zeros(len(s), dtype=bool)
    idx = np.flatnonzero(shape)
    if len(idx):
        values = _USCC_LUT[_ascii_matrix(s.gather(idx), 18)]
        total = _weighted_sum(values, USCC_WEIGHTS)
        out[idx] = values[:, 17] == (31 - total % 31) % 31
    return pl.Series(s.name, out)


def uscc_is_valid(col: pl.Expr) -> pl.Expr:
    """True when the normalised code has 18 valid characters and the right check character."""
    return col.map_batches(_uscc_valid_series, return_dtype=pl.Boolean, is_elementwise=True)


#: A normalised person ID: 17 digits, then a digit or X (what the check digit and the
#: pseudonymisation's 64-bit code are computed on).
PERSON_ID_SHAPE = r"^[0-9]{17}[0-9X]$"


def _normalise_person_text(col: pl.Expr) -> pl.Expr:
    return (
        col.str.replace_all(_SPACES, "")
        .str.replace_many([*_FULLWIDTH_DIGITS, "Ｘ", "ｘ", "x"], [*_ASCII_DIGITS, "X", "X", "X"])
    )


def _normalise_person_series(s: pl.Series) -> pl.Series:
    # nearly every cell is already 18 ASCII characters, which normalising leaves as they are:
    # only the others are rewritten
    todo = (~s.str.contains(PERSON_ID_SHAPE)).fill_null(False)
    idx = todo.arg_true()
    if len(idx) == 0:
        return s
    fixed = s.gather(idx).to_frame("v").select(_normalise_person_text(pl.col("v")))["v"]
    return s.clone().scatter(idx, fixed)


def normalise_person_id(col: pl.Expr) -> pl.Expr:
    """Spaces stripped, full-width digits and `Ｘ` made ASCII, `x` upper-cased."""
    return col.map_batches(_normalise_person_series, return_dtype=pl.String, is_elementwise=True)


def _person_valid_series(s: pl.Series) -> pl.Series:
    shape = s.str.contains(PERSON_ID_SHAPE).fill_null(False).to_numpy()
    out = np.zeros(len(s), dtype=bool)
    idx = np.flatnonzero(shape)
    if len(idx):
        m = _ascii_matrix(s.gather(idx), 18)
        total = _weighted_sum(m, PERSON_WEIGHTS) - 48 * sum(PERSON_WEIGHTS)
        check = np.where(m[:, 17] == ord("X"), 10, m[:, 17].astype(np.int32) - 48)
        out[idx] = check == (12 - total % 11) % 11
    return pl.Series(s.name, out)


def person_id_is_valid(col: pl.Expr) -> pl.Expr:
    """18 characters, 17 digits then a digit or X, with the MOD 11-2 check digit."""
    return col.map_batches(_person_valid_series, return_dtype=pl.Boolean, is_elementwise=True)


def reads_as_person_id(col: pl.Expr) -> pl.Expr:
    """A valid person ID that is plausible as one: the check digit holds, the address code
    starts 1-8 (province codes 11-82) and the birth date is a date of 1900-2099. A USCC
    issued by market regulation starts with 9 and never reads so."""
    birth = col.str.slice(6, 8)
    plausible = (col.str.contains(r"^[1-8][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])")
                 .fill_null(False))
    return plausible & birth.str.to_date("%Y%m%d", strict=False).is_not_null() & person_id_is_valid(col)
