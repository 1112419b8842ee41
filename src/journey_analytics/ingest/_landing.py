"""Finding the landing files a run must read, and the kinds of landing data."""

from __future__ import annotations

import difflib
import errno
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from stat import S_ISDIR, S_ISLNK, S_ISREG


class LandingError(RuntimeError):
    """The landing folder cannot be used at all (missing, not a folder)."""


@dataclass(frozen=True)
class LandingKind:
    """One kind of landing data: where its files live and where its rows go."""

    name: str
    staging_model: str
    raw_table: str
    dated: bool  # files sit in dt=YYYY-MM-DD folders
    has_event_id: bool  # rows are events, de-duplicated on event_id
    output_columns: tuple[str, ...]


@dataclass(frozen=True)
class LandingFile:
    """One file found in the landing folder."""

    kind: str
    path: Path
    source_file: str  # relative to the landing folder, with forward slashes
    file_format: str | None  # None when the extension is not one we read
    arrived_on: date | None
    size_bytes: int
    modified_at: datetime
    problem: str | None = None  # why the file cannot be read, found before reading
    in_flight: bool = False  # named as an upload still being written (IN_FLIGHT_SUFFIXES): not read yet


_FORMATS = (
    (".jsonl.gz", "jsonl.gz"),
    (".ndjson.gz", "jsonl.gz"),
    (".json.gz", "jsonl.gz"),
    (".csv.gz", "csv"),
    (".jsonl", "jsonl"),
    (".ndjson", "jsonl"),
    (".json", "jsonl"),
    (".csv", "csv"),
    (".parquet", "parquet"),
)
# The endings uploaders give a file while they write it, renaming it once it is whole (compared
# lowercased): a file named so is not read, nor refused, until it is renamed; each run says it is
# there (see in_flight_notice). WinSCP writes .filepart, Chrome .crdownload, Hadoop's
# `hdfs dfs -put` ._COPYING_; curl, wget, lftp and many scripts .part, .partial or .tmp.
IN_FLIGHT_SUFFIXES = (
    ".tmp", ".temp", ".part", ".partial", ".crdownload", ".filepart", ".uploading", "._copying_",
    ".inprogress", ".in-progress",
)
_DT_FOLDER = re.compile(r"^dt=(\d{4}-\d{2}-\d{2})$")


def file_format_of(name: str) -> str | None:
    """The format a file name declares, or None for one we do not read."""
    lower = name.lower()
    for suffix, fmt in _FORMATS:
        if lower.endswith(suffix):
            return fmt
    return None


def is_in_flight(name: str) -> bool:
    """Whether a file name is an upload's while it is written (see IN_FLIGHT_SUFFIXES)."""
    return name.lower().endswith(IN_FLIGHT_SUFFIXES)


def in_flight_notice(file: LandingFile) -> str:
    """What a run says of a file it leaves for a later run because it is still being uploaded."""
    return f"{file.source_file}: still being written (a temporary upload name); read once it is renamed"


def _describe(
    path: Path, landing: Path, kind: str, arrived_on: date | None, problem: str | None,
    entry: os.DirEntry[str] | None = None, source_file: str | None = None,
) -> LandingFile:
    """A landing file; ``entry`` (its folder's listing of it, which may know its stat already)
    and ``source_file`` (its path relative to the landing folder) save work when given."""
    try:
        stat = entry.stat() if entry is not None else path.stat()
    except OSError:  # a link that loops or leads nowhere: described as the link itself
        stat = entry.stat(follow_symlinks=False) if entry is not None else path.lstat()
    if problem is None and not (S_ISREG(stat.st_mode) or S_ISDIR(stat.st_mode)):
        problem = (
            "link leads to no file (broken, or a loop); not read" if S_ISLNK(stat.st_mode)
            else "not a regular file (a pipe, socket or device); not read"
        )
    # an upload not finished is judged by its final name, in a later run (wherever it lies)
    in_flight = S_ISREG(stat.st_mode) and is_in_flight(path.name)
    if in_flight:
        problem = None
    fmt = file_format_of(path.name)
    if fmt is None and problem is None and not in_flight:
        problem = "unsupported file type (expected .jsonl, .jsonl.gz, .csv or .parquet)"
    source_file = source_file if source_file is not None else path.relative_to(landing).as_posix()
    if not is_utf8_name(source_file):
        # (a name in another encoding: no table or log takes it as it is, and the run stopped)
        source_file, problem, in_flight = shown_name(source_file), _NAME_NOT_UTF8, False
    return LandingFile(
        kind=kind,
        path=path,
        source_file=source_file,
        file_format=fmt,
        arrived_on=arrived_on,
        size_bytes=stat.st_size,
        modified_at=datetime.fromtimestamp(stat.st_mtime, UTC).replace(tzinfo=None),
        problem=problem,
        in_flight=in_flight,
    )


