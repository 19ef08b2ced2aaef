"""Mercado Bitcoin API v4 adapter: `transport` (token, account, limits, errors), `wire` (rows
<-> our vocabulary), `exchange` (the `Exchange` port)."""

from adapters.exchanges.mercado_bitcoin.exchange import MercadoBitcoinExchange
from adapters.exchanges.mercado_bitcoin.transport import MB_BASE_URL, ClientLimits, Window
from adapters.exchanges.mercado_bitcoin.wire import body as _body
from adapters.exchanges.mercado_bitcoin.wire import order_fields as _order_fields
from adapters.exchanges.mercado_bitcoin.wire import rules_from_columns as _rules_from_columns

__all__ = [
    "MB_BASE_URL",
    "ClientLimits",
    "MercadoBitcoinExchange",
    "Window",
    "_body",
    "_order_fields",
    "_rules_from_columns",
]
