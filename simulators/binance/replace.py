"""POST /api/v3/order/cancelReplace: cancel an order and place a new one on the same symbol.

rest-api.md: filters and the order count are evaluated before anything is canceled (a refusal
there is a plain error and touches nothing; the order counts even when the new order is never
attempted). Then the cancel; with STOP_ON_FAILURE a failed cancel stops there, with
ALLOW_FAILURE the new order is attempted anyway. One half failing is -2021 (HTTP 409), both
failing (or the cancel under STOP_ON_FAILURE) -2022, each with `data` telling the halves."""

from __future__ import annotations

from typing import Any

from simulators.binance.placing import draft, place
from simulators.binance.trading import cancel, cancel_restrictions, engine_client_id
from simulators.binance.venue import BinanceVenue
from simulators.binance.wire import BinanceError, Params

Json = dict[str, Any]
_MODES = ("STOP_ON_FAILURE", "ALLOW_FAILURE")


def _error_json(exc: BinanceError) -> Json:
    return {"code": exc.code, "msg": exc.msg}


def cancel_replace(venue: BinanceVenue, account: str, params: Params) -> Json:
    mode = params.require("cancelReplaceMode")
    cancel_order_id = params.integer("cancelOrderId", low=0)
    cancel_client_id = params.client_order_id("cancelOrigClientOrderId")
    cancel_id = params.client_order_id("cancelNewClientOrderId")
    restrictions = cancel_restrictions(params)
    new = draft(venue, params)  # reads the new order's parameters, then checks them all
    if mode not in _MODES:
        raise BinanceError(
            -1100,
            "Illegal characters found in parameter 'cancelReplaceMode'; legal range is "
            f"'{', '.join(_MODES)}'.",
        )
    if cancel_order_id is None and cancel_client_id is None:
        raise BinanceError(
            -1102,
            "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, "
            "but both were empty/null!",
        )
    venue.order_counter.charge(account, venue.server_time())
    # cancelOrderId takes precedence over cancelOrigClientOrderId.
    if cancel_order_id is not None:
        order_id, client_id = str(cancel_order_id), None
    else:
        assert cancel_client_id is not None
        order_id, client_id = None, engine_client_id(cancel_client_id)
    symbol = new.config.domain_symbol
    try:
        canceled: Json = cancel(
            venue, account, symbol, order_id, client_id, cancel_id, restrictions
        )
        cancel_ok = True
    except BinanceError as exc:
        canceled, cancel_ok = _error_json(exc), False
    if not cancel_ok and mode == "STOP_ON_FAILURE":
        raise _failed(-2022, canceled, None, "NOT_ATTEMPTED")
    try:
        placed: Json = place(venue, account, new)
        new_ok = True
    except BinanceError as exc:
        placed, new_ok = _error_json(exc), False
    if cancel_ok and new_ok:
        return {
            "cancelResult": "SUCCESS",
            "newOrderResult": "SUCCESS",
            "cancelResponse": canceled,
            "newOrderResponse": placed,
        }
    raise _failed(
        -2021 if cancel_ok or new_ok else -2022,
        canceled,
        placed,
        "SUCCESS" if new_ok else "FAILURE",
        cancel_ok=cancel_ok,
    )


def _failed(
    code: int,
    canceled: Json,
    placed: Json | None,
    new_result: str,
    *,
    cancel_ok: bool = False,
) -> BinanceError:
    partial = code == -2021
    return BinanceError(
        code,
        "Order cancel-replace partially failed." if partial else "Order cancel-replace failed.",
        status=409 if partial else 400,  # rest-api.md: 409 when cancelReplace partly succeeds
        data={
            "cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
            "newOrderResult": new_result,
            "cancelResponse": canceled,
            "newOrderResponse": placed,
        },
    )
