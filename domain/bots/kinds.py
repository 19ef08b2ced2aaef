"""Each bot kind's config, as its user writes it, and what it means to the engine: one place
that knows which model a kind takes (the API on creation and reads, the workflow's Update)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.bots.candle import CandleBotConfig
from domain.bots.config import SmartBotConfig
from domain.bots.dca import DcaBotConfig
from domain.bots.state import BotKind
from domain.plans import Feature, PlanLimits
from domain.signals import advanced_rules

__all__ = ["KIND_FEATURES", "KindConfig", "engine_config", "parse_config", "plan_refusal"]

KindConfig = SmartBotConfig | DcaBotConfig | CandleBotConfig
_MODELS: dict[BotKind, type[KindConfig]] = {
    BotKind.SMART: SmartBotConfig,
    BotKind.DCA: DcaBotConfig,
    BotKind.CANDLE: CandleBotConfig,
}


def parse_config(kind: BotKind, raw: Mapping[str, Any]) -> KindConfig:
    """The kind's config from `raw` (pydantic's ValidationError names each refused field)."""
    return _MODELS[kind].model_validate(raw)


# The plan feature each kind needs (`domain/plans.py`).
KIND_FEATURES = {
    BotKind.SMART: Feature.BASIC_SMARTBOTS,
    BotKind.CANDLE: Feature.CANDLE_BOTS,
    BotKind.DCA: Feature.DCA_BOTS,
}


def plan_refusal(plan: PlanLimits, kind: BotKind, config: KindConfig) -> str | None:
    """Why `plan` does not run this bot (its kind, or a Candle strategy's advanced rules), or
    None: what a plan change checks of every bot."""
    if not plan.allows(KIND_FEATURES[kind]):
        return f"the {plan.name} plan has no {kind} bots"
    if isinstance(config, CandleBotConfig) and not plan.allows(Feature.ADVANCED_INDICATORS):
        advanced = advanced_rules(config.strategy)
        if advanced:
            rules = ", ".join(rule.value for rule in advanced)
            return f"the {plan.name} plan has no advanced indicators ({rules})"
    return None


def engine_config(config: KindConfig) -> SmartBotConfig:
    return config if isinstance(config, SmartBotConfig) else config.engine()
