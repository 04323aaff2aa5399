"""A transfer progress bar (objects and bytes, rate, ETA) that stays quiet off a terminal."""

from __future__ import annotations

import threading
from typing import Any

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from ..publish import Reporter
from .console import err_console

__all__ = ["TransferReporter"]


class TransferReporter(Reporter):
    """Notes go to stderr; the bar is drawn only when stderr is a terminal and not ``quiet``."""

    def __init__(self, label: str = "uploading", *, quiet: bool = False) -> None:
        self.label = label
        self.quiet = quiet
        self.show = not quiet and err_console.is_terminal
        self._progress: Progress | None = None
        self._task: Any = None
        self._objects = 0
        self._total_objects = 0
        self._lock = threading.Lock()

    def note(self, text: str) -> None:
        if not self.quiet:
            err_console.print(f"[dim]·[/dim] {text}", markup=True, highlight=False)

    def upload_started(self, objects: int, nbytes: int) -> None:
        self._objects, self._total_objects = 0, objects
        if not self.show or not objects:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[objects]}"),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=nbytes or None,
                                             objects=self._objects_text())

    def _objects_text(self) -> str:
        return f"{self._objects}/{self._total_objects} objects"

    def advance(self, objects: int, nbytes: int) -> None:
        if self._progress is None:
            return
        with self._lock:
            self._objects += objects
            self._progress.update(self._task, advance=nbytes, objects=self._objects_text())

    def upload_finished(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

