"""The DuckDB warehouse: connecting, running the ``sql/`` models in order, atomic publishing.

A run never writes the published file in place. It copies the warehouse to a build file
beside it, does all its work there, checkpoints, and swaps the build file in with one
``os.replace``. A reader that opened the old file keeps reading the last complete day;
a run that dies leaves the published warehouse exactly as it was. A lock file keeps two
runs from building on one warehouse at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import stat
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

_PACKAGE_SQL = Path(__file__).parent / "sql"
_REPO_SQL = Path(__file__).resolve().parents[2] / "sql"
SQL_DIR = _PACKAGE_SQL if _PACKAGE_SQL.is_dir() else _REPO_SQL


class WarehouseBusyError(RuntimeError):
    """Another run is building this warehouse."""


class WarehouseRefusedError(RuntimeError):
    """The published warehouse file is not one a run may build on as it is (see check_published)."""


class ModelDocError(ValueError):
    """A model's header comment does not document its table or a column."""


# Intermediate steps cheap enough to recompute where used: kept as views, not materialized
# (events_stitched too, unless memory is short: see runs.stitch_apart).
INTERMEDIATE_VIEWS = frozenset({"events_unioned", "events_stitched", "events_sessionized"})


@dataclass(frozen=True)
class Model:
    """One SQL model: a file under ``sql/<layer>/`` holding one select, documented in its header."""

    layer: str
    name: str
    path: Path
    sql: str
    table_comment: str
    column_comments: dict[str, str]


_DOC_LINE = re.compile(r"^--\s?(.*)$")
_COLUMN_DOC = re.compile(r"^([a-z_][a-z0-9_]*):\s+(.+)$")


def load_model(layer: str, name: str) -> Model:
    """Read ``sql/<layer>/<name>.sql`` and its documentation header.

    The header is the leading ``--`` comment block: a first paragraph describing the table,
    then one ``column: description`` line per output column.
    """
    path = SQL_DIR / layer / f"{name}.sql"
    text = path.read_text(encoding="utf-8")
    header: list[str] = []
    for line in text.splitlines():
        match = _DOC_LINE.match(line.strip())
        if not match:
            break
        header.append(match.group(1).rstrip())
    table_lines: list[str] = []
    columns: dict[str, str] = {}
    in_columns = False
    for line in header:
        if not in_columns:
            if line.strip():
                table_lines.append(line.strip())
            elif table_lines:
                in_columns = True
            continue
        column = _COLUMN_DOC.match(line.strip())
        if column:
            columns[column.group(1)] = column.group(2).strip()
        elif line.strip() and columns:
            last = next(reversed(columns))
            columns[last] += " " + line.strip()
    return Model(layer, name, path, text, " ".join(table_lines), columns)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def comment_table(con: duckdb.DuckDBPyConnection, qualified: str, model: Model) -> None:
    """Apply a model's documentation as COMMENTs; refuse an undocumented column."""
    if not model.table_comment:
        raise ModelDocError(f"{model.path}: no table description in the header comment")
    con.execute(f"comment on table {qualified} is {_quote(model.table_comment)}").fetchall()
    schema, _, table = qualified.rpartition(".")
    columns = con.execute(
        "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
        "and database_name = current_database() order by column_index",
        [schema or "main", table],
    ).fetchall()
    for (column,) in columns:
        if column not in model.column_comments:
            raise ModelDocError(f"{model.path}: column {column} is not documented in the header")
        con.execute(
            f"comment on column {qualified}.{column} is {_quote(model.column_comments[column])}"
        ).fetchall()


def run_model(con: duckdb.DuckDBPyConnection, layer: str, name: str, as_table: bool = False) -> int:
    """Build one model and return its row count.

    staging models become temporary views, intermediate models temporary tables
    (working steps, not published), marts become documented tables in the warehouse.
    The intermediate models of INTERMEDIATE_VIEWS are views (-1 rows), unless ``as_table``.
    """
    model = load_model(layer, name)
    body = model.sql.strip().rstrip(";")
    if layer == "staging":
        con.execute(f"create or replace temp view {name} as\n{body}").fetchall()
        return -1
    if layer == "intermediate" and name in INTERMEDIATE_VIEWS and not as_table:
        con.execute(f"create or replace temp view {name} as\n{body}").fetchall()
        return -1
    if layer == "intermediate":
        con.execute(f"create or replace temp table {name} as\n{body}").fetchall()
        return int(con.execute(f"select count(*) from {name}").fetchall()[0][0])
    if layer == "marts":
        con.execute(f"create or replace table main.{name} as\n{body}").fetchall()
        comment_table(con, f"main.{name}", model)
        return int(con.execute(f"select count(*) from main.{name}").fetchall()[0][0])
    raise ValueError(f"unknown model layer {layer!r}")


