"""List the raw area: which files belong to which source, their bytes, mtime and hash.

The raw area belongs to the bureau: this module only reads it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SOURCE_FOLDERS = ("enterprise", "tax", "employment", "registry", "reference")
IGNORED_PREFIXES = (".", "~$")
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload")


@dataclass(frozen=True)
class RawFile:
    path: Path
    relpath: str  # relative to the raw area, '/'-separated
    source: str | None  # None: at the top of raw/ or in an unknown folder
    bytes: int
    mtime: int  # whole seconds
    sha256: str

    @property
    def file_id(self) -> str:
        """Stable for the same path and bytes."""
        return hashlib.sha256(f"{self.relpath}\n{self.sha256}".encode()).hexdigest()[:16]


def is_ignored(name: str) -> bool:
    return name.startswith(IGNORED_PREFIXES) or name.lower().endswith(IGNORED_SUFFIXES)


def file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def walk_raw_area(root: Path) -> Iterator[tuple[Path, str, str | None]]:
    """(path, path relative to the raw area, source) of every file not ignored, in name order.

    The source is the top folder (enterprise/, tax/, ...); None for a file at the top of the
    raw area or in an unknown folder.
    """
    root = Path(root)
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not is_ignored(d))
        for name in sorted(filenames):
            if is_ignored(name):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            parts = rel.split("/")
            yield path, rel, parts[0] if len(parts) > 1 and parts[0] in SOURCE_FOLDERS else None


def scan_raw_area(root: Path) -> list[RawFile]:
    """Every file of the raw area that is not ignored, in (source, mtime, path) order."""
    files: list[RawFile] = []
    for path, rel, source in walk_raw_area(root):
        st = path.stat()
        files.append(RawFile(path, rel, source, st.st_size, int(st.st_mtime), file_sha256(path)))
    return sorted(files, key=lambda f: (f.source or "", f.mtime, f.relpath))


def state_digest(files: list[RawFile]) -> str:
    """One hash of the area's state: what a sensor run key and a cursor are built from."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.relpath):
        h.update(f"{f.relpath}\t{f.sha256}\t{f.mtime}\n".encode())
    return h.hexdigest()
