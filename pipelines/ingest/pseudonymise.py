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


def person_keys(ids: pl.Series, key: bytes) -> pl.Series:
    """HMAC of each normalised ID, computed once per distinct value."""
    return PersonKeyer(key)(ids)
