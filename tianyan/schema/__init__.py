"""The database schema as a whole: all domains' tables together and the Alembic migrations that build them."""
