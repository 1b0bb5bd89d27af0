"""List the raw area: which files belong to which source, their bytes, mtime and hash.

The raw area belongs to the bureau: this module only reads it. Only regular files are ever
opened (contract section 2): every entry is looked at with `lstat`, never followed, so a
symbolic link (a loop, a shortcut to a file outside the area, to a folder or to nothing), a
named pipe, a socket or a device is listed with the reason it is refused, and so is a name
holding a control character or a file that cannot be read. Nothing that happens to one entry
stops the listing of the others.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipelines.kept_json import write_kept_json

log = logging.getLogger(__name__)

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
    sha256: str  # "" for an entry that is refused before it is read (`problem`)
    # why the entry is refused before reading (bilingual); None for a regular, readable file
    problem: str | None = None

    @property
    def file_id(self) -> str:
        """Stable for the same path and bytes."""
        return hashlib.sha256(f"{self.relpath}\n{self.sha256}".encode()).hexdigest()[:16]


def is_ignored(name: str) -> bool:
    return name.startswith(IGNORED_PREFIXES) or name.lower().endswith(IGNORED_SUFFIXES)


def file_sha256(path: Path) -> str:
    """sha256 of a regular file, streamed; never opens anything that is not a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(f"not a regular file: {path.name}")
        return hashlib.file_digest(fh, "sha256").hexdigest()


# A name holding a C0 control character or DEL, or bytes that are not UTF-8.
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]|[\udc80-\udcff]")

_KIND_PROBLEMS = {
    "link": ("符号链接（快捷方式），不会被跟随读取；请把文件本身放入原始区",
             "a symbolic link (shortcut): never followed; put the file itself into the raw area"),
    "fifo": ("命名管道，不是文件，不会被读取", "a named pipe, not a file: never opened"),
    "socket": ("套接字，不是文件，不会被读取", "a socket, not a file: never opened"),
    "device": ("设备文件，不是普通文件，不会被读取", "a device, not a regular file: never opened"),
    "other": ("不是普通文件，不会被读取", "not a regular file: never opened"),
    "name": ("文件名含控制字符或无效编码，不会被读取；请重命名",
             "the name holds a control character or bytes that are not UTF-8: rename it"),
}


def _problem(kind: str) -> str:
    zh, en = _KIND_PROBLEMS[kind]
    return f"{zh} / {en}"


def unreadable_problem(exc: OSError) -> str:
    """The message for an entry that could not be read: the error class and reason, no path."""
    reason = exc.strerror or exc.__class__.__name__
    return f"无法读取（{exc.__class__.__name__}：{reason}） / cannot be read ({exc.__class__.__name__}: {reason})"


