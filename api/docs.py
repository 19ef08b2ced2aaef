"""Swagger UI at /docs from the swagger-ui-bundle package: it works offline and behind strict
networks, and, with no inline script, under a Content-Security-Policy of `script-src 'self'`."""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

# What FastAPI's own docs page runs inline, as a file so the CSP needs no 'unsafe-inline'.
_INIT_JS = """\
SwaggerUIBundle({
  url: document.currentScript.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""

_PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js" data-openapi-url="{openapi_url}"></script>
</body>
</html>
"""


def serve_docs(app: FastAPI, openapi_url: str) -> None:
    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    page = _PAGE.format(title=escape(f"{app.title} — docs"), openapi_url=escape(openapi_url))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(_INIT_JS, media_type="text/javascript")
