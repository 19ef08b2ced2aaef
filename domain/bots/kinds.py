"""Each bot kind's config, as its user writes it, and what it means to the engine: one place
that knows which model a kind takes (the API on creation and reads, the workflow's Update)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.bots.candle import CandleBotConfig
from domain.bots.config import SmartBotConfig
from domain.bots.dca import DcaBotConfig
from domain.bots.state import BotKind

__all__ = ["KindConfig", "engine_config", "parse_config"]

KindConfig = SmartBotConfig | DcaBotConfig | CandleBotConfig
_MODELS: dict[BotKind, type[KindConfig]] = {
    BotKind.SMART: SmartBotConfig,
    BotKind.DCA: DcaBotConfig,
    BotKind.CANDLE: CandleBotConfig,
}


def parse_config(kind: BotKind, raw: Mapping[str, Any]) -> KindConfig:
    """The kind's config from `raw` (pydantic's ValidationError names each refused field)."""
    return _MODELS[kind].model_validate(raw)


def engine_config(config: KindConfig) -> SmartBotConfig:
    return config if isinstance(config, SmartBotConfig) else config.engine()
