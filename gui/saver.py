"""Writing files off the GUI thread: a large workspace must not freeze the window while it saves.

A scenario of tens of megabytes (a long recorded price path) takes seconds to turn into JSON and
write; done on the GUI thread at every autosave, that froze the window each time. A
:class:`BackgroundWriter` runs each write on one worker thread, in order. Requests under the same
key that pile up while a write is running collapse into the latest one (an autosave only ever
needs the newest state). What a job reads must not change under it: the jobs write frozen records
(:class:`~core.scenario.Scenario` is immutable), captured when the job is made.

The result of each write comes back on the GUI thread through :attr:`BackgroundWriter.done`
(key, error message or ""), and to the job's own ``on_done`` callback. :meth:`wait` blocks until
every write has finished (quitting, and tests, which never wait on the clock).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from PySide6.QtCore import QObject, Signal

Job = Callable[[], object]
Done = Callable[[object, str], None]


class BackgroundWriter(QObject):
    done = Signal(str, str)  # (key, "" or the reason the write failed)
    _finished = Signal(str, object, str, object)  # internal: (key, result, error, on_done) to the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="marginlab-save")
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[Job, Done | None]] = {}
        self._futures: list[Future[None]] = []
        self._finished.connect(self._deliver)

    def submit(self, key: str, job: Job, on_done: Done | None = None) -> None:
        """Run ``job`` on the worker; a not-yet-started job under ``key`` is replaced by this one."""
        with self._lock:
            queued = key in self._latest
            self._latest[key] = (job, on_done)
            if queued:
                return
            self._futures = [f for f in self._futures if not f.done()]
            self._futures.append(self._pool.submit(self._run, key))

    def _run(self, key: str) -> None:
        with self._lock:
            job, on_done = self._latest.pop(key)
        try:
            result, error = job(), ""
        except Exception as exc:  # reported to the user by the caller, never raised on a worker
            result, error = None, f"{type(exc).__name__}: {exc}" if not isinstance(exc, OSError) else (
                f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        self._finished.emit(key, result, error, on_done)

    def _deliver(self, key: str, result: object, error: str, on_done: object) -> None:
        if callable(on_done):
            on_done(result, error)
        self.done.emit(key, error)

    def wait(self) -> None:
        """Block until every submitted write has finished, then deliver their results."""
        while True:
            with self._lock:
                pending = [f for f in self._futures if not f.done()]
            if not pending:
                break
            for f in pending:
                f.result()
        from PySide6.QtCore import QCoreApplication

        QCoreApplication.sendPostedEvents(self)  # the queued results, now, on this thread

    def close(self) -> None:
        """Finish what is queued and stop the worker (at quit)."""
        self.wait()
        self._pool.shutdown(wait=True)
