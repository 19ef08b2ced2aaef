"""Temporal workflow definitions. Constants shared by workers, the API and tests live here."""

from enum import StrEnum


class TaskQueue(StrEnum):
    """Task queues by subsystem; a worker polls the ones it serves."""

    ACCOUNTS = "accounts"
    MAINTENANCE = "maintenance"
