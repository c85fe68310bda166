"""The whole instance at once: dropping its content and indexes (the demo's ``--reset``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import text

from kb.db import make_engine
from kb.models import Base
from kb.runtime import Tandem, open_tandem


def reset_instance(tandem: Tandem) -> Tandem:
    """Close ``tandem``, delete its database content (the SQLite files, or every table on
    another database) and its search indexes; returns the instance opened afresh."""
    settings = tandem.settings
    url = settings.database_url
    tandem.close()
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        engine = make_engine(url)
        Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
    shutil.rmtree(settings.index_dir, ignore_errors=True)
    return open_tandem(settings)