_NAME_NOT_UTF8 = "file name is not valid UTF-8 text (rename it); not read"


def is_utf8_name(name: str) -> bool:
    """Whether a file name (as Python decodes it from the system: bytes that are not UTF-8 become
    lone surrogates) is UTF-8 text."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_name(name: str) -> str:
    """A file name as text to record and print: bytes that are not UTF-8 written \\xff."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# Names not read nor named: hidden, a marker such as _SUCCESS, or the owner file Office keeps
# beside a file it has open (~$Book1.csv, its user's name in UTF-16)
_UNSEEN_PREFIXES = (".", "_", "~$")


def _visible(path: Path) -> bool:
    return not path.name.startswith(_UNSEEN_PREFIXES)


def _entries(folder: Path) -> list[Path]:
    """A folder's visible entries (not hidden, not a marker such as _SUCCESS); none when the
    folder cannot be listed (see _listing_problem)."""
    try:
        return sorted(p for p in folder.iterdir() if _visible(p))
    except OSError:
        return []


def _listing_problem(folder: Path) -> str | None:
    """Why a folder cannot be listed (no permission, a link loop), or None."""
    try:
        next(iter(folder.iterdir()), None)
        _entered(folder)
    except OSError as exc:
        return f"folder cannot be read ({exc.strerror or exc}); its files are not read"
    return None


def _entered(folder: Path) -> None:
    """Raise PermissionError for a folder that may be listed but not entered (mode r-- without
    x): none of its entries can be looked at. (The run stopped at the first look at one of its
    files.) Asked of the system by access(2), not by a look at an entry, so that each file's stat
    is still taken once."""
    if not os.access(folder, os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))


def _visible_files(folder: Path) -> list[Path]:
    """Files in a folder, skipping hidden and marker files such as _SUCCESS. Whatever is not a
    folder counts: a broken link or a pipe is named (see _describe), not skipped unseen."""
    return [p for p in _entries(folder) if not p.is_dir()]


def _files_in_sub_folders(folder: Path, subs: list[Path] | None = None) -> list[Path]:
    """Visible files at any depth below a folder's visible sub-folders (``subs``, when the
    folder was listed already) (not read, but named).
    A linked sub-folder, or one that cannot be listed, is named itself: a link to a parent
    would loop, and an unlisted folder's files would otherwise go unmentioned."""
    found: list[Path] = []
    for sub in subs if subs is not None else (p for p in _entries(folder) if p.is_dir()):
        if sub.is_symlink() or _listing_problem(sub) is not None:
            found.append(sub)
        else:
            found += _visible_files(sub) + _files_in_sub_folders(sub)
    return found


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether a listed entry is a folder (or a link to one), as Path.is_dir: False for a link
    that loops or leads nowhere."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _list_folder(folder: Path) -> tuple[list[os.DirEntry[str]], list[Path]] | str:
    """A folder's visible files (not folders; sorted by name) and visible sub-folders, from one
    listing; or why it cannot be listed (see _listing_problem). A dt= folder of a year of hourly
    exports is listed once a run, and each file's stat taken once (from its listing when the
    system gives it), not three times."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted((e for e in listing if not e.name.startswith(_UNSEEN_PREFIXES)), key=lambda e: e.name)
        _entered(folder)
    except OSError as exc:
        return f"folder cannot be read ({exc.strerror or exc}); its files are not read"
    files, folders = [], []
    for entry in entries:
        if _is_dir(entry):
            folders.append(folder / entry.name)
        else:
            files.append(entry)
    return files, folders


def _sub_folder_problem(folder: str) -> str:
    return f"file is in a sub-folder of {folder}; landing files are read only directly inside it"


def dt_folder_day(name: str) -> date | None:
    """The day a folder named dt=YYYY-MM-DD stands for; None for any other name or no real date."""
    match = _DT_FOLDER.match(name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def last_landing_day(landing: Path, kinds: tuple[LandingKind, ...]) -> date | None:
    """The latest dt= day of the dated kinds' folders (None: there is none)."""
    days = [
        day for kind in kinds if kind.dated and (landing / kind.name).is_dir()
        for sub in (landing / kind.name).iterdir() if (day := dt_folder_day(sub.name)) is not None
    ]
    return max(days, default=None)


