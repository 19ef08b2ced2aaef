"""Binance Spot REST v3 adapter."""

from adapters.exchanges.binance.exchange import PRODUCTION_URL, TESTNET_URL, BinanceExchange

__all__ = ["PRODUCTION_URL", "TESTNET_URL", "BinanceExchange"]
