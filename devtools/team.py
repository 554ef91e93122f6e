"""Team mode, locally: PostgreSQL in a folder and `mlflow server` on it with proxied artifacts.

A team shares one tracking server: runs, metrics and the model registry live in PostgreSQL,
artifacts go through the server to its `--artifacts-destination` (S3 in production), and
clients only know the server's URL. This module brings the same shape up on loopback, in a
folder, for trying it out (`python -m scripts.team_server`) and for tests; production points
`mlflow server` at a managed database instead (docs: team mode).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.postgres import Cluster, import_psycopg, postgres_cluster
from devtools.servers import LOOPBACK, Server, mlflow_server

log = logging.getLogger(__name__)

# psycopg 3: SQLAlchemy's plain `postgresql://` would look for psycopg2 instead.
DRIVER = "postgresql+psycopg"
DATABASE = "mlflow"
ROLE = "mlflow"


@dataclass(frozen=True)
class Database:
    """A database and the login role the tracking server uses it as."""

    host: str
    port: int
    name: str
    user: str
    password: str

    @property
    def uri(self) -> str:
        """The SQLAlchemy URI `mlflow server --backend-store-uri` takes."""
        password = urllib.parse.quote(self.password, safe="")
        return f"{DRIVER}://{self.user}:{password}@{self.host}:{self.port}/{self.name}"

    def connect(self) -> Any:
        """A psycopg connection as the database's own role, the one the server logs in as."""
        return import_psycopg().connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.name,
        )


def ensure_database(cluster: Cluster, name: str = DATABASE, user: str = ROLE) -> Database:
    """Database `name` owned by login role `user`, created if missing, with a fresh password.

    A new password on every start means the role's password is never written down: only
    the tracking server gets it, and clients talk to the server.
    """
    import_psycopg()
    from psycopg import sql

    password = secrets.token_urlsafe(24)
    with cluster.connect() as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [user]).fetchone()
        # Utility statements take no bound parameters: quote the names and the password.
        conn.execute(
            sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(
                sql.SQL("ALTER" if exists else "CREATE"),
                sql.Identifier(user),
                sql.Literal(password),
            )
        )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(user)
                )
            )
    return Database(LOOPBACK, cluster.port, name, user, password)


@dataclass(frozen=True)
class TeamServer:
    """A running local team server: what clients need and what the banner shows."""

    url: str  # what clients set MLFLOW_TRACKING_URI to
    database: Database
    artifacts_destination: str
    server: Server


@contextlib.contextmanager
def local_team_server(
    workdir: Path,
    cluster_dir: Path | None = None,
    artifacts_destination: str | None = None,
    port: int | None = None,
    timeout_s: float = 180,
) -> Iterator[TeamServer]:
    """PostgreSQL + `mlflow server` with proxied artifacts, up and healthy; both stopped on exit.

    `cluster_dir` defaults to `workdir/postgres`, artifacts to `workdir/mlartifacts`, the
    port to a free one. Only loopback listens.
    """
    artifacts = artifacts_destination or (workdir / "mlartifacts").resolve().as_uri()
    with postgres_cluster(cluster_dir or workdir / "postgres") as cluster:
        database = ensure_database(cluster)
        with mlflow_server(database.uri, workdir, artifacts, port=port) as server:
            # The first start creates MLflow's tables in PostgreSQL: slower than later ones.
            url = server.wait_until_up(timeout_s)
            log.info("MLflow server %s, artifacts in %s", url, artifacts)
            yield TeamServer(url, database, artifacts, server)
