"""List the raw area: which files belong to which source, their bytes, mtime and hash.

The raw area belongs to the bureau: this module only reads it.
"""

from __future__ import annotations

import hashlib
import json
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


def scan_raw_area(root: Path, cache_dir: str | None = None) -> list[RawFile]:
    """Every file of the raw area that is not ignored, in (source, mtime, path) order.

    With `cache_dir`, a file whose (size, mtime, ctime) did not change since it was last
    hashed keeps its sha256 (`HashCache`): a nightly run reads only new or changed bytes.
    """
    cache = HashCache(root, cache_dir) if cache_dir else None
    files: list[RawFile] = []
    for e in list_raw_area(root):
        sha = cache.get(e) if cache else None
        if sha is None:
            sha = file_sha256(e.path)
            if cache:
                cache.put(e, sha)
        files.append(RawFile(e.path, e.relpath, e.source, e.size, e.mtime_ns // 1_000_000_000, sha))
    if cache:
        cache.prune({f.relpath for f in files})
        cache.save()
    return sorted(files, key=lambda f: (f.source or "", f.mtime, f.relpath))


def state_digest(files: list[RawFile]) -> str:
    """One hash of the area's state: what a sensor run key and a cursor are built from."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.relpath):
        h.update(f"{f.relpath}\t{f.sha256}\t{f.mtime}\n".encode())
    return h.hexdigest()


HASH_CACHE_FILE = "raw_hashes.json"


# -- listing with stat only, and remembered hashes ------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    path: Path
    relpath: str
    source: str | None
    size: int
    mtime_ns: int
    ctime_ns: int

    @property
    def key(self) -> list:
        return [self.size, self.mtime_ns, self.ctime_ns]

    @property
    def changed(self) -> float:
        """When the file last changed, bytes or metadata (seconds since the epoch)."""
        return max(self.mtime_ns, self.ctime_ns) / 1e9


def list_raw_area(root: Path) -> list[Entry]:
    """The same files as `scan_raw_area`, with `stat` only (no reading)."""
    out: list[Entry] = []
    for path, rel, source in walk_raw_area(root):
        try:
            st = path.stat()
        except FileNotFoundError:  # removed while listing: the next tick sees the change
            continue
        out.append(Entry(path, rel, source, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return out


class HashCache:
    """sha256 per (relpath, size, mtime_ns, ctime_ns), in memory and in a small JSON file."""

    _memory: dict[str, dict[str, list]] = {}

    def __init__(self, root: Path, cache_dir: str | None) -> None:
        self.root_key = str(Path(root).resolve())
        self.file = Path(cache_dir) / HASH_CACHE_FILE if cache_dir else None
        self.entries = self._memory.setdefault(self.root_key, {})
        if not self.entries and self.file is not None and self.file.is_file():
            try:
                data = json.loads(self.file.read_text(encoding="utf-8"))
                self.entries.update(data.get(self.root_key, {}))
            except (OSError, ValueError):
                pass  # a damaged cache only costs a re-hash

    def get(self, e: Entry) -> str | None:
        hit = self.entries.get(e.relpath)
        return hit[3] if hit and hit[:3] == e.key else None

    def put(self, e: Entry, sha: str) -> None:
        self.entries[e.relpath] = [*e.key, sha]

    def prune(self, keep: set[str]) -> None:
        for rel in [r for r in self.entries if r not in keep]:
            del self.entries[rel]

    def save(self) -> None:
        if self.file is None:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            data = {}
            if self.file.is_file():
                try:
                    data = json.loads(self.file.read_text(encoding="utf-8"))
                except ValueError:
                    data = {}
            data[self.root_key] = self.entries
            tmp = self.file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.file)
        except OSError:
            pass  # read-only cache folder: the in-memory cache still works