def run_script(con: duckdb.DuckDBPyConnection, layer: str, name: str) -> None:
    """Run a file of statements (DDL for the raw tables, macros) and apply its documentation."""
    model = load_model(layer, name)
    for statement in _split_statements(model.sql):
        con.execute(statement).fetchall()
    if layer == "raw":
        comment_table(con, f"raw.{name}", model)
    elif layer == "ledgers":
        comment_table(con, f"main.{name}", model)


def has_tables(con: duckdb.DuckDBPyConnection, *names: str, schema: str = "main") -> bool:
    """Whether every named table of the connection's own database exists (in ``schema``)."""
    found = {
        row[0]
        for row in con.execute(
            "select table_name from duckdb_tables() where schema_name = ? and database_name = current_database()",
            [schema],
        ).fetchall()
    }
    return all(name in found for name in names)


def _split_statements(sql: str) -> list[str]:
    """Split a script on semicolons that end a line (our scripts hold no such semicolons in strings)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    parts = re.split(r";\s*(?:\n|$)", "\n".join(lines))
    return [part.strip() for part in parts if part.strip()]


# With threads left to DuckDB, each gets at least this much of the memory limit: a small limit
# shared by many cores fails where fewer threads would spill (128MB on 8 threads fails).
MEMORY_PER_THREAD = 64 << 20

_SIZE_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50}


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """The connection's memory limit in bytes (DuckDB shows it as text such as '3.7 GiB')."""
    ((text,),) = con.execute("select current_setting('memory_limit')").fetchall()
    number, unit = str(text).split()
    return int(float(number) * _SIZE_UNITS.get(unit, 1 << 60))  # beyond PiB: more than any machine has


