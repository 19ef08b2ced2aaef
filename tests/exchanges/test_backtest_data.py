"""A backtest's candles downloaded from a venue (backtest/data.py) from the Binance simulator,
which replays real ETH/BTC minute candles: what is downloaded is what the venue's klines say,
a download that stopped resumes after its last page, and the CLI backtests from the venue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.settings import get_settings
from backtest.data import cache_path, download
from tests.exchanges.conftest_binance import BinanceSim
from workers.cli import main

SYMBOL = "ETH-BTC"


def window(minutes: int) -> tuple[datetime, datetime]:
    """Closed minutes, ending an hour ago."""
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    return end - timedelta(minutes=minutes), end


class Stop(Exception):
    pass


def stop(_at: datetime) -> None:
    raise Stop  # the download is cut off after its first page


async def klines_requests(sim: BinanceSim) -> int:
    stats = await sim.stats()
    return sum(n for route, n in stats["requests"].items() if "klines" in route)


async def test_a_download_is_the_venues_klines_and_resumes_after_its_last_page(
    binance_sim: BinanceSim, tmp_path: Path
) -> None:
    start, end = window(1200)  # two pages (the simulator keeps a day of candles)
    async with binance_sim.exchange(*await binance_sim.account()) as venue:
        with pytest.raises(Stop):
            await download(venue, SYMBOL, "1m", start, end, tmp_path, progress=stop)
        before = await klines_requests(binance_sim)
        whole = await download(venue, SYMBOL, "1m", start, end, tmp_path)
        assert await klines_requests(binance_sim) - before == 1  # the second page only
        direct = await venue.candles(SYMBOL, "1m", start=start, limit=1000)
        direct += await venue.candles(SYMBOL, "1m", start=start + timedelta(minutes=1000))
        again = await download(venue, SYMBOL, "1m", start, end, tmp_path)
    assert list(whole.rows) == direct[:1200] == list(again.rows)
    assert whole.rows[0].open_time == start and whole.interval == timedelta(minutes=1)
    assert not whole.gaps() and cache_path(tmp_path, "binance", SYMBOL, "1m").is_file()


@pytest.fixture
def venue_settings(binance_sim: BinanceSim, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI's settings pointing at the simulator."""
    monkeypatch.setenv("BINANCE_BASE_URL", binance_sim.base_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_cli_backtests_on_the_venues_candles(
    venue_settings: None, tmp_path: Path, capsys: Any
) -> None:
    start, end = window(180)
    config = tmp_path / "bot.json"
    bot = {"symbol": SYMBOL, "order_amount": "0.01", "allocated_balance": "0.05"}
    config.write_text(json.dumps({**bot, "interval_seconds": 600}))
    argv = ["backtest", "--kind", "smart", "--config", str(config), "--venue", "binance"]
    span = ["--from", start.isoformat(), "--to", end.isoformat()]
    out = tmp_path / "out"
    assert main([*argv, *span, "--cache", str(tmp_path), "--output", str(out)]) == 0
    summary = json.loads((out / "report.json").read_text())["summary"]
    assert summary["candles"] == 180 and summary["orders"] == 5  # at once, then every 10 min
    # Without a period nothing can be downloaded: said plainly.
    assert main(argv) == 2
    assert "--from and --to" in capsys.readouterr().out


async def test_an_unreadable_cache_is_read_again_from_the_venue(
    binance_sim: BinanceSim, tmp_path: Path
) -> None:
    start, end = window(60)
    path = cache_path(tmp_path, "binance", SYMBOL, "1m")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not parquet")  # a crash, a full disk, another writer's half
    async with binance_sim.exchange(*await binance_sim.account()) as venue:
        got = await download(venue, SYMBOL, "1m", start, end, tmp_path)
        again = await download(venue, SYMBOL, "1m", start, end, tmp_path)
    assert len(got.rows) == 60 and got.rows == again.rows
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
