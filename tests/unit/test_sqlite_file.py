"""The local SQLite database is private to its owner (issue 8, item 16)."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from adapters.db.engine import create_engine


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_database_and_its_folder_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "state" / "crypteras.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        await conn.execute(text("INSERT INTO t VALUES (1)"))
        assert mode(path) == 0o600
        assert mode(path.parent) == 0o700
        wal = path.with_name(path.name + "-wal")
        assert wal.exists() and mode(wal) == 0o600  # SQLite copies the database's mode
    await engine.dispose()
