"""console: indexes for the resource tree's counts

The tree counts every camera in the user's scope per region, unit and device, online and faulty. A covering index
over the scope columns and the groupings lets both backends count 100,000 cameras from the index alone; a partial
index on the few failing diagnoses makes "is this camera's picture faulty" a small lookup.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TREE_COLUMNS = ["region_id", "network", "class", "sensitive", "online", "sector_id", "owning_unit_id", "device_id"]


def upgrade() -> None:
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.create_index("ix_cameras_tree", TREE_COLUMNS, unique=False)
    with op.batch_alter_table("vqd_latest", schema=None) as batch_op:
        batch_op.create_index(
            "ix_vqd_latest_failing",
            ["camera_id"],
            unique=False,
            sqlite_where=sa.text("ok = 0"),  # the form SQLAlchemy writes "not ok" in for SQLite
            postgresql_where=sa.text("NOT ok"),
        )


def downgrade() -> None:
    with op.batch_alter_table("vqd_latest", schema=None) as batch_op:
        batch_op.drop_index("ix_vqd_latest_failing")
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_index("ix_cameras_tree")
