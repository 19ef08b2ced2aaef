"""Every recorded history, one per release at least, replays against today's workflow code
without non-determinism (docs/workflow-versioning.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.bots.feeds import AccountSyncWorkflow, MarketFeedWorkflow
from workflows.bots.smart import CandleBotWorkflow, DcaBotWorkflow, SmartBotWorkflow
from workflows.subscription import SubscriptionWorkflow

FOLDER = Path(__file__).parent / "histories"
HISTORIES = sorted(FOLDER.glob("*.json"))
# Releases whose histories must stay (record.py never deletes; this catches a hand removal).
RELEASES = ("0.1.0", "0.2.0", "0.3.0", "0.4.0", "0.5.0", "0.6.0")
# The replayer runs each history with the workflow its events name.
WORKFLOWS = [
    SubscriptionWorkflow,
    SmartBotWorkflow,
    DcaBotWorkflow,
    CandleBotWorkflow,
    MarketFeedWorkflow,
    AccountSyncWorkflow,
]


@pytest.mark.parametrize("version", RELEASES)
def test_every_release_keeps_its_history(version: str) -> None:
    assert list(FOLDER.glob(f"*-v{version}.json")), f"no history of release {version}"


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
