"""Alembic environment: migrations always run on a connection handed in by tianyan.schema.migrate."""

from alembic import context

from tianyan.schema.metadata import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `tianyan db upgrade` (tianyan.schema.migrate), not bare alembic")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
