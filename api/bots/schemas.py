"""What the bots API takes and answers. Amounts are decimal strings (`domain.market.Money`)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from api.validation import PlainName
from domain.bots.funds import BotFunds
from domain.bots.kinds import KindConfig
from domain.bots.risk import RiskState
from domain.bots.state import BotKind, BotStatus, Decision, PauseReason
from domain.market import Money, Venue
from domain.signals import Confidence, Reason, SignalAction

# A positive amount as decimal text, at most 20 integer and 18 fractional digits (what the order
# tables store exactly): the first significant digit before the point, or k zeros after it.
_FRACTION = "|".join(f"0{{{k}}}[1-9][0-9]{{0,{17 - k}}}" for k in range(18))
POSITIVE_DECIMAL = rf"^(?:0*[1-9][0-9]{{0,19}}(?:\.[0-9]{{1,18}})?|0*\.(?:{_FRACTION}))$"


def _decimal_text(value: object) -> object:
    if value is None:
        return value
    if not isinstance(value, str) or not re.fullmatch(POSITIVE_DECIMAL, value):
        raise ValueError('must be a positive decimal string such as "100.5"')
    return Decimal(value)


PositiveAmount = Annotated[
    Money,
    BeforeValidator(_decimal_text),
    WithJsonSchema({"type": "string", "pattern": POSITIVE_DECIMAL, "examples": ["100"]}),
]

CONFIG_DESCRIPTION = (
    "The whole configuration of the bot's kind: `SmartBotConfig` (smart), `DcaBotConfig` "
    "(dca) or `CandleBotConfig` (candle). `symbol` may be left out: it is the context's "
    "market (COIN-FIAT). Every invalid field is named in the 422's `details.fields` as "
    "`config.<field>`."
)


class BotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    context_id: uuid.UUID
    kind: BotKind = Field(
        default=BotKind.SMART,
        description="smart (every plan), dca and candle (PRO and MAX)",
    )
    name: PlainName = Field(min_length=1, max_length=120, examples=["BTC every 2 minutes"])
    config: dict[str, Any] = Field(
        description=CONFIG_DESCRIPTION,
        examples=[{"mode": "CONTINUOUS", "order_amount": "50", "allocated_balance": "1000"}],
    )


class ManualOrderBody(BaseModel):
    """A manual buy (quote to spend) or sell (base to sell). Without `amount`: the config's
    order amount for a buy, the whole position for a sell."""

    model_config = ConfigDict(extra="forbid")

    amount: PositiveAmount | None = None


def _plain(value: Decimal) -> str:
    """Exact, without the trailing zeros the ledger's sums carry ("0", not "0.00000000000")."""
    return format(value.normalize(), "f") if value else "0"


# The books' amounts as a trader reads them: the same exact values, in their shortest form.
Amount = Annotated[Decimal, PlainSerializer(_plain, return_type=str, when_used="json")]


class FundsPublic(BaseModel):
    """The bot's books: free + blocked + invested = allocated_balance + realized_profit."""

    base: str
    quote: str
    allocated_balance: Amount
    free: Amount = Field(description="quote the bot may still commit")
    blocked: Amount = Field(description="quote held by open buys")
    invested: Amount = Field(description="the position at cost, fees included")
    proceeds: Amount = Field(description="quote received from sales, net of fees")
    realized_profit: Amount
    position_quantity: Amount = Field(description="base held, what open sells block included")
    blocked_quantity: Amount = Field(description="base held by open sells")
    average_price: Amount | None = Field(description="cost per base unit; null without position")
    fees: dict[str, Amount] = Field(description="asset -> total charged")

    @classmethod
    def of(cls, funds: BotFunds) -> FundsPublic:
        return cls.model_validate(funds.model_dump(exclude={"orders"}))


class BotPublic(BaseModel):
    id: uuid.UUID
    context_id: uuid.UUID
    kind: BotKind
    name: str
    venue: Venue
    symbol: str
    status: BotStatus
    pause_reason: PauseReason | None
    pause_detail: str | None = Field(description="which trigger fired, for the user to read")
    config: KindConfig = Field(description="SmartBotConfig, DcaBotConfig or CandleBotConfig")
    funds: FundsPublic
    risk: RiskState = Field(description="circuit breaker counts, trailing peak, soft stop window")
    last_decision: Decision | None = Field(description="what the bot last did and why")
    live: bool = Field(
        description="true: the bot's running state; false: its last stored projection "
        "(the bot did not answer in time)"
    )
    created_at: datetime
    updated_at: datetime


class DcaExecution(BaseModel):
    """One purchase of a DCA bot: its cycle in its accumulation, what it spent and received."""

    order_id: uuid.UUID
    client_order_id: str
    accumulation: int | None = Field(description="the accumulation it belongs to, from 1")
    cycle: int | None = Field(description="its place in the accumulation, from 1")
    amount: Money = Field(description="quote spent, fees in quote included")
    quantity: Money = Field(description="base received")
    price: Money | None = Field(description="average fill price")
    fees: dict[str, Money] = Field(description="asset -> fee charged in it")
    status: str = Field(description="the order's status in the venue's vocabulary")
    created_at: datetime


class ExecutionList(BaseModel):
    executions: list[DcaExecution]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")


class SignalPublic(BaseModel):
    """A Candle bot's signal on one closed candle, with every rule's reason and values."""

    bot_id: uuid.UUID
    timeframe: str
    candle_open_time: datetime
    action: SignalAction
    confidence: Confidence
    close: Money = Field(description="the candle's close, exactly as the venue gave it")
    reasons: list[Reason] = Field(description="every enabled rule, voting or not")
    recorded_at: datetime


class AnalysisPublic(BaseModel):
    signal: SignalPublic | None = Field(description="null until a candle has closed")


class SignalList(BaseModel):
    signals: list[SignalPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page")
