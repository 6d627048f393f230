"""PostgreSQL helpers the benchmarks share: each loads its data into a schema of its own and drops it after."""

from __future__ import annotations


async def drop_schema(dsn: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