def connect(
    path: Path | str, read_only: bool = False, memory_limit: str | None = None, threads: int = 0
) -> duckdb.DuckDBPyConnection:
    """Open a warehouse with the session settings every step relies on (UTC, bounded memory).

    With a memory limit, DuckDB spills to a temporary folder beside the file instead of
    growing without bound, and (with threads left to DuckDB) runs no more threads than the
    limit gives MEMORY_PER_THREAD each.
    """
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("set TimeZone = 'UTC'").fetchall()
    if memory_limit:
        con.execute(f"set memory_limit = '{memory_limit.replace(chr(39), '')}'").fetchall()
        spill = Path(path).with_name(Path(path).name + ".spill")
        con.execute(f"set temp_directory = '{str(spill).replace(chr(39), chr(39) * 2)}'").fetchall()
        if not threads:
            ((every_core,),) = con.execute("select current_setting('threads')").fetchall()
            threads = min(int(every_core), max(1, memory_limit_bytes(con) // MEMORY_PER_THREAD))
    if threads:
        con.execute(f"set threads = {int(threads)}").fetchall()
    return con


@contextlib.contextmanager
def warehouse_lock(warehouse: Path, for_runs: bool = False) -> Iterator[None]:
    """Hold the warehouse's run lock, refusing at once if another run holds it.

    With ``for_runs``, the lock is held on behalf of the runs this process starts while it is
    held (a ``journey run`` command holds it from its checks to its end, so that a second command
    is refused in one line even while the first one's orchestrator starts): each of those runs
    takes it over in turn, one at a time, instead of being refused."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    lock_path = warehouse.with_name(warehouse.name + ".lock")
    key = lock_path.resolve()
    busy = WarehouseBusyError(f"another run is building {warehouse} (lock {lock_path}); wait for it to finish")
    if not for_runs and key in _HELD_FOR_RUNS:
        if _HELD_FOR_RUNS[key]:
            raise busy
        _HELD_FOR_RUNS[key] = True
        try:
            yield
        finally:
            _HELD_FOR_RUNS[key] = False
        return
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        if for_runs:
            _HELD_FOR_RUNS[key] = False
        try:
            yield
        finally:
            if for_runs:
                del _HELD_FOR_RUNS[key]
            fcntl.flock(handle, fcntl.LOCK_UN)


# Locks this process holds for the runs it starts (see warehouse_lock): lock file -> whether one
# of those runs is using it now.
_HELD_FOR_RUNS: dict[Path, bool] = {}


def build_path_for(warehouse: Path, run_id: str) -> Path:
    """The private file a run builds in before publishing."""
    return warehouse.with_name(f".{warehouse.name}.build-{run_id}")


def staged_model_dir(build: Path) -> Path:
    """Where a run keeps a retrained stage model until it publishes: named after its build
    file, so that it goes with the build's other leftovers (its WAL and spill folder)."""
    return build.with_name(build.name + ".models")


# The umasks the process had before files_no_wider_than narrowed it, the outermost first.
_UMASKS_BEFORE: list[int] = []


def _group_of_new_files(folder: Path) -> int:
    """The group a file created in a folder gets: the folder's where it is set-group-ID, else the
    process's own."""
    info = folder.stat()
    return info.st_gid if info.st_mode & stat.S_ISGID else os.getegid()


@contextlib.contextmanager
def files_no_wider_than(warehouse: Path) -> Iterator[None]:
    """While held, the files the process creates are no more open than the published warehouse:
    the umask also closes the read and write permissions the warehouse does not give its group and
    others, and the entry to folders for those who may not read it (all of the group's when new
    files would get another group than the warehouse's). DuckDB creates a build's WAL again after
    each checkpoint, its spill files when it spills, and a fresh copy (publish_fresh_copy) under
    the umask, so a run holds this from its build's creation to its publish; _keep_access then
    gives the published file its exact mode. The owner's permissions are left alone (the run
    writes its files and enters its folders). The first run (no warehouse yet) leaves the umask
    alone, as for any new file.
    The umask is the process's: files that are not the warehouse's (the reports folder a
    dashboard is served from) are written under umask_of_the_process."""
    try:
        published = warehouse.stat()
    except FileNotFoundError:
        yield
        return
    mode = stat.S_IMODE(published.st_mode)
    closed = ~mode & 0o066
    # nor a folder entered by those who may not read the warehouse
    closed |= (0 if mode & stat.S_IROTH else stat.S_IXOTH) | (0 if mode & stat.S_IRGRP else stat.S_IXGRP)
    if published.st_gid != _group_of_new_files(warehouse.parent):
        closed |= stat.S_IRWXG  # the warehouse's group permissions are for another group
    before = os.umask(0o077)
    os.umask(before | closed)
    _UMASKS_BEFORE.append(before)
    try:
        yield
    finally:
        _UMASKS_BEFORE.pop()
        os.umask(before)


@contextlib.contextmanager
def umask_of_the_process() -> Iterator[None]:
    """The umask the process had before a run narrowed it (files_no_wider_than), for files that
    are not the warehouse's: the pages of the reports folder keep the access they always had."""
    if not _UMASKS_BEFORE:
        yield
        return
    narrowed = os.umask(_UMASKS_BEFORE[0])
    try:
        yield
    finally:
        os.umask(narrowed)


def check_published(warehouse: Path) -> None:
    """Before a run copies the published file (with the warehouse lock held): refuse a file the
    run must not build on, and fold in a write-ahead log a writer left beside it.

    - Another process holds it open for writing (a notebook's read-write connection): its
      changes would go on into the file the run replaces, and its log beside the new one.
    - A log beside it (``<warehouse>.wal``: a process wrote to the warehouse and died before
      closing it): the build was copied without those changes, and published over, the old log
      stayed beside the new file, which no reader could open ("WAL ... checkpoint iteration does
      not match") until the log was deleted by hand. It is checkpointed into the file first.
    - A DuckDB file of another application (tables, but no pipeline_runs): the run replaced its
      tables of the same names (events, sessions)."""
    if not warehouse.is_file() or warehouse.stat().st_size == 0:
        return
    if _open_for_writing_elsewhere(warehouse):
        raise WarehouseRefusedError(
            f"{warehouse} is open for writing (a read-write connection, in this or another process): close it, "
            "then run again (a run now would publish over what it writes)"
        )
    wal = warehouse.with_name(warehouse.name + ".wal")
    if wal.exists():
        try:
            con = duckdb.connect(str(warehouse))
        except duckdb.Error as exc:  # readers hold it (here or elsewhere): it cannot be opened for writing
            raise WarehouseRefusedError(
                f"{wal} holds changes a process made to the warehouse without closing it; they are "
                "checkpointed into the warehouse when no other process has it open: close its readers, "
                "then run again"
            ) from exc
        try:
            con.execute("checkpoint").fetchall()
        finally:
            con.close()
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:  # (a writer that came since, a file DuckDB cannot read)
        raise WarehouseRefusedError(f"{warehouse} cannot be read: {str(exc).strip().splitlines()[0]}") from exc
    try:
        tables = [name for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'main' order by table_name"
        ).fetchall()]
    finally:
        con.close()
    if tables and "pipeline_runs" not in tables:
        shown = ", ".join(tables[:4]) + (", ..." if len(tables) > 4 else "")
        raise WarehouseRefusedError(
            f"{warehouse} is a DuckDB database of something else (tables {shown}; no pipeline_runs): "
            "give the warehouse a path of its own"
        )


def _open_for_writing_elsewhere(path: Path) -> bool:
    """Whether a DuckDB read-write connection holds the file (in another process, or in this one):
    DuckDB locks the file for writing then (fcntl), for reading with a read-only connection.
    Read from /proc/locks, which takes no lock and opens no descriptor of the file: closing any
    descriptor of a file drops every fcntl lock this process holds on it, a connection's too.
    Without /proc/locks, a shared lock is tried and released (blind to this process's own)."""
    stat_ = path.stat()
    wanted = f"{os.major(stat_.st_dev):02x}:{os.minor(stat_.st_dev):02x}:{stat_.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            return any(
                len(fields) > 5 and fields[3] == "WRITE" and fields[5] == wanted
                for fields in (line.split() for line in locks)
            )
    except OSError:
        pass
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def start_build(warehouse: Path, run_id: str | None = None) -> Path:
    """Copy the published warehouse (if any) to a fresh build file and return its path. The build
    is created no more open than the published file (files_no_wider_than), not opened to all by
    the umask while it is copied."""
    run_id = run_id or uuid.uuid4().hex[:12]
    build = build_path_for(warehouse, run_id)
    for stale in warehouse.parent.glob(f".{warehouse.name}.build-*"):
        # left by a killed run (the file, its WAL, its spill folder); we hold the lock
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    if warehouse.exists():
        try:
            with files_no_wider_than(warehouse):
                shutil.copyfile(warehouse, build)
            # no wider than the published file while it builds (the run needs to write it)
            _keep_access(build, warehouse, stat.S_IRUSR | stat.S_IWUSR)
        except BaseException:  # a full disk, or a signal to stop the run as it starts
            with signals_held():
                build.unlink(missing_ok=True)  # a partial copy would keep a full disk full
            raise
    return build


