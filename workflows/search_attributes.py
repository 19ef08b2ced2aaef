"""The custom search attributes of our workflows, so support finds any user's bots in the Web UI
(`CrypterasUserId = "<user id>"`, `CrypterasBotStatus = "paused"`). A name is in every indexed
workflow: never rename one, add a new one. Workers register them at start
(`adapters.temporal.ensure_search_attributes`); `crypteras up` and the tests' dev servers are
started with them too."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from activities.bot_models import BotRef
from domain.bots.state import BotStatus

USER_ID = SearchAttributeKey.for_keyword("CrypterasUserId")
BOT_KIND = SearchAttributeKey.for_keyword("CrypterasBotKind")
VENUE = SearchAttributeKey.for_keyword("CrypterasVenue")
SYMBOL = SearchAttributeKey.for_keyword("CrypterasSymbol")
BOT_STATUS = SearchAttributeKey.for_keyword("CrypterasBotStatus")

# All keywords (exact match, as support searches an id).
SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[str], ...] = (
    USER_ID,
    BOT_KIND,
    VENUE,
    SYMBOL,
    BOT_STATUS,
)


def bot_search_attributes(bot: BotRef, status: BotStatus) -> TypedSearchAttributes:
    """What a bot's workflow is started with (and upserts `BOT_STATUS` from when it changes)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(USER_ID, str(bot.user_id)),
            SearchAttributePair(BOT_KIND, bot.kind.value),
            SearchAttributePair(VENUE, bot.venue.value),
            SearchAttributePair(SYMBOL, bot.symbol),
            SearchAttributePair(BOT_STATUS, status.value),
        ]
    )


def dev_server_args() -> list[str]:
    """`temporal server start-dev` options that define them at the server's start."""
    args: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        args += ["--search-attribute", f"{key.name}=Keyword"]
    return args
