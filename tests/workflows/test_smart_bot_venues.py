"""SmartBots on the other venues: Mercado Bitcoin's simulator and the paper venue (its accounts
in the database), each ending with funds equal to the venue's fills."""

from __future__ import annotations

import uuid
from decimal import Decimal

from adapters.credentials import CredentialService, Keys
from adapters.vault import Vault
from domain.bots.state import BotStatus
from domain.market import Side, Venue
from simulators.mercadobitcoin import RunningSim
from tests.exchanges.conftest_mercadobitcoin import MbControl
from tests.workflows.conftest import BotLab, Tally, assert_funds_match, venue_fills, venue_orders

SYMBOL = "BTC-BRL"
START = Decimal("350000")
CONTINUOUS = {
    "symbol": SYMBOL,
    "mode": "CONTINUOUS",
    "interval_seconds": 1,
    "order_amount": "100",
    "allocated_balance": "300",
    "risk": {"take_profit": {"percent": "1"}},
}


async def test_a_continuous_bot_on_mercado_bitcoin_buys_takes_profit_and_its_funds_match(
    lab: BotLab, mb_sim_session: RunningSim
) -> None:
    key, secret = f"mb-bot-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    control = MbControl(mb_sim_session, key=key)
    await control.post("/accounts", {"key": key, "secret": secret, "balances": {"BRL": "1000"}})
    await control.set_price(SYMBOL, START)
    user = await lab.user()
    vault = Vault(lab.settings.credential_keys, lab.settings.credentials_key_version)
    async with lab.sessions() as session:
        await CredentialService(session, vault, lab.exchanges).save(
            user, Venue.MERCADO_BITCOIN, Keys(key, secret), lab.now()
        )
        await session.commit()
    config = {**CONTINUOUS, "sell": {"stop_after_sell": True}}
    bot = await lab.start(user, Venue.MERCADO_BITCOIN, config)
    await bot.filled(Side.BUY, 3)
    await bot.until(lambda v: v.funds.free < Decimal(100) and v.funds.blocked == 0)
    await control.set_price(SYMBOL, START * Decimal("1.02"))  # over its take profit
    stopped = await bot.until(lambda v: v.status is BotStatus.STOPPED)
    orders = await bot.orders()
    assert [(o.side, o.status) for o in orders] == [("buy", "FILLED")] * 3 + [("sell", "FILLED")]
    assert stopped.funds.realized_profit > 0
    async with lab.exchanges.connect(Venue.MERCADO_BITCOIN, key, secret) as venue:
        at_venue = await venue_orders(venue, SYMBOL)
        fills = await venue_fills(venue, SYMBOL, {o.order_id for o in at_venue.values()})
    assert set(at_venue) == {o.client_order_id for o in orders}
    assert_funds_match(stopped.funds, Tally.of(fills, "BTC", "BRL"))
    await control.http.aclose()


async def test_a_paper_bot_buys_on_the_replayed_path_and_its_emergency_sell_matches(
    lab: BotLab,
) -> None:
    user = await lab.user()
    bot = await lab.start(user, Venue.PAPER, CONTINUOUS)
    await bot.filled(Side.BUY, 3)
    await bot.until(lambda v: v.funds.free < Decimal(100) and v.funds.blocked == 0)
    await bot.command("pause")  # no buy after the sale
    sold = await bot.command("emergency_sell")
    assert sold.funds.position_quantity < Decimal("0.00001") and sold.funds.proceeds > 0
    orders = await bot.orders()
    assert [(o.side, o.status) for o in orders] == [("buy", "FILLED")] * 3 + [("sell", "FILLED")]
    async with lab.venue(bot) as venue:
        at_venue = await venue_orders(venue, SYMBOL)
        fills = await venue_fills(venue, SYMBOL, {o.order_id for o in at_venue.values()})
    assert set(at_venue) == {o.client_order_id for o in orders}
    assert_funds_match(sold.funds, Tally.of(fills, "BTC", "BRL"))