def _keep_access(build: Path, warehouse: Path, also: int = 0) -> None:
    """Give the build the published file's permissions (and group, where the owner may), so that
    a warehouse its owner narrowed (it holds customers' ids) is not opened to all by the umask.
    A group the owner may not give (one they are not in) is not given, and then the build's own
    group gets no access: the published file's group permissions were for another group."""
    try:
        published = warehouse.stat()
    except FileNotFoundError:
        return  # the first run: the umask decides, as for any new file
    mode = stat.S_IMODE(published.st_mode) | also
    if build.stat().st_gid != published.st_gid:
        try:
            os.chown(build, -1, published.st_gid)
        except OSError:  # only the owner's own groups may be given
            mode &= ~stat.S_IRWXG
    os.chmod(build, mode)  # after the group: a change of group may clear the set-id bits


def make_spill_folder(con: duckdb.DuckDBPyConnection) -> None:
    """Create the connection's spill folder (its temp_directory) now, under the umask of this
    moment (files_no_wider_than), rather than when a query first spills: a later step may spill
    while the umask is the process's (a run's dashboard page is written under
    umask_of_the_process), and its spill files are then out of reach in this folder. DuckDB
    leaves a folder it did not create: publish_build and discard_build remove it."""
    ((folder,),) = con.execute("select current_setting('temp_directory')").fetchall()
    if folder:
        Path(folder).mkdir(exist_ok=True)


