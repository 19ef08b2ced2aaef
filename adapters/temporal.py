"""The Temporal client every process uses: one namespace, pydantic payloads."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import RPCError

from adapters.settings import Settings


async def connect(
    settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    """`lazy` defers the connection to the first call, so the API can start (and report itself
    unhealthy) while Temporal is still down."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        lazy=lazy,
        runtime=runtime,
    )


# What a call to an unreachable Temporal raises: RPCError from the service, RuntimeError from a
# lazy client's first connection attempt.
TEMPORAL_CALL_ERRORS = (RPCError, RuntimeError)
