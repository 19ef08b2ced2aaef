"""The SmartBot config (each refusal at its field, defaults, per-mode fields) and the client
order ids of bot orders (stable, unique per bot and sequence, within the venues' pattern)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.bots.config import BotMode, BotOrderType, SmartBotConfig
from domain.bots.orders import (
    MAX_SEQUENCE,
    ORDER_ID_PREFIX,
    Strategy,
    bot_order_prefix,
    client_order_id,
)
from domain.bots.risk import CircuitBreakerPreset, RiskSettings
from domain.market import OrderRequest, OrderType, Side

BASE: dict[str, Any] = {"symbol": "BTC-BRL", "order_amount": "50", "allocated_balance": "1000"}
SCHEDULED: dict[str, Any] = {
    **BASE,
    "mode": "SCHEDULED",
    "cron": "0 9 * * *",
    "timezone": "America/Sao_Paulo",
}
# Binance's newClientOrderId rule (rest-api.md), also OrderRequest.client_order_id's.
BINANCE_CLIENT_ORDER_ID = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")


def refusals(data: dict[str, Any]) -> dict[tuple[str | int, ...], str]:
    with pytest.raises(ValidationError) as caught:
        SmartBotConfig.model_validate(data)
    return {tuple(error["loc"]): error["msg"] for error in caught.value.errors()}


def test_defaults() -> None:
    config = SmartBotConfig.model_validate(BASE)
    assert config.mode is BotMode.CONTINUOUS
    assert config.interval_seconds == 120
    assert config.cron is None and config.timezone is None
    assert config.dip_percent is None and config.dip_level(Decimal(100)) is None
    assert config.order_type is BotOrderType.MARKET
    assert config.limit_offset_percent == 0
    assert config.sell.cooldown_seconds == 0 and not config.sell.stop_after_sell
    assert config.risk == RiskSettings()
    assert config.risk.circuit_breaker.preset is CircuitBreakerPreset.MODERATE
    assert (config.order_amount, config.allocated_balance) == (Decimal(50), Decimal(1000))


def test_read_back_config_validates_again_unchanged() -> None:
    for data in (BASE, SCHEDULED, {**BASE, "order_type": "limit", "dip_percent": "2.5"}):
        config = SmartBotConfig.model_validate(data)
        dumped = config.model_dump(mode="json")
        assert dumped["order_amount"] == "50"  # decimals travel as strings
        assert SmartBotConfig.model_validate(dumped) == config
        assert SmartBotConfig.model_validate_json(config.model_dump_json()) == config


def test_frozen() -> None:
    config = SmartBotConfig.model_validate(BASE)
    with pytest.raises(ValidationError):
        config.order_amount = Decimal(1)  # type: ignore[misc]


def test_normalises_symbol_and_cron() -> None:
    config = SmartBotConfig.model_validate(
        {**SCHEDULED, "symbol": "eth-usdt", "cron": " 0  9 * * *"}
    )
    assert config.symbol == "ETH-USDT"
    assert config.cron == "0 9 * * *"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"symbol": "BTCBRL"}, "symbol", "must look like BTC-BRL"),
        ({"mode": "WEEKLY"}, "mode", "'CONTINUOUS', 'SCHEDULED' or 'MANUAL'"),
        ({"mode": "continuous"}, "mode", "'CONTINUOUS', 'SCHEDULED' or 'MANUAL'"),
        ({"interval_seconds": 0}, "interval_seconds", "greater than or equal to 1"),
        ({"interval_seconds": 1.5}, "interval_seconds", "integer"),
        ({"order_amount": "0"}, "order_amount", "greater than 0"),
        ({"order_amount": "-5"}, "order_amount", "greater than 0"),
        ({"order_amount": "NaN"}, "order_amount", "finite number"),
        ({"order_amount": "abc"}, "order_amount", "decimal"),
        ({"allocated_balance": "0"}, "allocated_balance", "greater than 0"),
        ({"allocated_balance": "Infinity"}, "allocated_balance", "finite number"),
        ({"allocated_balance": "49.99"}, "allocated_balance", "at least order_amount (50)"),
        ({"dip_percent": "0"}, "dip_percent", "greater than 0"),
        ({"dip_percent": "100"}, "dip_percent", "less than 100"),
        ({"order_type": "stop_loss_limit"}, "order_type", "'market' or 'limit'"),
        ({"limit_offset_percent": "-1"}, "limit_offset_percent", "greater than or equal to 0"),
        ({"cron": "0 9 * * *"}, "cron", "SCHEDULED mode only (mode is CONTINUOUS)"),
        ({"timezone": "UTC"}, "timezone", "SCHEDULED mode only (mode is CONTINUOUS)"),
        ({"mode": "MANUAL", "cron": "0 9 * * *"}, "cron", "SCHEDULED mode only (mode is MANUAL)"),
        ({"amount": "50"}, "amount", "Extra inputs are not permitted"),
    ],
)
def test_each_invalid_field_is_named(changes: dict[str, Any], field: str, message: str) -> None:
    errors = refusals({**BASE, **changes})
    assert list(errors) == [(field,)]
    assert message in errors[(field,)]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"cron": None}, "cron", "cron is required in SCHEDULED mode"),
        ({"timezone": None}, "timezone", "timezone is required in SCHEDULED mode"),
        ({"cron": "0 9 * *"}, "cron", "must have 5 fields"),
        ({"cron": "0 9 30 2 *"}, "cron", "bad day-of-month"),
        ({"cron": "* 24 * * *"}, "cron", "bad hour"),
        ({"timezone": "America/Sao Paulo"}, "timezone", "unknown time zone"),
        ({"timezone": "../../etc/passwd"}, "timezone", "unknown time zone"),
    ],
)
def test_scheduled_mode_needs_a_valid_cron_and_zone(
    changes: dict[str, Any], field: str, message: str
) -> None:
    data = {key: value for key, value in {**SCHEDULED, **changes}.items() if value is not None}
    errors = refusals(data)
    assert list(errors) == [(field,)]
    assert message in errors[(field,)]


def test_several_errors_each_at_its_place() -> None:
    errors = refusals(
        {
            "mode": "SCHEDULED",
            "order_amount": "0",
            "allocated_balance": "10",
            "risk": {"take_profit": {"percent": "-1"}, "stop_loss": {"hard_percent": "4"}},
            "sell": {"cooldown_seconds": -1},
        }
    )
    assert set(errors) == {
        ("symbol",),
        ("cron",),
        ("timezone",),
        ("order_amount",),
        ("risk", "take_profit", "percent"),
        ("risk", "stop_loss"),
        ("sell", "cooldown_seconds"),
    }
    assert "hard_percent must be deeper than soft_percent" in errors[("risk", "stop_loss")]


def test_mode_specific_fields() -> None:
    scheduled = SmartBotConfig.model_validate(SCHEDULED)
    assert (scheduled.cron, scheduled.timezone) == ("0 9 * * *", "America/Sao_Paulo")
    manual = SmartBotConfig.model_validate({**BASE, "mode": "MANUAL"})
    assert manual.mode is BotMode.MANUAL
    # The interval keeps its value outside CONTINUOUS: a config read back switches mode alone.
    assert SmartBotConfig.model_validate({**SCHEDULED, "interval_seconds": 5}).interval_seconds == 5
    assert SmartBotConfig.model_validate({**BASE, "interval_seconds": 1}).interval_seconds == 1
    limit = SmartBotConfig.model_validate(
        {**BASE, "order_type": "limit", "limit_offset_percent": "0.2"}
    )
    assert OrderType(limit.order_type) is OrderType.LIMIT
    assert limit.limit_offset_percent == Decimal("0.2")


def test_allocation_may_equal_one_order() -> None:
    config = SmartBotConfig.model_validate({**BASE, "allocated_balance": "50.00"})
    assert config.allocated_balance == config.order_amount


@pytest.mark.parametrize(
    "amount",
    ["0.0000000000000000001", "100000000000000000000", "1e20", "1.0000000000000000001"],
)
def test_amounts_the_order_tables_cannot_store_are_refused(amount: str) -> None:
    """In the model, so a config reaching the workflow by any way (an Update sent from the Web
    UI too) meets the same rule as the API's."""
    with pytest.raises(ValidationError) as caught:
        SmartBotConfig.model_validate(
            {**BASE, "order_amount": "1e-30", "allocated_balance": amount}
        )
    assert {(e["loc"], e["type"]) for e in caught.value.errors()} == {
        (("order_amount",), "amount_precision"),
        (("allocated_balance",), "amount_precision"),
    }


