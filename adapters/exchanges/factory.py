"""Builds the `Exchange` for a venue: with a user's keys, or public (market data only).

One factory per process holds one circuit breaker per venue, shared by every adapter it builds,
so a venue that is down is stopped being called for all users at once, and the one in-process
paper market.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from adapters.exchanges.base import Exchange
from adapters.exchanges.binance import BinanceExchange
from adapters.exchanges.keys import check_key_format
from adapters.exchanges.mercado_bitcoin import MercadoBitcoinExchange
from adapters.exchanges.paper import PaperMarket, build_paper_market
from adapters.exchanges.resilience import CircuitBreaker, Resilience
from adapters.settings import Settings
from domain.market import Venue

# What a new paper account starts with, so a user can try any bot at once.
PAPER_STARTING_BALANCES = {
    "BRL": Decimal(100_000),
    "USDT": Decimal(20_000),
    "BTC": Decimal(1),
    "ETH": Decimal(10),
}


class ExchangeFactory:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._breakers = {venue: CircuitBreaker(venue.value) for venue in Venue}
        self._paper: PaperMarket | None = None

    def paper_market(self) -> PaperMarket:
        if self._paper is None:
            data_dir = self._settings.paper_data_dir
            self._paper = (
                build_paper_market(data_dir=Path(data_dir)) if data_dir else build_paper_market()
            )
        return self._paper

    def connect(
        self,
        venue: Venue,
        api_key: str = "",
        api_secret: str = "",
        *,
        testnet: bool = False,
        account: str = "",
        retry: bool = True,
    ) -> Exchange:
        """An adapter for `venue`. Empty keys give a public one. `retry=False` inside Temporal
        activities, whose RetryPolicy does the retrying. `account` names the paper account.
        Raises `MalformedKey` (an `AuthError`) for keys that cannot be the venue's, before any
        network call."""
        if api_key or api_secret:
            check_key_format(venue, api_key, api_secret)
        breaker = self._breakers[venue]
        if venue is Venue.BINANCE:
            return BinanceExchange(
                api_key,
                api_secret,
                base_url=(
                    self._settings.binance_testnet_url
                    if testnet
                    else self._settings.binance_base_url
                ),
                testnet=testnet,
                breaker=breaker,
                retry=retry,
            )
        if venue is Venue.MERCADO_BITCOIN:
            return MercadoBitcoinExchange(
                api_key,
                api_secret,
                base_url=self._settings.mercadobitcoin_base_url,
                resilience=Resilience(venue.value, breaker=breaker),
                retry=retry,
            )
        market = self.paper_market()
        if account and not market.engine.balances(account):
            for asset, amount in PAPER_STARTING_BALANCES.items():
                market.engine.deposit(account, asset, amount)
        return market.exchange(account)
