"""A network that loses answers: the request reaches the venue and is processed, then the
client sees a read timeout. The state a client timeout leaves behind (an order placed, its
answer never read), without racing a sub-second timeout against a delayed simulator."""

from __future__ import annotations

import httpx


class LoseAnswers(httpx.AsyncBaseTransport):
    """Real HTTP; the answers to the first `count` requests of `method` on a path ending in
    `path_suffix` are read, then dropped as `httpx.ReadTimeout`."""

    def __init__(self, method: str, path_suffix: str, count: int = 1) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._method, self._suffix = method, path_suffix
        self._left = count
        self.lost: list[str] = []  # the paths whose answers were lost

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        path = request.url.path
        if self._left and request.method == self._method and path.endswith(self._suffix):
            await response.aread()  # the venue answered: it has processed the request
            await response.aclose()
            self._left -= 1
            self.lost.append(path)
            raise httpx.ReadTimeout("answer lost on the way back", request=request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class CountRequests(httpx.AsyncBaseTransport):
    """Real HTTP, counting the requests sent per ``METHOD path``."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.sent: dict[str, int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = f"{request.method} {request.url.path}"
        self.sent[key] = self.sent.get(key, 0) + 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
