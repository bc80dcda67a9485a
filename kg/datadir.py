"""The data dir's layout, which no crash, full disk or second build can make lose data.

    DATA_DIR/
      .spkg-data-dir        marker: {"format": 2, "created_by": "kg"}; a folder without it is not ours to write
      CURRENT               the id of the current generation; replaced by one atomic rename, never edited
      generations/<id>/     immutable builds, each with records/ store/ index/ originals/ (and graphs/: the
                            graphs all plans share as N-Triples, what the next build patches its store by)
      staging/              builds in progress (stale ones, left by a killed build, are removed by the next build)
      .lock                 the writers' lock (flock): builds and removals of one data dir run one at a time
      aliases.toml, practices.toml   the planner's own files

A build stages a whole generation under staging/, renames it into generations/ and then replaces CURRENT: a reader
sees the old generation or the new one, never a mix, and never none. The previous generation is kept until the next
build succeeds. Readers take no lock and open the store read-only, so they run during a build and beside each other.
The data dir itself is never renamed or deleted (it may be a mount point or a symlink).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from kg import recordfiles
from kg.errors import PlanError

MARKER = ".spkg-data-dir"
FORMAT = 2
MARKER_CONTENT = {"format": FORMAT, "created_by": "kg"}
CURRENT = "CURRENT"
GENERATIONS = "generations"
STAGING = "staging"
LOCK = ".lock"
PARTS = ("records", "store", "index", "originals")  # what a generation holds (and the old layout held at the top)
PLANNER_FILES = ("aliases.toml", "practices.toml")
CATALOGUE = "plans.json"  # in a generation: each plan's id, title, file, agency and year (CATALOGUE_FIELDS)
CATALOGUE_FIELDS = ("id", "title", "file", "agency", "year", "year_roc")
DEFAULT_WAIT = 600.0

GENERATION_RE = re.compile(r"^g(\d{6,})-([0-9a-f]{8})$")
_TEMP_RE = re.compile(r"^\.(CURRENT|spkg-data-dir)\.tmp-[0-9a-f]+$")  # our own temporary files at the top
_TRASH_RE = re.compile(r"^(g\d{6,}-[0-9a-f]{8}|legacy-\w+)\.trash-[0-9a-f]+$")
_IGNORED = {LOCK, "lost+found"}  # what a folder may hold and still count as empty


class DataDirError(PlanError):
    """The data dir cannot be used or written here: one line naming the folder or the file."""


def shown(path: Path) -> str:
    """A path as the user gave it, with the absolute path when they differ (e.g. '.')."""
    text = str(path)
    if not path.is_absolute():
        with suppress(OSError):
            text += f" ({Path.cwd() / path})" if text not in ("", ".") else f" ({Path.cwd()})"
    return text


_WHY = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the file system is read-only",
    errno.EBUSY: "the file or folder is busy (in use, or a mount point)",
    errno.ENOTDIR: "a file stands where a folder is needed",
    errno.EISDIR: "a folder stands where a file is needed",
    errno.ELOOP: "too many levels of symbolic links",
    errno.ENAMETOOLONG: "the path is too long",
    errno.EMFILE: "too many open files",
    errno.EIO: "input/output error (check the disk)",
    errno.EXDEV: "the path crosses file systems",
}


def os_error(exc: OSError, root: Path, what: str = "the build") -> DataDirError:
    """An OSError as one line naming the file or folder, saying the data dir keeps what it held."""
    text = str(exc)
    code = exc.errno
    if code is None:  # RocksDB reports I/O errors as text, e.g. 'IO error: No space left on device: While …'
        for c, words in ((errno.ENOSPC, "No space left"), (errno.EROFS, "Read-only file system")):
            if words in text:
                code = c
        for c, words in ((errno.EACCES, "Permission denied"), (errno.EDQUOT, "quota exceeded")):
            if words in text:
                code = c
    why = _WHY.get(code) if code is not None else None
    if why is None:
        why = (exc.strerror or text or type(exc).__name__).splitlines()[0].strip()
    where = exc.filename
    if where is None:
        found = re.search(r"(/[^:\n]+)", text)
        where = found.group(1).strip() if found else root
    try:
        before = DataDir(root).current() is not None
    except (OSError, PlanError):
        before = False
    keeps = f"{root} keeps its previous build" if before else f"nothing was built in {root}"
    return DataDirError(str(where), f"{why}; {what} was not published, {keeps}")


# ---------------------------------------------------------------- reading


class DataDir:
    """One data directory. records_dir, store_dir, index_dir and originals_dir are those of the current generation.

    Each look-up reads CURRENT again; `pin()` gives a DataDir fixed to the generation current now, for a reader that
    reads several parts and must see them of one build.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._pinned = False
        self._base: Path | None = None  # when pinned: the generation's folder (None: nothing was built)

    # ----- the layout

    @property
    def marker(self) -> Path:
        return self.path / MARKER

    def is_data_dir(self) -> bool:
        """A folder made by kg: it has the marker, or is of the previous layout (upgraded by the next build)."""
        return self.marker.is_file() or self.is_legacy()

    def is_legacy(self) -> bool:
        """The previous layout: records/ and store/ directly in the data dir, no CURRENT."""
        return (
            (self.path / "records").is_dir()
            and (self.path / "store").is_dir()
            and not (self.path / CURRENT).exists()
            and not (self.path / "records").is_symlink()
        )

    def generation(self) -> str | None:
        """The id of the current generation (the content of CURRENT); None when nothing is built yet."""
        if self._pinned:
            return self._base.name if self._base is not None and self._base.parent.name == GENERATIONS else None
        pointer = self.path / CURRENT
        try:
            text = pointer.read_text("ascii").strip()
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise DataDirError(str(pointer), f"cannot read the pointer to the current build: {exc}") from None
        if not GENERATION_RE.match(text):
            raise DataDirError(str(pointer), f"does not name a generation ({text[:40]!r}): it was not written by kg")
        if not (self.path / GENERATIONS / text).is_dir():
            raise DataDirError(str(pointer), f"names the generation {text}, which is missing from {GENERATIONS}/")
        return text

    def current(self) -> Path | None:
        """The folder of the current generation (the data dir itself for the previous layout); None before a build."""
        if self._pinned:
            return self._base
        gen = self.generation()
        if gen is not None:
            return self.path / GENERATIONS / gen
        if self.is_legacy():
            return self.path
        return None

    def pin(self) -> DataDir:
        """This data dir fixed to the generation current now."""
        d = DataDir(self.path)
        d._base = self.current()
        d._pinned = True
        return d

    def _part(self, name: str) -> Path:
        return (self.current() or self.path) / name

    @property
    def records_dir(self) -> Path:
        return self._part("records")

    @property
    def store_dir(self) -> Path:
        return self._part("store")

    @property
    def index_dir(self) -> Path:
        return self._part("index")

    @property
    def originals_dir(self) -> Path:
        return self._part("originals")

    def exists(self) -> bool:
        d = self.pin()
        return d.store_dir.is_dir() and d.records_dir.is_dir()

    # ----- what readers read (read-only: nothing here writes into the data dir)

    def records(self) -> list[dict]:
        for attempt in range(3):
            d = self if self._pinned else self.pin()
            if not d.records_dir.is_dir():
                return []
            try:
                return recordfiles.read_all(d.records_dir)
            except FileNotFoundError:  # the generation was pruned while read (two builds meanwhile): read the new one
                if self._pinned or attempt == 2:
                    raise
        return []

    def measures(self) -> list[dict]:
        return [m for r in self.records() for m in r["measures"]]

    def catalogue(self) -> list[dict]:
        """Every plan's CATALOGUE_FIELDS (enough to find plans by id, title, file, agency or year): one small file
        a build writes, so that finding plans to remove reads no record; a generation without one has its records
        read."""
        d = self.pin()
        base = d.current()
        if base is not None and (base / CATALOGUE).is_file():
            return json.loads((base / CATALOGUE).read_text("utf-8"))
        return d.records()

    def dataset(self):
        """The graph, opened read-only: any number of readers, during a build too; the store is never written."""
        import pyoxigraph as ox
        from oxrdflib.store import OxigraphStore
        from rdflib import Dataset

        from kg.store import PREFIXES

        d = self.pin()
        if not d.exists():
            raise PlanError(str(self.path), "no knowledge graph here yet: run 'kg build' first")
        hold = hold_generation(d.current())
        try:
            store = ox.Store.read_only(str(d.store_dir))
        except OSError as exc:
            if hold is not None:
                os.close(hold)
            raise DataDirError(str(d.store_dir), f"cannot open the graph store: {str(exc).splitlines()[0]}") from None
        ds = Dataset(store=OxigraphStore(store=store), default_union=True)
        for prefix, ns in PREFIXES.items():
            ds.bind(prefix, ns)
        if hold is not None:  # the generation is not pruned while this dataset is open
            weakref.finalize(ds, os.close, hold)
        return ds


