"""Alembic migrations of the Tandem schema (configured in code: see kb.db.alembic_config)."""
