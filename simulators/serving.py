"""Serving a simulator in a background thread, for tests and harnesses."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from types import TracebackType
from typing import Literal, Self

import uvicorn
from fastapi import FastAPI


class ThreadedServer:
    """uvicorn on a loopback socket that already listens before the thread starts: early
    requests wait in the backlog, so nobody polls for readiness. With `lifespan="on"` the app's
    startup work (e.g. a webhook deliverer) runs in the server's own event loop."""

    def __init__(
        self, app: FastAPI, *, name: str = "sim", lifespan: Literal["on", "off"] = "off"
    ) -> None:
        self.app = app
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)
        self.port: int = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan=lifespan, timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._socket])),
            name=f"{name}-{self.port}",
            daemon=True,
        )

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# `crypteras up` reads this line from a simulator's log to learn the port it bound.
LISTENING = re.compile(r"simulator listening on http://\S+:(\d+)$", re.MULTILINE)


def serve(app: FastAPI, *, host: str, port: int, name: str) -> None:
    """Serve until SIGINT/SIGTERM on `port`, 0 meaning any free one. The socket is bound here,
    before uvicorn starts, and the port it got is printed: whoever started the process learns
    the real port without picking a free one first and racing others to bind it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn itself binds
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise SystemExit(
            f"crypteras: the {name} simulator cannot listen on {host}:{port}: {exc.strerror}"
        ) from None
    sock.listen(2048)
    print(f"{name} simulator listening on http://{host}:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="info")).run(sockets=[sock])
