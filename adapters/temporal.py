"""The Temporal client every process uses: one namespace, pydantic payloads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from adapters.settings import Settings
from workflows.search_attributes import SEARCH_ATTRIBUTES


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


class SearchAttributeConflict(Exception):
    """The namespace defines one of our search attributes with another type."""


async def ensure_search_attributes(
    client: Client, keys: Sequence[SearchAttributeKey[Any]] = SEARCH_ATTRIBUTES
) -> None:
    """Register the search attributes the namespace lacks (idempotent: every worker calls it at
    start). A workflow started with an undefined attribute is refused, so this comes first."""
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    defined = dict(listed.custom_attributes)
    missing: dict[str, IndexedValueType.ValueType] = {}
    for key in keys:
        wanted = IndexedValueType.ValueType(key.indexed_value_type)
        if key.name not in defined:
            missing[key.name] = wanted
        elif defined[key.name] != wanted:
            raise SearchAttributeConflict(
                f"search attribute {key.name} is a {IndexedValueType.Name(defined[key.name])} "
                f"in namespace {client.namespace}, not a {IndexedValueType.Name(wanted)}"
            )
    if not missing:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    except RPCError as exc:
        # Another worker starting at the same moment registered them first.
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
