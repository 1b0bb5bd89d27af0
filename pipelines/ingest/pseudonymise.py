"""Person IDs become `person_key`: lowercase hex HMAC-SHA256 keyed by TOWNSTAT_PII_KEY.

The key is hashed once per distinct ID (not per row) and the clear ID is dropped before a
frame leaves ingest: no clear ID reaches the warehouse, a cache file, a log or metadata.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading

import polars as pl

from pipelines import settings

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

    def __call__(self, ids: pl.Series) -> pl.Series:
        distinct = ids.drop_nulls().unique()
        new = distinct.filter(~distinct.is_in(self._known["__id"].implode()))
        if len(new):
            digests = [hmac.digest(self.key, v.encode("ascii"), "sha256").hex() for v in new]
            self._known = pl.concat([self._known, pl.DataFrame(
                {"__id": new, "__key": pl.Series(digests, dtype=pl.String)})]).rechunk()
        return (
            ids.to_frame("__id").join(self._known, on="__id", how="left", maintain_order="left")["__key"]
            .alias("person_key")
        )
