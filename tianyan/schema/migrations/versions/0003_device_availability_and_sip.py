"""device availability, SIP registrations, credentials, positions, alarms

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

Existing devices and cameras start offline (nothing has been heard from them yet) and existing devices
report their channels as class 1 on the police network until an administrator says otherwise.
"""

import sqlalchemy as sa
from alembic import op

import tianyan.db.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("channel_gb_id", sa.String(length=20), nullable=False),
        sa.Column("at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("method", sa.Integer(), nullable=True),
        sa.Column("alarm_type", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_alarms_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_alarms")),
    )
    with op.batch_alter_table("device_alarms", schema=None) as batch_op:
        batch_op.create_index("ix_device_alarms_device_at", ["device_id", "at"], unique=False)

    op.create_table(
        "device_credentials",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("realm", sa.String(length=64), nullable=False),
        sa.Column("ha1_md5", sa.String(length=32), nullable=False),
        sa.Column("ha1_sha256", sa.String(length=64), nullable=False),
        sa.Column("updated_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_credentials_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_credentials")),
    )
    op.create_table(
        "mobile_positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("channel_gb_id", sa.String(length=20), nullable=False),
        sa.Column("at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=True),
        sa.Column("direction_deg", sa.Float(), nullable=True),
        sa.Column("altitude_m", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_mobile_positions_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobile_positions")),
    )
    with op.batch_alter_table("mobile_positions", schema=None) as batch_op:
        batch_op.create_index("ix_mobile_positions_device_at", ["device_id", "at"], unique=False)

    op.create_table(
        "sip_registrations",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("contact", sa.String(length=300), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("registered_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_keepalive_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_sip_registrations_device_id_devices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_sip_registrations")),
    )
    with op.batch_alter_table("sip_registrations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sip_registrations_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "availability_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name=op.f("fk_availability_transitions_camera_id_cameras"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_availability_transitions_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_transitions")),
    )
    with op.batch_alter_table("availability_transitions", schema=None) as batch_op:
        batch_op.create_index("ix_availability_transitions_camera_at", ["camera_id", "at"], unique=False)
        batch_op.create_index("ix_availability_transitions_device_at", ["device_id", "at"], unique=False)

    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_status", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("online", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("ptz_type", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_cameras_online"), ["online"], unique=False)

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("online", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("online_changed_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("channel_class", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("channel_network", sa.String(length=8), nullable=False, server_default="police"))
        batch_op.create_index(batch_op.f("ix_devices_online"), ["online"], unique=False)
        batch_op.create_check_constraint("channel_class", "channel_class IN (1, 2, 3)")
        batch_op.create_check_constraint("channel_network", "channel_network IN ('police','social','local')")


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_constraint("channel_network", type_="check")
        batch_op.drop_constraint("channel_class", type_="check")
        batch_op.drop_index(batch_op.f("ix_devices_online"))
        batch_op.drop_column("channel_network")
        batch_op.drop_column("channel_class")
        batch_op.drop_column("online_changed_at")
        batch_op.drop_column("online")

    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cameras_online"))
        batch_op.drop_column("ptz_type")
        batch_op.drop_column("online")
        batch_op.drop_column("channel_status")

    with op.batch_alter_table("availability_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_availability_transitions_device_at")
        batch_op.drop_index("ix_availability_transitions_camera_at")

    op.drop_table("availability_transitions")
    with op.batch_alter_table("sip_registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sip_registrations_expires_at"))

    op.drop_table("sip_registrations")
    with op.batch_alter_table("mobile_positions", schema=None) as batch_op:
        batch_op.drop_index("ix_mobile_positions_device_at")

    op.drop_table("mobile_positions")
    op.drop_table("device_credentials")
    with op.batch_alter_table("device_alarms", schema=None) as batch_op:
        batch_op.drop_index("ix_device_alarms_device_at")

    op.drop_table("device_alarms")
