"""A simulator's state kept in one file, so a restarted simulator goes on where it stopped: the
objects it created, the webhooks it has still to deliver.

The state is pickled — every type (Decimal, datetime, dataclasses) comes back exact — and the
file is replaced atomically (a temporary file, then a rename), so a simulator killed while
writing leaves the previous snapshot. The file is the simulator's own, written and read only by
it, never taken from anyone else: unpickling it trusts nothing it did not write."""

from __future__ import annotations

import os
import pickle
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response


class SnapshotFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Any | None:
        """The last state saved, or None before the first save."""
        if not self.path.exists():
            return None
        with self.path.open("rb") as f:
            return pickle.load(f)  # our own file (module docstring)

    def save(self, state: Any) -> None:
        partial = self.path.with_name(self.path.name + ".partial")
        with partial.open("wb") as f:
            pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, self.path)


def save_after_changes(app: FastAPI, save: Callable[[], None]) -> None:
    """Save after every request that may change state, before its answer leaves: what a client
    was told happened survives a kill -9 that follows."""

    @app.middleware("http")
    async def snapshot(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            save()
        return response
