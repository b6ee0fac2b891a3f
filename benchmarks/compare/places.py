"""Where `make compare` keeps its data: apart from the tests and from other users.

PostgreSQL: the database ``tb_compare`` (``$COMPARE_POSTGRES_DB``), dropped and made
anew for every case. Redis: the database number ``$COMPARE_REDIS_DB`` (13) of the run's
own server (benchmarks/compare/private_redis.py) or, with ``--shared-redis``, of the
shared one, emptied with FLUSHDB before every case and at the end; the tests use
database 0 and nothing here touches another number. SQLite: a temporary folder per
case (``$COMPARE_SQLITE_DIR``).
The harness sets these variables for the producer and worker processes it starts.
"""

from __future__ import annotations

import os

PG_HOST = os.environ.get("COMPARE_POSTGRES_HOST", "postgres@127.0.0.1:5432")
PG_DB = os.environ.get("COMPARE_POSTGRES_DB", "tb_compare")
PG_ADMIN_URL = f"postgresql://{PG_HOST}/postgres"  # where the database is made
PG_URL = f"postgresql://{PG_HOST}/{PG_DB}"
REDIS_DB = int(os.environ.get("COMPARE_REDIS_DB", "13"))
REDIS_URL = f"redis://{os.environ.get('COMPARE_REDIS_HOST', '127.0.0.1:6379')}/{REDIS_DB}"
REDIS_PID: int | None = None  # the run's own redis-server, when it has one


def use_redis(host: str, pid: int | None) -> None:
    """Point this process and those it starts at the Redis server ``host`` (``pid``: the
    run's own server, whose CPU alone is then counted)."""
    global REDIS_URL, REDIS_PID
    os.environ["COMPARE_REDIS_HOST"] = host
    REDIS_URL = f"redis://{host}/{REDIS_DB}"
    REDIS_PID = pid
STORE = os.environ.get("COMPARE_STORE", "")  # postgres, redis or sqlite
HANDLER = os.environ.get("COMPARE_HANDLER", "sync")  # sync or async


def sqlite_path(name: str) -> str:
    """The path of the SQLite file ``name`` in this case's folder."""
    folder = os.environ.get("COMPARE_SQLITE_DIR")
    if not folder:
        raise RuntimeError("COMPARE_SQLITE_DIR is not set: run through python -m "
                           "benchmarks.compare, which makes a folder per case")
    return os.path.join(folder, name)
