"""A progress display for long steps, shown by the command line and silent elsewhere.

Library code reports progress through :func:`report`; the CLI installs a display with
:func:`display`. Nothing is shown when no display is installed (tests, scheduled runs).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

_active: Progress | None = None
_tasks: dict[str, int] = {}


@contextlib.contextmanager
def display() -> Iterator[None]:
    """Show progress bars on the terminal (stderr) while the block runs, if it is a terminal."""
    global _active
    if not sys.stderr.isatty():
        yield
        return
    progress = Progress(
        TextColumn("[bold]{task.fields[step]:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    _active = progress
    try:
        with progress:
            yield
    finally:
        _active = None
        _tasks.clear()


def report(step: str, done: int, total: int, detail: str = "") -> None:
    """Record that ``done`` of ``total`` units of a step are finished."""
    if _active is None:
        return
    if step not in _tasks:
        _tasks[step] = _active.add_task(detail, total=total, step=step)
    _active.update(_tasks[step], completed=done, total=total, description=detail[-60:])
