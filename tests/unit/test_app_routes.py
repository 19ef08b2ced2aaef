"""The app takes its routers' routes as they are, not through `include_router` (FastAPI walks
an included router's routes through a wrapper on every request): its OpenAPI document must be
exactly the one `include_router` gives."""

from __future__ import annotations

from adapters.settings import Settings
from api import app as api_app


def test_the_openapi_document_is_the_one_include_router_gives() -> None:
    secret = "route-test-secret-" + "x" * 32
    settings = Settings(_env_file=None, jwt_secret=secret)  # type: ignore[call-arg, arg-type]
    served = api_app.create_app(settings)
    reference = api_app.CrypterasApi(
        title=served.title, version=served.version, description=served.description
    )
    for router in api_app.routers(settings):
        reference.include_router(router)
    expected = reference.openapi()
    assert len(expected["paths"]) > 20
    assert served.openapi() == expected
