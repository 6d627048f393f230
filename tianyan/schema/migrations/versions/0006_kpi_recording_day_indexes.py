"""kpi: covering indexes on recording_days

Recording completeness sums each camera's window of days and, for trends, each day's cameras; with the figures
in the index neither reads the table, in camera order or in day order.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recording_days", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recording_days_camera_figures", ["camera_id", "day", "planned_s", "completeness"], unique=False
        )
        batch_op.create_index(
            "ix_recording_days_day_figures", ["day", "camera_id", "planned_s", "completeness"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recording_days", schema=None) as batch_op:
        batch_op.drop_index("ix_recording_days_day_figures")
        batch_op.drop_index("ix_recording_days_camera_figures")