@pytest.mark.parametrize(
    "amount",
    ["0.000000000000000001", "99999999999999999999.999999999999999999", "5.000000000000000000000"],
)
def test_amounts_at_the_tables_bounds_are_kept_exactly(amount: str) -> None:
    config = SmartBotConfig.model_validate(
        {**BASE, "order_amount": amount, "allocated_balance": amount}
    )
    assert config.order_amount == config.allocated_balance == Decimal(amount)


def test_risk_settings_are_the_risk_models() -> None:
    config = SmartBotConfig.model_validate(
        {**BASE, "risk": {"circuit_breaker": {"preset": "aggressive"}}}
    )
    breaker = config.risk.circuit_breaker
    assert (breaker.max_consecutive_losses, breaker.max_daily_loss_percent) == (8, Decimal(15))
    errors = refusals({**BASE, "risk": {"circuit_breaker": {"preset": "aggressive", "x": 1}}})
    assert errors == {("risk", "circuit_breaker", "x"): "Extra inputs are not permitted"}


@pytest.mark.parametrize(
    ("dip", "reference", "level"),
    [("5", "100000", Decimal("95000")), ("0.5", "200", Decimal("199")), ("12.5", "8", Decimal(7))],
)
def test_dip_level(dip: str, reference: str, level: Decimal) -> None:
    config = SmartBotConfig.model_validate({**BASE, "dip_percent": dip})
    assert config.dip_level(Decimal(reference)) == level


