"""The orders API: the orders of a user's bots, with why each was made."""