def publish_fresh_copy(con: duckdb.DuckDBPyConnection, build: Path, warehouse: Path) -> None:
    """Publish a copy of the build's live data in a new file (``COPY FROM DATABASE``) instead of
    the build itself, whose free blocks may still hold rows deleted or values rewritten (an
    erasure, ids brought in line). The build file and its WAL go; its staged model folder is the
    caller's. On failure the copy goes and the build is left to the caller to discard. The copy
    and its WAL are created no more open than the published file (files_no_wider_than)."""
    fresh = build.with_name(build.name + "-fresh")
    fresh.unlink(missing_ok=True)
    try:
        with files_no_wider_than(warehouse):
            ((source,),) = con.execute("select current_database()").fetchall()
            con.execute("checkpoint").fetchall()
            con.execute(f"attach {_quote(str(fresh))} as build_fresh").fetchall()
            try:
                con.execute(f"copy from database {_identifier(source)} to build_fresh").fetchall()
            finally:
                with contextlib.suppress(duckdb.Error):
                    con.execute("detach build_fresh").fetchall()
            con.close()
            build.unlink(missing_ok=True)
            build.with_name(build.name + ".wal").unlink(missing_ok=True)
            shutil.rmtree(build.with_name(build.name + ".spill"), ignore_errors=True)
            publish_build(connect(fresh), fresh, warehouse)
    except BaseException:
        discard_build(None, fresh)
        raise


def publish_build(con: duckdb.DuckDBPyConnection, build: Path, warehouse: Path) -> None:
    """Checkpoint and close the build, then swap it in atomically over the published file."""
    con.execute("checkpoint").fetchall()
    con.close()
    shutil.rmtree(build.with_name(build.name + ".spill"), ignore_errors=True)  # see make_spill_folder
    _keep_access(build, warehouse)
    with open(build, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(build, warehouse)
    directory = os.open(warehouse.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def discard_build(con: duckdb.DuckDBPyConnection | None, build: Path, keep_staged_model: bool = False) -> None:
    """Throw a failed build away; the published warehouse is untouched. With
    ``keep_staged_model``, its staged model folder stays (for the next run to promote, when the
    build was published, or to remove). A signal to stop that comes meanwhile waits for it to
    end (see signals_held)."""
    with signals_held():
        if con is not None:
            with contextlib.suppress(Exception):
                con.close()
        build.unlink(missing_ok=True)
        build.with_name(build.name + ".wal").unlink(missing_ok=True)
        shutil.rmtree(build.with_name(build.name + ".spill"), ignore_errors=True)
        if not keep_staged_model:
            shutil.rmtree(staged_model_dir(build), ignore_errors=True)


# The signals that stop a run; see signals_held.
STOP_SIGNAL_NUMBERS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGTERM and SIGINT for the block: files a stopped run removes are all removed.

    A stop often comes twice: systemd or a terminal signals a process group, then `journey serve`
    cancels its run with a signal of its own; a user presses Ctrl-C again. The handlers that stop
    a run raise, so a second signal while the first one's build was being thrown away stopped the
    removal half-way and left the build (or its spill folder) on disk. Held here, a signal is
    recorded in runs.STOP_SIGNALS (a backfill stops at its next day) and, when the process had no
    handler of its own for it, delivered again once the block has ended. Only the main thread
    receives signals' handlers; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread() or getattr(
        signal.getsignal(signal.SIGTERM), "holds_signals", False
    ):
        yield  # (in a block that holds them already: that block delivers them)
        return
    held: list[int] = []

    def hold(signum: int, frame: object) -> None:
        from journey_analytics.runs import STOP_SIGNALS

        held.append(signum)
        STOP_SIGNALS.append(signum)

    hold.holds_signals = True  # type: ignore[attr-defined]

    previous = {s: signal.getsignal(s) for s in STOP_SIGNAL_NUMBERS}
    for number, handler in previous.items():
        if handler is not signal.SIG_IGN and handler is not None:  # (None: set outside Python)
            signal.signal(number, hold)
    try:
        yield
    finally:
        for number, handler in previous.items():
            if handler is not signal.SIG_IGN and handler is not None:
                signal.signal(number, handler)
        for number in dict.fromkeys(held):
            if previous[number] is signal.SIG_DFL or (number == signal.SIGINT and previous[number] is signal.default_int_handler):
                signal.raise_signal(number)  # (the process ends by it, or Ctrl-C raises KeyboardInterrupt)