def test_strategy_map() -> None:
    assert [s.value for s in Strategy] == ["manual", "smart", "candle", "dca"]


WORKFLOW_IDS = st.one_of(
    st.integers(min_value=1, max_value=10**12).map(lambda n: f"bot:{n}"),
    st.text(min_size=1, max_size=80),
)
SEQUENCES = st.integers(min_value=0, max_value=MAX_SEQUENCE)


@given(workflow_id=WORKFLOW_IDS, sequence=SEQUENCES)
def test_client_order_id_is_stable_and_fits_the_venues(workflow_id: str, sequence: int) -> None:
    cid = client_order_id(workflow_id, sequence)
    assert cid == client_order_id(workflow_id, sequence)
    assert BINANCE_CLIENT_ORDER_ID.fullmatch(cid)
    assert cid.startswith(ORDER_ID_PREFIX) and cid.startswith(bot_order_prefix(workflow_id))
    # The order model every venue adapter receives takes it as it is.
    request = OrderRequest(
        client_order_id=cid,
        symbol="BTC-BRL",
        side=Side.BUY,
        type=OrderType.MARKET,
        quote_quantity=Decimal(10),
    )
    assert request.client_order_id == cid


@given(workflow_id=WORKFLOW_IDS, sequences=st.lists(SEQUENCES, min_size=2, max_size=2, unique=True))
def test_one_bot_never_repeats_an_id(workflow_id: str, sequences: list[int]) -> None:
    first, second = (client_order_id(workflow_id, n) for n in sequences)
    assert first != second


@given(
    workflow_ids=st.lists(WORKFLOW_IDS, min_size=2, max_size=2, unique=True),
    sequences=st.tuples(SEQUENCES, SEQUENCES),
)
def test_two_bots_never_share_an_id(workflow_ids: list[str], sequences: tuple[int, int]) -> None:
    # Same sequence included: the bots' prefixes differ, and the "-" ends each prefix.
    first = client_order_id(workflow_ids[0], sequences[0])
    second = client_order_id(workflow_ids[1], sequences[1])
    assert first != second
    assert client_order_id(workflow_ids[1], sequences[0]) != first


def test_client_order_ids_of_one_bot_are_distinct_over_many_sequences() -> None:
    ids = {client_order_id("bot:42", n) for n in range(20_000)}
    assert len(ids) == 20_000
    bots = {bot_order_prefix(f"bot:{n}") for n in range(20_000)}
    assert len(bots) == 20_000


def test_client_order_id_values() -> None:
    # Pinned: a change here would orphan every order in doubt at deploy time.
    assert client_order_id("bot:123", 0) == "cx05e6e7124bfc6446ef52-0"
    assert client_order_id("bot:123", 36) == "cx05e6e7124bfc6446ef52-10"
    assert len(client_order_id("bot:123", MAX_SEQUENCE)) == 36


@pytest.mark.parametrize(
    ("workflow_id", "sequence"), [("", 0), ("bot:1", -1), ("bot:1", MAX_SEQUENCE + 1)]
)
def test_client_order_id_refuses_what_it_cannot_encode(workflow_id: str, sequence: int) -> None:
    with pytest.raises(ValueError):
        client_order_id(workflow_id, sequence)
