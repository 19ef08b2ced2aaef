"""Activities of a venue's order queue: a bot's placements and cancels (the queue's rate is the
venue's order rate, so nothing else runs there).

A placement is recorded with why it was made before it leaves, then sent under its client order
id: a retried attempt, or one after a lost answer, asks the venue for that id instead of
placing a second order. The venue's refusals are answers, not failures (the bot records them
and goes on); only a venue that cannot be asked makes Temporal retry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.bot_models import BotRef, CancelOrder, OrderOutcome, PlaceOrder
from activities.bots import exchange_failure
from adapters.credentials import CredentialService
from adapters.db.bots import BotStore
from adapters.db.repositories import CredentialRepository
from adapters.exchanges.base import Exchange
from adapters.exchanges.errors import (
    AuthError,
    ExchangeError,
    InsufficientBalance,
    OrderNotCancelable,
    OrderNotFound,
)
from adapters.exchanges.factory import ExchangeFactory
from adapters.vault import Vault, VaultError
from domain.market import Fill, Order, OrderRequest, OrderStatus, OrderType, Venue

__all__ = ["OrderActivities"]

log = structlog.get_logger(__name__)

# A market order is followed this long to its final status (venues fill one at once; a slow
# answer is left to the account sync), polling with a short backoff.
MARKET_FOLLOW_SECONDS = 10.0
_FIRST_POLL, _MAX_POLL = 0.2, 2.0
# Fills of an order are found among the account's latest trades of its market.
_RECENT_FILLS, _MORE_FILLS = 100, 1000


class CredentialsMissing(Exception):
    """The user has no key for the venue (deleted since the bot was made)."""


class OrderActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], vault: Vault, exchanges: ExchangeFactory
    ) -> None:
        self.sessions = sessions
        self.vault = vault
        self.exchanges = exchanges

    @activity.defn
    async def bot_place_order(self, place: PlaceOrder) -> OrderOutcome:
        bot, request = place.bot, place.request
        cid = request.client_order_id
        async with self.sessions() as session:
            # Committed before the order leaves: the record of why exists whatever follows.
            try:
                new = await BotStore(session).record_order_intent(
                    bot.bot_id,
                    request,
                    venue=bot.venue.value,
                    strategy=place.strategy,
                    creation_context=place.creation_context,
                    at=datetime.now(UTC),
                )
            except LookupError as error:
                # No such bot yet: the API starts a bot's workflow before its row commits, so a
                # first order may come first. Retried (nothing was sent); a bot whose creation
                # rolled back has its workflow terminated.
                raise ApplicationError(str(error), type="BotNotRecorded") from None
            except ValueError as error:  # another bot's client order id: never to be sent
                raise ApplicationError(
                    str(error), type="OrderNotRecorded", non_retryable=True
                ) from None
            await session.commit()
        maybe_sent = place.maybe_sent or activity.info().attempt > 1 or not new
        try:
            async with self._account(bot) as venue:
                order = await venue.create_order(request, maybe_sent=maybe_sent)
                try:
                    if request.type is OrderType.MARKET:
                        order = await _follow(venue, order)
                    fills = await _fills(venue, order)
                except ExchangeError as error:
                    # Placed: never a refusal now. The retry asks for the order by its id.
                    raise ApplicationError(error.message, type=error.type_name) from None
        except (AuthError, CredentialsMissing) as error:
            message = str(error)
            await self._refused(request, message)
            return OrderOutcome(client_order_id=cid, rejected=message, credentials_refused=True)
        except ExchangeError as error:
            if error.retryable:
                raise exchange_failure(error) from None
            await self._refused(request, error.message)
            return OrderOutcome(
                client_order_id=cid,
                rejected=error.message,
                insufficient_balance=isinstance(error, InsufficientBalance),
            )
        await self._record(order, fills)
        return OrderOutcome(client_order_id=cid, order=order, fills=fills)

    @activity.defn
    async def bot_cancel_order(self, cancel: CancelOrder) -> OrderOutcome:
        """Cancel by client order id. An order already final is answered as it is; one the
        venue does not know was never placed (recorded REJECTED, `order` None)."""
        bot, cid = cancel.bot, cancel.client_order_id
        async with self.sessions() as session:
            stored = await BotStore(session).order_by_client_id(cid)
        if stored is None or stored.bot_id != bot.bot_id:
            raise ApplicationError(
                f"no order {cid} of bot {bot.bot_id}", type="UnknownOrder", non_retryable=True
            )
        symbol = stored.symbol
        try:
            async with self._account(bot) as venue:
                try:
                    order = await venue.cancel_order(symbol, client_order_id=cid)
                except OrderNotCancelable:
                    order = await venue.get_order(symbol, client_order_id=cid)
                fills = await _fills(venue, order)
        except OrderNotFound as error:
            async with self.sessions() as session:
                await BotStore(session).record_order_state(
                    _rejected_report(cid, stored.symbol, stored.side, stored.type)
                )
                await session.commit()
            return OrderOutcome(client_order_id=cid, rejected=error.message)
        except (AuthError, CredentialsMissing) as error:
            message = str(error)
            return OrderOutcome(client_order_id=cid, rejected=message, credentials_refused=True)
        except ExchangeError as error:
            raise exchange_failure(error) from None
        await self._record(order, fills)
        return OrderOutcome(client_order_id=cid, order=order, fills=fills)

    @asynccontextmanager
    async def _account(self, bot: BotRef) -> AsyncIterator[Exchange]:
        """The bot's venue account: the user's paper account, or their key for the venue."""
        if bot.venue is Venue.PAPER:
            venue = self.exchanges.connect(bot.venue, account=str(bot.user_id), retry=False)
        else:
            async with self.sessions() as session:
                credential = await CredentialRepository(session).get(bot.user_id, bot.venue.value)
                if credential is None:
                    raise CredentialsMissing(f"no {bot.venue.value} key saved")
                try:
                    keys = CredentialService(session, self.vault, self.exchanges).keys(credential)
                except VaultError as error:
                    # A missing key version will not appear by retrying: configuration is wrong.
                    raise ApplicationError(
                        str(error), type="VaultError", non_retryable=True
                    ) from None
            venue = self.exchanges.connect(
                bot.venue, keys.api_key, keys.api_secret, testnet=keys.testnet, retry=False
            )
        async with venue:
            yield venue

    async def _record(self, order: Order, fills: list[Fill]) -> None:
        async with self.sessions() as session:
            store = BotStore(session)
            await store.record_order_state(order)
            await store.record_fills(order.client_order_id, fills)
            await session.commit()

    async def _refused(self, request: OrderRequest, message: str) -> None:
        log.info("placement refused", client_order_id=request.client_order_id, reason=message)
        async with self.sessions() as session:
            await BotStore(session).record_order_state(
                _rejected_report(
                    request.client_order_id,
                    request.symbol,
                    request.side.value,
                    request.type.value,
                    quantity=request.quantity,
                    price=request.price,
                )
            )
            await session.commit()


async def _follow(venue: Exchange, order: Order) -> Order:
    """The market order until it is final, or MARKET_FOLLOW_SECONDS have passed."""
    deadline = time.monotonic() + MARKET_FOLLOW_SECONDS
    pause = _FIRST_POLL
    while not order.status.is_final and time.monotonic() < deadline:
        await asyncio.sleep(pause)  # the venue has no event to wait on: poll, backing off
        activity.heartbeat()
        order = await venue.get_order(order.symbol, client_order_id=order.client_order_id)
        pause = min(pause * 2, _MAX_POLL)
    return order


async def _fills(venue: Exchange, order: Order) -> list[Fill]:
    """The order's trades, among the account's latest in its market."""
    if order.filled_quantity <= 0:
        return []
    for limit in (_RECENT_FILLS, _MORE_FILLS):
        recent = await venue.fills(order.symbol, limit=limit)
        fills = [fill for fill in recent if fill.order_id == order.order_id]
        if sum(f.quantity for f in fills) >= order.filled_quantity or len(recent) < limit:
            return fills
    return fills


def _rejected_report(
    cid: str,
    symbol: str,
    side: str,
    type_: str,
    *,
    quantity: Decimal | None = None,
    price: Decimal | None = None,
) -> Order:
    """A placement the venue refused (or never had), as an order report without a venue id."""
    now = datetime.now(UTC)
    return Order.model_validate(
        {
            "order_id": "",
            "client_order_id": cid,
            "symbol": symbol,
            "side": side,
            "type": type_,
            "status": OrderStatus.REJECTED,
            "quantity": quantity or Decimal(0),
            "price": price,
            "created_at": now,
            "updated_at": now,
        }
    )
