"""Vectorised identifier helpers: USCC (GB 32100-2015) and person ID (GB 11643-1999).

All functions work on numpy arrays; no Python loop runs over rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
PID_WEIGHTS = np.array([pow(2, 18 - i, 11) for i in range(1, 18)], dtype=np.int64)  # 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2
PID_CHECK = "10X98765432"  # (12 - s mod 11) mod 11, 10 = X, indexed by s mod 11

_USCC_LUT = np.full(256, -1, dtype=np.int64)
for _i, _c in enumerate(USCC_CHARSET):
    _USCC_LUT[ord(_c)] = _i
_USCC_BYTES = np.frombuffer(USCC_CHARSET.encode(), dtype=np.uint8)


def _as_byte_matrix(values: Sequence[str] | np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, width) uint8 matrix of the ASCII strings of length `width`, plus a mask of which fit."""
    arr = np.asarray(values, dtype=object)
    n = arr.shape[0]
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8), np.zeros(0, dtype=bool)
    u = np.asarray(arr, dtype=str)
    lengths = np.char.str_len(u)
    encoded = np.char.encode(u, "utf-8")
    blens = np.char.str_len(encoded)
    ok = (lengths == width) & (blens == width)
    fixed = np.where(ok, encoded, b"0" * width).astype(f"S{width}")
    mat = fixed.view(np.uint8).reshape(n, width)
    return mat, ok


def uscc_check_chars(body_idx: np.ndarray) -> np.ndarray:
    """Check-character indices for an (n, 17) array of charset indices."""
    s = (np.asarray(body_idx, dtype=np.int64) * USCC_WEIGHTS).sum(axis=1)
    return (31 - s % 31) % 31


def uscc_from_indices(body_idx: np.ndarray) -> np.ndarray:
    """Build valid 18-character USCCs (numpy unicode array) from (n, 17) charset indices."""
    body_idx = np.asarray(body_idx, dtype=np.int64)
    full = np.concatenate([body_idx, uscc_check_chars(body_idx)[:, None]], axis=1)
    raw = _USCC_BYTES[full].astype(np.uint8)
    return np.ascontiguousarray(raw).view("S18").ravel().astype("U18")


def uscc_is_valid(values: Sequence[str] | np.ndarray) -> np.ndarray:
    """True where the (already normalised) value is an 18-character USCC with the right check."""
    mat, ok = _as_byte_matrix(values, 18)
    idx = _USCC_LUT[mat]
    ok &= (idx >= 0).all(axis=1)
    idx = np.where(idx < 0, 0, idx)
    return ok & (uscc_check_chars(idx[:, :17]) == idx[:, 17])


def make_usccs(
    n: int,
    rng: np.random.Generator,
    region: np.ndarray,
    category: np.ndarray,
    authority: str = "9",
) -> np.ndarray:
    """n distinct valid USCCs: authority, category digit, 6-digit region, 9-char org code, check.

    Uniqueness: the first 8 org-code characters encode (k * a + b) mod 31**8, a bijection of k.
    """
    region = np.asarray(region).astype("U6")
    cat = np.asarray(category).astype(np.int64)
    body = np.zeros((n, 17), dtype=np.int64)
    body[:, 0] = USCC_CHARSET.index(authority)
    body[:, 1] = cat
    reg = np.ascontiguousarray(np.char.encode(region, "ascii").astype("S6")).view(np.uint8)
    body[:, 2:8] = reg.reshape(n, 6).astype(np.int64) - ord("0")
    mod = 31**8
    a = int(rng.integers(1, 31**4)) * 31 + 7  # not a multiple of 31: a bijection mod 31**8
    b = int(rng.integers(0, mod))
    k = (np.arange(n, dtype=np.int64) * a + b) % mod
    digits = np.zeros((n, 8), dtype=np.int64)
    kk = k.copy()
    for pos in range(8):
        digits[:, 7 - pos] = kk % 31
        kk //= 31
    body[:, 8:16] = digits
    body[:, 16] = rng.integers(0, 31, size=n)
    return uscc_from_indices(body)


def pid_check_chars(body_digits: np.ndarray) -> np.ndarray:
    """Check characters ('0'..'9', 'X') for an (n, 17) array of digits."""
    s = (np.asarray(body_digits, dtype=np.int64) * PID_WEIGHTS).sum(axis=1)
    return np.array(list(PID_CHECK), dtype="U1")[s % 11]


def person_id_is_valid(values: Sequence[str] | np.ndarray) -> np.ndarray:
    """True where the (already normalised) value is an 18-character ID with the right check."""
    mat, ok = _as_byte_matrix(values, 18)
    digits = mat[:, :17].astype(np.int64) - ord("0")
    ok &= ((digits >= 0) & (digits <= 9)).all(axis=1)
    last = mat[:, 17]
    digits = np.where((digits < 0) | (digits > 9), 0, digits)
    expected = np.frombuffer(np.char.encode(pid_check_chars(digits), "ascii").astype("S1"), dtype=np.uint8)
    return ok & (last == expected)


def make_person_ids(area: np.ndarray, birth_yyyymmdd: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Valid 18-character IDs from 6-digit area codes, yyyymmdd birth dates and 3-digit sequences."""
    area = np.asarray(area).astype("U6")
    body_s = np.char.add(np.char.add(area, np.asarray(birth_yyyymmdd).astype("U8")),
                         np.char.zfill(np.asarray(seq).astype("U3"), 3))
    n = body_s.shape[0]
    mat = np.ascontiguousarray(np.char.encode(body_s, "ascii").astype("S17")).view(np.uint8)
    digits = mat.reshape(n, 17).astype(np.int64) - ord("0")
    return np.char.add(body_s, pid_check_chars(digits))
