"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 14:42:40.421389
"""

import sqlalchemy as sa
from alembic import op

import tianyan.db.base

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_target"), ["target"], unique=False)

    op.create_table(
        "regions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("locally_assigned", sa.Boolean(), nullable=False),
        sa.CheckConstraint("level IN ('province','city','county','station')", name=op.f("ck_regions_level")),
        sa.ForeignKeyConstraint(["parent_id"], ["regions.id"], name=op.f("fk_regions_parent_id_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions")),
        sa.UniqueConstraint("code", name=op.f("uq_regions_code")),
    )
    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_regions_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_regions_path"), ["path"], unique=False)

    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("sector_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("kind IN ('police_unit','sector','owning_unit')", name=op.f("ck_organisations_kind")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["organisations.id"], name=op.f("fk_organisations_parent_id_organisations")
        ),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_organisations_region_id_regions")),
        sa.ForeignKeyConstraint(
            ["sector_id"], ["organisations.id"], name=op.f("fk_organisations_sector_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("code", name=op.f("uq_organisations_code")),
    )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organisations_region_id"), ["region_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_organisations_sector_id"), ["sector_id"], unique=False)

    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gb_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type_code", sa.String(length=3), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("owning_unit_id", sa.Integer(), nullable=True),
        sa.Column("manufacturer", sa.String(length=100), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("firmware", sa.String(length=100), nullable=True),
        sa.Column("approval", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("approval IN ('approved','pending','rejected')", name=op.f("ck_devices_approval")),
        sa.ForeignKeyConstraint(
            ["owning_unit_id"], ["organisations.id"], name=op.f("fk_devices_owning_unit_id_organisations")
        ),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_devices_region_id_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("gb_id", name=op.f("uq_devices_gb_id")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_region_id"), ["region_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", tianyan.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("all_regions", sa.Boolean(), nullable=False),
        sa.Column("scope_regions", sa.JSON(), nullable=False),
        sa.Column("scope_networks", sa.JSON(), nullable=False),
        sa.Column("scope_classes", sa.JSON(), nullable=False),
        sa.Column("sector_id", sa.Integer(), nullable=True),
        sa.Column("password_changed_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin','operator','analyst','maintainer','industry','auditor')", name=op.f("ck_users_role")
        ),
        sa.ForeignKeyConstraint(["sector_id"], ["organisations.id"], name=op.f("fk_users_sector_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("created_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False)

    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gb_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("class", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=8), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("owning_unit_id", sa.Integer(), nullable=True),
        sa.Column("sector_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("main_width", sa.Integer(), nullable=True),
        sa.Column("main_height", sa.Integer(), nullable=True),
        sa.Column("main_fps", sa.Float(), nullable=True),
        sa.Column("sub_width", sa.Integer(), nullable=True),
        sa.Column("sub_height", sa.Integer(), nullable=True),
        sa.Column("sub_fps", sa.Float(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("install_date", sa.Date(), nullable=True),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("networked", sa.Boolean(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("created_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('fixed','ptz','checkpoint','vehicle','bus','other')", name=op.f("ck_cameras_kind")
        ),
        sa.CheckConstraint("network IN ('police','social','local')", name=op.f("ck_cameras_network")),
        sa.CheckConstraint('"class" IN (1, 2, 3)', name=op.f("ck_cameras_class")),
        sa.CheckConstraint("retention_days IS NULL OR retention_days > 0", name=op.f("ck_cameras_retention_days")),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_cameras_device_id_devices"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["owning_unit_id"], ["organisations.id"], name=op.f("fk_cameras_owning_unit_id_organisations")
        ),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_cameras_region_id_regions")),
        sa.ForeignKeyConstraint(["sector_id"], ["organisations.id"], name=op.f("fk_cameras_sector_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("gb_id", name=op.f("uq_cameras_gb_id")),
    )
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cameras_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cameras_install_date"), ["install_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_cameras_owning_unit_id"), ["owning_unit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cameras_region_id"), ["region_id"], unique=False)
        batch_op.create_index("ix_cameras_scope", ["region_id", "network", "class"], unique=False)
        batch_op.create_index(batch_op.f("ix_cameras_sector_id"), ["sector_id"], unique=False)

    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("created_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_login_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_sessions_token_hash")),
    )
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "sensitive_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("granted_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", tianyan.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_sensitive_grants_camera_id_cameras"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sensitive_grants_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensitive_grants")),
        sa.UniqueConstraint("user_id", "camera_id", name="uq_sensitive_grants_user_camera"),
    )
    with op.batch_alter_table("sensitive_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sensitive_grants_camera_id"), ["camera_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sensitive_grants_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sensitive_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sensitive_grants_user_id"))
        batch_op.drop_index(batch_op.f("ix_sensitive_grants_camera_id"))

    op.drop_table("sensitive_grants")
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_sessions_user_id"))

    op.drop_table("login_sessions")
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cameras_sector_id"))
        batch_op.drop_index("ix_cameras_scope")
        batch_op.drop_index(batch_op.f("ix_cameras_region_id"))
        batch_op.drop_index(batch_op.f("ix_cameras_owning_unit_id"))
        batch_op.drop_index(batch_op.f("ix_cameras_install_date"))
        batch_op.drop_index(batch_op.f("ix_cameras_device_id"))

    op.drop_table("cameras")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))

    op.drop_table("api_keys")
    op.drop_table("users")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_region_id"))

    op.drop_table("devices")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisations_sector_id"))
        batch_op.drop_index(batch_op.f("ix_organisations_region_id"))

    op.drop_table("organisations")
    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_regions_path"))
        batch_op.drop_index(batch_op.f("ix_regions_parent_id"))

    op.drop_table("regions")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_target"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_actor"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
    op.drop_table("audit_head")