def hold_generation(folder: Path | None) -> int | None:
    """A shared lock on a generation's folder (opened read-only: nothing is written); pruning skips held ones.

    Returns the descriptor to close when done, or None for a folder that is no generation (the previous layout).
    """
    if folder is None or folder.parent.name != GENERATIONS:
        return None
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        pass  # a held exclusive lock is a pruner that already decided: reading still works until it deletes
    return fd


def _in_use(folder: Path) -> bool:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


# ---------------------------------------------------------------- checks before writing


def _marker_problem(marker: Path) -> str | None:
    try:
        data = json.loads(marker.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return f"its marker {MARKER} cannot be read ({exc})"
    if not isinstance(data, dict) or data.get("created_by") != "kg" or not isinstance(data.get("format"), int):
        return f"its marker {MARKER} was not written by kg"
    if data["format"] > FORMAT:
        return f"it was made by a newer version of kg (data dir format {data['format']}): upgrade kg"
    return None


def _foreign_entries(path: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(path) if e.name not in _IGNORED and not _TEMP_RE.match(e.name))


def check_target(path: str | Path, inputs: Iterable[str | Path] = ()) -> None:
    """Refuse, with one line naming it, a folder a build must not write into; change nothing."""
    path = Path(path)
    name = shown(path)
    try:
        real = path.resolve()
        for given in inputs:
            given = Path(given)
            if not given.is_dir():
                continue
            folder = given.resolve()
            if real == folder or folder in real.parents:
                where = "is" if real == folder else "is inside"
                raise DataDirError(
                    name,
                    f"the data dir {where} the folder of plans given to this build ({given}): "
                    "give --data-dir a folder outside it",
                )
        if path.is_symlink() and not path.exists():
            raise DataDirError(name, "is a broken symbolic link: give --data-dir a folder")
        if not path.exists():
            for old in sorted(path.parent.glob(f".{path.name}.old-*")) if path.parent.is_dir() else []:
                if (old / "records").is_dir():
                    raise DataDirError(
                        name,
                        f"is missing, but {old} holds an earlier build left by an interrupted 'kg build': "
                        f"rename it back to {path.name} (or delete it) and build again",
                    )
            return
        if not path.is_dir():
            raise DataDirError(name, "is a file, not a folder: give --data-dir a new, empty or kg data folder")
        d = DataDir(path)
        # One listing decides: a build in another process may write the marker at any moment, and it writes the
        # marker before anything else of the layout, so a listing without it holds nothing of kg's (but the lock).
        foreign = _foreign_entries(path)
        if MARKER in foreign:
            problem = _marker_problem(d.marker)
            if problem:
                raise DataDirError(name, f"not written to: {problem}")
            return
        if d.is_legacy():
            return  # the previous layout: upgraded by this build, nothing of it lost
        if foreign:
            listed = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise DataDirError(
                name,
                f"this folder already holds other files ({listed}) and is not a kg data dir: nothing was changed; "
                "give --data-dir a new or empty folder",
            )
    except OSError as exc:
        raise DataDirError(str(exc.filename or path), f"cannot use this data dir: {_WHY.get(exc.errno, exc)}") from None
    except RuntimeError as exc:  # a loop of symbolic links
        raise DataDirError(name, f"cannot use this data dir: {exc}") from None


# ---------------------------------------------------------------- writing


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # some file systems cannot sync a folder
            raise
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Every file and folder under root on disk, before it is published.

    A file with other hard links is one a published generation holds (kept records, originals, the store's shared
    tables): it was synced when that generation was published, so only its new name (the folder) is synced here."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if os.lstat(path).st_nlink > 1:
                continue
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


def write_atomic(path: Path, text: str) -> None:
    """Replace a small file in one rename: write a temporary file, fsync it, os.replace, fsync the folder."""
    tmp = path.with_name(f".{path.name.lstrip('.')}.tmp-{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            data = text.encode("utf-8")
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


@contextmanager
def _flock(root: Path, wait: float, on_wait: Callable[[str], None] | None) -> Iterator[None]:
    fd = os.open(root / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if wait <= 0:
                raise DataDirError(
                    str(root), "another build or removal of this data dir is running: try again when it ends"
                ) from None
            if on_wait is not None:
                on_wait(f"waiting for another build of {root}… (up to {wait:g} s; see --wait)")
            deadline = time.monotonic() + wait
            while True:
                time.sleep(0.05)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise DataDirError(
                            str(root),
                            f"another build or removal of this data dir still runs after {wait:g} s: "
                            "nothing was changed; try again later or give --wait more seconds",
                        ) from None
        yield
    finally:
        os.close(fd)  # releases the lock


class Writer:
    """A build or removal holding the data dir's lock: it reads the current generation and publishes a new one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        d = DataDir(root)
        self.previous_generation = d.generation()
        self.previous_is_legacy = self.previous_generation is None and d.is_legacy()
        self.previous: DataDir = d.pin()
        self.previous_dir: Path | None = d.current()
        self.published: str | None = None
        self._staged: list[Path] = []

    def _next_id(self) -> str:
        numbers = [0]
        for folder in (self.root / GENERATIONS, self.root / STAGING):
            if folder.is_dir():
                for name in os.listdir(folder):
                    m = GENERATION_RE.match(name.split(".")[0])
                    if m:
                        numbers.append(int(m.group(1)))
        return f"g{max(numbers) + 1:06d}-{secrets.token_hex(4)}"

    def stage(self) -> Path:
        """A new, empty generation folder under staging/ (the layout is set up on the first one)."""
        if not (self.root / MARKER).exists():
            write_atomic(self.root / MARKER, json.dumps(MARKER_CONTENT) + "\n")
        for sub in (GENERATIONS, STAGING):
            (self.root / sub).mkdir(exist_ok=True)
        work = self.root / STAGING / self._next_id()
        work.mkdir()
        self._staged.append(work)
        return work

    def publish(self, work: Path) -> str:
        """Make a staged generation current: fsync it, rename it into generations/, replace CURRENT."""
        gen = work.name
        fsync_tree(work)
        fsync_dir(work.parent)
        final = self.root / GENERATIONS / gen
        os.rename(work, final)
        fsync_dir(final.parent)
        fsync_dir(work.parent)
        write_atomic(self.root / CURRENT, gen + "\n")
        self.published = gen
        with suppress(OSError):  # the build is published; what is left is removed by the next one
            self._prune(keep={gen, self.previous_generation})
        return gen

    def _trash(self, path: Path, name: str) -> None:
        trash = self.root / STAGING / f"{name}.trash-{secrets.token_hex(4)}"
        os.rename(path, trash)  # out of sight in one step, then deleted at leisure
        shutil.rmtree(trash, ignore_errors=True)

    def _prune(self, keep: set[str | None]) -> None:
        """Delete the generations (made by kg) other than the current and the previous one."""
        for entry in sorted(os.scandir(self.root / GENERATIONS), key=lambda e: e.name):
            if GENERATION_RE.match(entry.name) and entry.name not in keep and entry.is_dir(follow_symlinks=False):
                if not _in_use(Path(entry.path)):
                    self._trash(Path(entry.path), entry.name)
        if not self.previous_is_legacy:  # the previous layout's folders, once a generation older than the previous
            for part in ("index", "originals", "store", "records"):  # records/ and store/ last: while they exist,
                p = self.root / part  # the folder still reads as the old layout (if CURRENT were lost)
                if p.is_dir() and not p.is_symlink():
                    self._trash(p, f"legacy-{part}")

    def discard(self) -> None:
        for work in self._staged:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)


def clean_staging(root: Path) -> None:
    """Remove what killed builds left in staging/ (only called with the lock held: no build is running)."""
    staging = root / STAGING
    if staging.is_dir():
        for entry in os.scandir(staging):
            if GENERATION_RE.match(entry.name) or _TRASH_RE.match(entry.name):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    with suppress(OSError):
                        os.unlink(entry.path)
    for entry in os.scandir(root):
        if _TEMP_RE.match(entry.name) and entry.is_file(follow_symlinks=False):
            with suppress(OSError):
                os.unlink(entry.path)


@contextmanager
def writing(
    path: str | Path,
    inputs: Iterable[str | Path] = (),
    wait: float = DEFAULT_WAIT,
    on_wait: Callable[[str], None] | None = None,
    what: str = "the build",
) -> Iterator[Writer]:
    """Hold the data dir's lock, check it again, clean stale staging; every OSError becomes one line."""
    root = Path(path)
    inputs = list(inputs)
    check_target(root, inputs)
    writer = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _flock(root, wait, on_wait):
            check_target(root, inputs)  # another process may have changed it while this one waited
            clean_staging(root)
            writer = Writer(root)
            try:
                yield writer
            finally:
                writer.discard()
    except OSError as exc:
        raise os_error(exc, root, what) from None
