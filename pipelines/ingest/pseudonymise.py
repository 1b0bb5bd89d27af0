"""Person IDs become `person_key`: lowercase hex HMAC-SHA256 keyed by TOWNSTAT_PII_KEY.

The key is hashed once per distinct ID (not per row) and the clear ID is dropped before a
frame leaves ingest: no clear ID reaches the warehouse, a cache file, a log or metadata.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import polars as pl

DEMO_PII_KEY = "townstat-demo-key-NOT-FOR-PRODUCTION"


class UnsafePIIKey(RuntimeError):  # noqa: N818
    pass


def pii_key() -> bytes:
    """The HMAC key; refuses the demo key (or none) when TOWNSTAT_ENV=production."""
    key = os.environ.get("TOWNSTAT_PII_KEY", "")
    production = os.environ.get("TOWNSTAT_ENV", "").lower() == "production"
    if production and (not key or key == DEMO_PII_KEY):
        raise UnsafePIIKey(
            "生产环境必须设置自己的 TOWNSTAT_PII_KEY（不能使用演示密钥）/ "
            "TOWNSTAT_ENV=production requires your own TOWNSTAT_PII_KEY, not the demo key"
        )
    return (key or DEMO_PII_KEY).encode("utf-8")


def key_fingerprint(key: bytes) -> str:
    """Identifies the key in cache names without revealing it."""
    return hashlib.sha256(b"townstat-pii-key-fingerprint\0" + key).hexdigest()[:16]


def person_keys(ids: pl.Series, key: bytes) -> pl.Series:
    """HMAC of each normalised ID, computed once per distinct value."""
    distinct = ids.drop_nulls().unique()
    digests = [hmac.new(key, v.encode("ascii"), hashlib.sha256).hexdigest() for v in distinct]
    mapping = pl.DataFrame({"__id": distinct, "__key": pl.Series(digests, dtype=pl.String)})
    return (
        ids.to_frame("__id").join(mapping, on="__id", how="left", maintain_order="left")["__key"]
        .alias("person_key")
    )
