"""The web app at /app: the files `scripts/web.sh` built into web/dist, served by the API
itself so the app works offline and under the strict CSP of api.middleware. Every path that is
not a built file answers the app's index.html, where the app's router takes over (a reload of
/app/bots/… lands on the right page). Without a build, /app says how to make one."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from adapters.settings import Settings
from api.errors import ApiError

REPOSITORY_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
# Vite names every asset by its content hash: a file there never changes.
_IMMUTABLE = {"cache-control": "public, max-age=31536000, immutable"}

NOT_BUILT = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width,initial-scale=1">'
    "<title>Web app not built · Crypteras</title></head><body>"
    "<h1>The web app is not built</h1>"
    "<p>Build it with <code>scripts/web.sh</code> (<code>scripts/up.sh</code> does it for you); "
    "it needs Node.js 20.19 or newer. The API is running: "
    '<a href="/docs">API documentation</a>.</p></body></html>'
)


def webapp_router(settings: Settings) -> APIRouter:
    dist = (Path(settings.web_dist_dir) if settings.web_dist_dir else REPOSITORY_DIST).resolve()
    router = APIRouter(include_in_schema=False)

    @router.get("/app", response_class=HTMLResponse)
    @router.get("/app/{path:path}", response_class=HTMLResponse)
    async def web_app(path: str = "") -> Response:
        index = dist / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503)
        if path.startswith("assets/"):
            asset = (dist / path).resolve()
            # `resolve` folds any `..`: only files inside the build are served.
            if asset.is_relative_to(dist / "assets") and asset.is_file():
                return FileResponse(asset, headers=_IMMUTABLE)
            raise ApiError(404, "not_found", "The web app has no such file.")
        return FileResponse(index)

    return router
