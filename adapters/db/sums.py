"""SQL functions the dashboard aggregates with, the same on PostgreSQL and SQLite.

`exact_sum`: SQL's SUM of an amount column, exact on both databases.

PostgreSQL sums NUMERIC exactly. SQLite keeps amounts as text (`models_bots.Amount`) and its
SUM would read them as floats, so there the column's values are joined by `group_concat` and
added as Decimals by `decimal_total`, a function each SQLite connection registers
(adapters/db/engine.py): still one aggregate in the database, grouped by the query."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from adapters.db.models_bots import Amount


class exact_sum(FunctionElement[Decimal]):
    type = Amount()
    inherit_cache = True
    name = "exact_sum"


@compiles(exact_sum)
def _sum(element: exact_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"sum({compiler.process(element.clauses, **kw)})"


@compiles(exact_sum, "sqlite")
def _sqlite_sum(element: exact_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"decimal_total(group_concat({compiler.process(element.clauses, **kw)}, ','))"


class hour_bucket(FunctionElement[str]):
    """The start of the hour (`unit` "hour") or day ("day") a time falls in, as ISO text
    (`YYYY-MM-DD HH:00:00`): the same on both databases, so the caller parses one format."""

    type = String()
    inherit_cache = True
    name = "hour_bucket"


@compiles(hour_bucket)
def _bucket(element: hour_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    unit, column = (compiler.process(c, **kw) for c in element.clauses)
    return f"to_char(date_trunc({unit}, {column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:00:00')"


@compiles(hour_bucket, "sqlite")
def _sqlite_bucket(element: hour_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    unit, column = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"CASE {unit} WHEN 'day' THEN strftime('%Y-%m-%d 00:00:00', {column}) "
        f"ELSE strftime('%Y-%m-%d %H:00:00', {column}) END"
    )


class held_seconds(FunctionElement[float]):
    """Seconds from `opened` to `closed` (two time columns)."""

    type = Float()
    inherit_cache = True
    name = "held_seconds"


@compiles(held_seconds)
def _held(element: held_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    opened, closed = (compiler.process(c, **kw) for c in element.clauses)
    return f"extract(epoch from ({closed} - {opened}))"


@compiles(held_seconds, "sqlite")
def _sqlite_held(element: held_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    opened, closed = (compiler.process(c, **kw) for c in element.clauses)
    return f"(julianday({closed}) - julianday({opened})) * 86400.0"
