"""The state one cloud service shares across the worker processes of a run.

Budget (the cost guard `Settings.max_calls`), rate-limit slots and the stop flag (a 401/403 seen
by any worker) live in one small SQLite file under ``settings.cache_dir``
(``cloud_state.sqlite``, WAL mode, ``BEGIN IMMEDIATE`` transactions). A *run* is one extractor
instance (and its copies pickled to worker processes), or every instance that shares
``RUMARO_RUN_ID``: set it (or call `begin_run` before starting workers) so that instances created
separately, in several processes, share one budget and one stop flag. Keys never enter this file.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from ...errors import BudgetExhausted, ServiceStopped

#: State rows untouched this long belong to finished runs and are deleted.
STATE_TTL_SECONDS = 6 * 3600
RUN_ID_ENV = "RUMARO_RUN_ID"


def begin_run(run_id: str | None = None) -> str:
    """Start a new run's budget/stop state; returns its id. Call once before starting workers.

    Sets ``RUMARO_RUN_ID`` in this process's environment, which worker processes inherit.
    """
    run_id = run_id or uuid.uuid4().hex
    os.environ[RUN_ID_ENV] = run_id
    return run_id


def current_run_id() -> str:
    """``RUMARO_RUN_ID`` if set, else the process group (the CLI and its workers share one)."""
    explicit = os.environ.get(RUN_ID_ENV)
    if explicit:
        return explicit
    return f"pgid-{os.getpgrp()}"


class ServiceState:
    """Budget, rate-limit slot and stop flag of one service in one run, shared by processes.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "state.sqlite"
    >>> a = ServiceState(path, "svc", run_id="r1", max_calls=1)
    >>> a.acquire()
    1
    >>> ServiceState(path, "svc", run_id="r1", max_calls=1).acquire()
    Traceback (most recent call last):
    ...
    rumaro_lab.errors.BudgetExhausted: the cost guard of 1 svc call(s) per run is spent ...
    """

    def __init__(
        self,
        path: str | Path,
        service: str,
        *,
        run_id: str | None = None,
        max_calls: int | None = None,
        calls_per_second: float | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
        stop_hint: str | None = None,
    ):
        self.path = Path(path)
        self.service = service
        self.run_id = run_id or current_run_id()
        self.max_calls = max_calls
        self.calls_per_second = calls_per_second
        self._clock = clock
        self._sleep = sleep
        self.stop_hint = stop_hint
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS service_state ("
                " run_id TEXT NOT NULL, service TEXT NOT NULL,"
                " calls INTEGER NOT NULL DEFAULT 0, next_slot REAL NOT NULL DEFAULT 0,"
                " stopped TEXT, updated REAL NOT NULL,"
                " PRIMARY KEY (run_id, service))"
            )
            db.execute(
                "DELETE FROM service_state WHERE updated < ?", (clock() - STATE_TTL_SECONDS,)
            )

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so read-modify-write is atomic
        # across processes (the write lock is taken before the read).
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _transaction(self, update: Callable[[sqlite3.Connection, sqlite3.Row | None], Any]) -> Any:
        with closing(self._connect()) as db:
            db.row_factory = sqlite3.Row
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT calls, next_slot, stopped FROM service_state"
                    " WHERE run_id = ? AND service = ?",
                    (self.run_id, self.service),
                ).fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO service_state (run_id, service, updated) VALUES (?, ?, ?)",
                        (self.run_id, self.service, self._clock()),
                    )
                result = update(db, row)
                db.execute("COMMIT")
                return result
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _set(self, db: sqlite3.Connection, **values: Any) -> None:
        values["updated"] = self._clock()
        assignments = ", ".join(f"{k} = ?" for k in values)
        db.execute(
            f"UPDATE service_state SET {assignments} WHERE run_id = ? AND service = ?",
            (*values.values(), self.run_id, self.service),
        )

    # -- the three operations -------------------------------------------------------------
    def acquire(self) -> int:
        """Count one call against the budget; returns the calls used so far (this one included).

        Raises `ServiceStopped` if the service was stopped in this run, `BudgetExhausted` if the
        budget is spent. Both are checked under one lock, so N processes never exceed the budget.
        """

        def update(db, row):
            calls = row["calls"] if row else 0
            stopped = row["stopped"] if row else None
            if stopped:
                raise ServiceStopped(f"stopped earlier in this run: {stopped}",
                                     hint=self.stop_hint)
            if self.max_calls is not None and calls >= self.max_calls:
                raise BudgetExhausted(
                    f"the cost guard of {self.max_calls} {self.service} call(s) per run is spent",
                    hint="raise --max-calls (RUMARO_MAX_CALLS) or run again later: cached"
                    " images cost nothing",
                )
            self._set(db, calls=calls + 1)
            return calls + 1

        return self._transaction(update)

    def wait_for_slot(self) -> float:
        """Block until this process may send one request; returns the seconds waited.

        Slots are ``1 / calls_per_second`` apart, handed out in order across processes.
        """
        if not self.calls_per_second:
            return 0.0
        interval = 1.0 / self.calls_per_second

        def update(db, row):
            now = self._clock()
            slot = max(now, row["next_slot"] if row else 0.0)
            self._set(db, next_slot=slot + interval)
            return slot - now

        wait = self._transaction(update)
        if wait > 0:
            (self._sleep or time.sleep)(wait)
        return wait

    def stop(self, reason: str) -> None:
        """Stop the service for every process of this run (first reason wins)."""

        def update(db, row):
            if not (row and row["stopped"]):
                self._set(db, stopped=reason)

        self._transaction(update)

    def stopped_reason(self) -> str | None:
        return self._transaction(lambda db, row: row["stopped"] if row else None)

    def calls_used(self) -> int:
        return self._transaction(lambda db, row: row["calls"] if row else 0)
