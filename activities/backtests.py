"""Running a backtest a user asked for through the API (run by BacktestWorkflow): the venue's
candles downloaded into the shared cache (`backtest.data`), the backtest run off the event
loop, its summary and result stored with the request. Idempotent: a backtest no longer pending
is left as it is, and a run is pure, so an attempt cut short is simply run again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.bots import exchange_failure
from adapters.db.backtests import BacktestStatus, BacktestStore
from adapters.exchanges.errors import ExchangeError
from adapters.exchanges.factory import ExchangeFactory
from backtest.candles import CandleDataError
from backtest.data import download
from backtest.report import report
from backtest.runner import Backtest, BacktestMarket
from domain.bots.kinds import parse_config
from domain.bots.state import BotKind
from domain.market import Venue

MAX_ORDERS = 5000  # kept with the result, the newest; the summary counts them all


class FailedBacktest(BaseModel):
    backtest_id: uuid.UUID
    reason: str


class BacktestActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        exchanges: ExchangeFactory,
        data_dir: Path,
    ) -> None:
        self.sessions = sessions
        self.exchanges = exchanges
        self.data_dir = data_dir

    @activity.defn
    async def run_backtest(self, backtest_id: uuid.UUID) -> None:
        async with self.sessions() as session:
            asked = await BacktestStore(session).by_id(backtest_id)
        if asked is None:  # the request that asked may not have committed yet: retried
            raise ApplicationError(f"no backtest {backtest_id} yet", type="BacktestNotFound")
        if asked.status != BacktestStatus.PENDING:
            return
        kind = BotKind(asked.kind)
        try:
            async with self.exchanges.connect(Venue(asked.venue), retry=False) as venue:
                rules = await venue.market_rules(asked.symbol)
                candles = await download(
                    venue, asked.symbol, asked.timeframe, asked.period_from, asked.period_to,
                    self.data_dir, progress=lambda _: activity.heartbeat(),
                )  # fmt: skip
        except CandleDataError as error:
            raise ApplicationError(str(error), type="NoCandles", non_retryable=True) from None
        except ExchangeError as error:
            raise exchange_failure(error) from None
        run = Backtest(kind, parse_config(kind, asked.config), candles, BacktestMarket(rules))
        made = await asyncio.to_thread(_run, run)
        orders = made["orders"]
        result = {
            "equity": made["equity"],
            "trades": made["trades"],
            "orders": orders[-MAX_ORDERS:],
            "orders_total": len(orders),
        }
        async with self.sessions() as session:
            await BacktestStore(session).finish(
                backtest_id, datetime.now(UTC), summary=made["summary"], result=result
            )
            await session.commit()

    @activity.defn
    async def fail_backtest(self, failed: FailedBacktest) -> None:
        async with self.sessions() as session:
            await BacktestStore(session).finish(
                failed.backtest_id, datetime.now(UTC), error=failed.reason
            )
            await session.commit()


def _run(backtest: Backtest) -> dict[str, Any]:
    """On a thread of its own: the CPU-bound run leaves the worker's event loop free."""
    asyncio.run(backtest.run())
    return report(backtest)
