"""Person IDs become `person_key`: lowercase hex HMAC-SHA256 keyed by TOWNSTAT_PII_KEY.

The key is hashed once per distinct ID (not per row) and the clear ID is dropped before a
frame leaves ingest: no clear ID reaches the warehouse, a cache file, a log or metadata.
"""

from __future__ import annotations

import hashlib
import logging
import threading

import polars as pl

from pipelines import settings
from pipelines.ingest.identifiers import PERSON_ID_SHAPE

DEMO_PII_KEY = "townstat-demo-key-NOT-FOR-PRODUCTION"
#: contract section 4: production refuses a key shorter than this many UTF-8 bytes
MIN_PRODUCTION_KEY_BYTES = 32
KEY_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'

DEMO_KEY_WARNING = (
    "警告：TOWNSTAT_PII_KEY 未设置（或为演示密钥），身份证号正用内置的公开演示密钥做假名化，任何人都能"
    "据此由身份证号算出 person_key：只可用于演示和测试。正式数据请设置自己的密钥（至少 32 字节，保密保存，"
    f"以后每次刷新都用同一个），例如用 {KEY_COMMAND} 生成 / "
    "warning: TOWNSTAT_PII_KEY is unset (or the demo key): person IDs are pseudonymised with the "
    "built-in, public demo key, so anyone can compute a person_key from a person ID: for demos and "
    "tests only. For real data set your own key (at least 32 bytes, kept secret, the same for every "
    f"later refresh), for instance one made by {KEY_COMMAND}"
)

log = logging.getLogger(__name__)
_warned = threading.Event()


class UnsafePIIKey(RuntimeError):  # noqa: N818
    pass


def pii_key() -> bytes:
    """The HMAC key (UTF-8 bytes of TOWNSTAT_PII_KEY, else the demo key).

    With TOWNSTAT_ENV=production it refuses the demo key, no key, and a key shorter than
    32 bytes. Elsewhere the demo key is allowed, with a warning (Chinese and English) logged
    once per process: `townstat refresh` prints it, Dagster keeps it in the run's captured logs.
    """
    key = settings.pii_key()
    production = settings.production()
    if production and (not key or key == DEMO_PII_KEY):
        raise UnsafePIIKey(
            "生产环境必须设置自己的 TOWNSTAT_PII_KEY（不能使用演示密钥），至少 32 字节，例如用 "
            f"{KEY_COMMAND} 生成 / TOWNSTAT_ENV=production requires your own TOWNSTAT_PII_KEY, not the "
            f"demo key, of at least 32 bytes; make one with {KEY_COMMAND}"
        )
    size = len(key.encode("utf-8"))
    if production and size < MIN_PRODUCTION_KEY_BYTES:
        raise UnsafePIIKey(
            f"生产环境的 TOWNSTAT_PII_KEY 太短：{size} 字节（UTF-8），至少需要 {MIN_PRODUCTION_KEY_BYTES} "
            f"字节。请用 {KEY_COMMAND} 生成一个新密钥并保密保存（换密钥后所有 person_key 都会改变）/ "
            f"TOWNSTAT_PII_KEY is too short for production: {size} bytes (UTF-8), at least "
            f"{MIN_PRODUCTION_KEY_BYTES} are required. Make a new key with {KEY_COMMAND} and keep it "
            "secret (a new key changes every person_key)"
        )
    if not key or key == DEMO_PII_KEY:
        if not _warned.is_set():
            _warned.set()
            log.warning(DEMO_KEY_WARNING)
        return DEMO_PII_KEY.encode("utf-8")
    return key.encode("utf-8")


def key_fingerprint(key: bytes) -> str:
    """Identifies the key in cache names without revealing it."""
    return hashlib.sha256(b"townstat-pii-key-fingerprint\0" + key).hexdigest()[:16]


class PersonKeyer:
    """HMAC of normalised IDs, each distinct ID hashed once per run (not once per row).

    The ID -> key map lives in memory only, for the files of one run; it is never written.
    """

    def __init__(self, key: bytes):
        self.key = key
        self._known = pl.DataFrame(schema={"__id": pl.String, "__key": pl.String})
        self._known_codes = pl.DataFrame(schema={"__code": pl.UInt64, "__key": pl.String})
        # HMAC-SHA256 (RFC 2104) with the two padded key blocks hashed once: per ID only the
        # message block and the outer block remain, three times faster than hmac.digest,
        # which sets the key up again for every ID. Same bytes out (tests/test_pii_key.py).
        block = hashlib.sha256().block_size
        padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def _digests(self, ids: list[str]) -> list[str]:
        inner, outer = self._inner.copy, self._outer.copy
        out: list[str] = []
        append = out.append
        for v in ids:
            h = inner()
            h.update(v.encode("ascii"))
            o = outer()
            o.update(h.digest())
            append(o.hexdigest())
        return out

    def __call__(self, ids: pl.Series) -> pl.Series:
        if ids.str.contains(PERSON_ID_SHAPE).fill_null(True).all():
            return self._keys_by_code(ids)
        distinct = ids.drop_nulls().unique()
        new = distinct.filter(~distinct.is_in(self._known["__id"].implode()))
        if len(new):
            digests = self._digests(new.to_list())
            self._known = pl.concat([self._known, pl.DataFrame(
                {"__id": new, "__key": pl.Series(digests, dtype=pl.String)})]).rechunk()
        return (
            ids.to_frame("__id").join(self._known, on="__id", how="left", maintain_order="left")["__key"]
            .alias("person_key")
        )

    def _keys_by_code(self, ids: pl.Series) -> pl.Series:
        """The same keys for IDs of the normalised shape (17 digits, then a digit or X), looked
        up by a 64-bit number that stands for the ID (17 digits · 11 + check value, one to one)
        instead of by the 18-character text: finding the new IDs and joining the keys back to
        35 million rows is then hashing integers, not strings."""
        frame = ids.to_frame("__id").with_columns(_id_code(pl.col("__id")))
        new = frame.filter(pl.col("__code").is_not_null()
                           & ~pl.col("__code").is_in(self._known_codes["__code"].implode()))
        new = new.unique("__code", keep="first", maintain_order=True)
        if new.height:
            digests = self._digests(new["__id"].to_list())
            self._known_codes = pl.concat([self._known_codes, pl.DataFrame(
                {"__code": new["__code"], "__key": pl.Series(digests, dtype=pl.String)})]).rechunk()
        return (
            frame.select("__code").join(self._known_codes, on="__code", how="left", maintain_order="left")
            ["__key"].alias("person_key")
        )


def _id_code(col: pl.Expr) -> pl.Expr:
    """A normalised person ID as a UInt64: its 17 digits · 11 + its check value (X = 10)."""
    check = col.str.slice(17, 1)
    value = pl.when(check == "X").then(pl.lit(10, dtype=pl.UInt64)).otherwise(check.cast(pl.UInt64))
    return (col.str.slice(0, 17).cast(pl.UInt64) * 11 + value).alias("__code")