def entries_no_kind_reads(landing: Path, kinds: tuple[LandingKind, ...]) -> list[str]:
    """Notices for what lies at the top of the landing folder and no kind reads: a folder named
    otherwise than the kinds' (``emails/`` for ``email/``, ``Social/``), with the kind meant when
    the name is close to one, and a file beside the kinds' folders. None of it is read, nor
    refused (it has no kind to be quarantined under), so each run says it is there. Hidden
    names and markers (``_SUCCESS``, ``_truth/``) stay unsaid, as in the kinds' folders."""
    names = [kind.name for kind in kinds]
    folders = ", ".join(f"{name}/" for name in names)
    dated = [kind.name for kind in kinds if kind.dated]
    undated = [kind.name for kind in kinds if not kind.dated]
    notices = []
    for entry in _entries(landing):
        if entry.name in names:
            continue
        name = shown_name(entry.name)
        if entry.is_dir():
            meant = difflib.get_close_matches(entry.name.lower(), names, n=1, cutoff=0.6)
            notices.append(
                f"{name}/: not a folder of the landing folder ({folders}), so its files are not read"
                + (f"; did you mean {meant[0]}/?" if meant else "")
            )
        else:
            notices.append(
                f"{name}: a file beside the landing folder's folders is not read; it goes in "
                f"{', '.join(f'{n}/' for n in dated[:-1])} or {dated[-1]}/ (in a dt=YYYY-MM-DD folder), "
                f"{' or '.join(f'{n}/' for n in undated)}"
            )
    return notices


def find_landing_files(landing: Path, kind: LandingKind, up_to: date) -> list[LandingFile]:
    """Every file of one kind that has arrived up to and including ``up_to``."""
    if not landing.is_dir():
        raise LandingError(f"landing folder not found: {landing}")
    folder = landing / kind.name
    if not folder.is_dir():
        return []
    unreadable = _listing_problem(folder)
    if unreadable is not None:
        return [_describe(folder, landing, kind.name, None, unreadable)]
    found: list[LandingFile] = []
    if not kind.dated:
        return [_describe(p, landing, kind.name, None, None) for p in _visible_files(folder)] + [
            _describe(p, landing, kind.name, None, _sub_folder_problem(f"{kind.name}/"))
            for p in _files_in_sub_folders(folder)
        ]
    for path in _visible_files(folder):
        found.append(_describe(path, landing, kind.name, None, "file is not inside a dt=YYYY-MM-DD folder"))
    for sub in (p for p in _entries(folder) if p.is_dir()):
        arrived_on = dt_folder_day(sub.name)
        problem = None
        if arrived_on is None:
            problem = (f"folder {sub.name} is not a real date" if _DT_FOLDER.match(sub.name)
                       else f"folder {sub.name} is not named dt=YYYY-MM-DD")
        if arrived_on is not None and arrived_on > up_to:
            continue
        listed = _list_folder(sub)
        if isinstance(listed, str):  # named, so the run goes on and the folder is tried again next run
            found.append(_describe(sub, landing, kind.name, arrived_on, listed))
            continue
        files, sub_folders = listed
        prefix = f"{kind.name}/{sub.name}/"
        for entry in files:
            found.append(_describe(
                sub / entry.name, landing, kind.name, arrived_on, problem, entry=entry, source_file=prefix + entry.name
            ))
        for path in _files_in_sub_folders(sub, sub_folders):
            found.append(_describe(path, landing, kind.name, arrived_on, problem or _sub_folder_problem(f"{sub.name}/")))
    return found
