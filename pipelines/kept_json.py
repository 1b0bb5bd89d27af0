"""Small JSON files the pipeline keeps for itself (the ingest cache's entries and index, the GX
results memo): written under a temporary name and renamed into place, so that a reader, or
the next run after a kill, sees the whole old file or the whole new one, never half of one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_kept_json(path: Path, data: Any) -> None:
    """`data` as JSON (UTF-8, non-ASCII kept) at `path`, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
