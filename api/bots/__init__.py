"""The bots API: create, read, configure and command a user's bots."""