def _kind(mode: int) -> str | None:
    """None for a regular file; else what the entry is."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "other"


def display_relpath(rel: str) -> str:
    """A relative path as it may be stored and shown: control characters and undecodable bytes
    replaced by U+FFFD (the database's text types refuse NUL; a terminal must not be steered)."""
    return _BAD_NAME.sub("\ufffd", rel)


def walk_raw_area(root: Path) -> Iterator[tuple[Path, str, str | None, os.stat_result | None, str | None]]:
    """(path, relative path, source, lstat, problem) of every entry not ignored, in name order.

    The source is the top folder (enterprise/, tax/, ...); None for a file at the top of the
    raw area or in an unknown folder. Folders are descended only when they are real folders;
    `problem` is None for a regular file and says why any other entry is refused.
    """
    root = Path(root)
    if not root.is_dir():
        return
    pending: list[tuple[Path, str]] = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if prefix:  # the root itself unreadable: nothing to list
                rel = prefix.rstrip("/")
                yield folder, rel, _source_of(rel), None, unreadable_problem(exc)
            continue
        subfolders: list[tuple[Path, str]] = []
        for e in entries:
            if is_ignored(e.name):
                continue
            rel = prefix + e.name
            path = Path(e.path)
            try:
                st = e.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed while listing: the next tick sees the change
                continue
            except OSError as exc:
                yield path, rel, _source_of(rel), None, unreadable_problem(exc)
                continue
            if _BAD_NAME.search(e.name):
                yield path, rel, _source_of(rel), st, _problem("name")
            elif stat.S_ISDIR(st.st_mode):
                subfolders.append((path, rel + "/"))
            else:
                kind = _kind(st.st_mode)
                yield path, rel, _source_of(rel), st, None if kind is None else _problem(kind)
        pending.extend(reversed(subfolders))


def _source_of(rel: str) -> str | None:
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 and parts[0] in SOURCE_FOLDERS else None


def scan_raw_area(root: Path, cache_dir: str | None = None) -> list[RawFile]:
    """Every entry of the raw area that is not ignored, in (source, mtime, path) order.

    Entries refused before reading (links, pipes, unreadable files...) come with `problem` set
    and an empty sha256. With `cache_dir`, a file whose (size, mtime, ctime) did not change
    since it was last hashed keeps its sha256 (`HashCache`): a nightly run reads only new or
    changed bytes.
    """
    cache = HashCache(root, cache_dir) if cache_dir else None
    entries = list_raw_area(root)
    known = {e.relpath: cache.get(e) if cache and e.problem is None else None for e in entries}
    todo = [e for e in entries if e.problem is None and known[e.relpath] is None]
    # hashlib releases the GIL while it digests: a cold scan of a province's 3.5 GB on every core
    with ThreadPoolExecutor(max(1, min(len(todo), os.cpu_count() or 1))) as pool:
        hashed = dict(zip((e.relpath for e in todo), pool.map(_try_sha256, (e.path for e in todo)), strict=True))
    files: list[RawFile] = []
    for e in entries:
        if e.problem is not None:
            files.append(e.refused())
            continue
        sha = known[e.relpath]
        if sha is None:
            sha = hashed[e.relpath]
            if isinstance(sha, FileNotFoundError):  # removed since the listing: it is simply gone
                continue
            if isinstance(sha, OSError):
                files.append(e.refused(unreadable_problem(sha)))
                continue
            if cache:
                cache.put(e, sha)
        files.append(RawFile(e.path, e.relpath, e.source, e.size, e.mtime_ns // 1_000_000_000, sha))
    if cache:
        cache.prune({f.relpath for f in files})
        cache.save()
    return sorted(files, key=lambda f: (f.source or "", f.mtime, f.relpath))


def _try_sha256(path: Path) -> str | OSError:
    """`file_sha256`, or the OSError it raised (for a refusal naming the file)."""
    try:
        return file_sha256(path)
    except OSError as exc:
        return exc


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
    problem: str | None = None  # why it is refused before reading; None: a regular file

    def refused(self, problem: str | None = None) -> RawFile:
        """The entry as a listed file that is never read."""
        return RawFile(self.path, self.relpath, self.source, self.size, self.mtime_ns // 1_000_000_000,
                       "", problem or self.problem)

    @property
    def key(self) -> list:
        return [self.size, self.mtime_ns, self.ctime_ns]

    @property
    def changed(self) -> float:
        """When the file last changed, bytes or metadata (seconds since the epoch)."""
        return max(self.mtime_ns, self.ctime_ns) / 1e9


def list_raw_area(root: Path) -> list[Entry]:
    """The same entries as `scan_raw_area`, with `lstat` only (no reading)."""
    out: list[Entry] = []
    for path, rel, source, st, problem in walk_raw_area(root):
        if problem is not None:
            rel = display_relpath(rel)
        if st is None:
            out.append(Entry(path, rel, source, 0, 0, 0, problem))
        else:
            out.append(Entry(path, rel, source, st.st_size, st.st_mtime_ns, st.st_ctime_ns, problem))
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
                mine = data.get(self.root_key, {}) if isinstance(data, dict) else {}
                self.entries.update(mine if isinstance(mine, dict) else {})
            except (OSError, ValueError):
                log.warning("缓存文件 %s 无法读取，将重新计算哈希 / hash cache unreadable, files are "
                            "hashed again", self.file.name)

    def get(self, e: Entry) -> str | None:
        hit = self.entries.get(e.relpath)
        ok = isinstance(hit, list) and len(hit) == 4 and hit[:3] == e.key and isinstance(hit[3], str)
        return hit[3] if ok else None

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
                if not isinstance(data, dict):
                    data = {}
            data[self.root_key] = self.entries
            write_kept_json(self.file, data)
        except OSError:
            pass  # read-only cache folder: the in-memory cache still works
