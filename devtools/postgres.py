"""PostgreSQL in a folder, on loopback: find its binaries, initdb, start and stop the cluster.

The database half of local team mode (`devtools.team`); as root, the cluster runs as the
unprivileged `postgres` user, as Debian's package sets it up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.servers import LOOPBACK, free_port, tail
from imdb_sentiment.errors import PipelineError

log = logging.getLogger(__name__)

PG_BIN_ENV = "PG_BIN"
# Debian keeps the server binaries (initdb, pg_ctl) out of PATH, one folder per major version.
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
PG_TOOLS = ("initdb", "pg_ctl")
INSTALL_HINT = "apt-get install postgresql"
# PostgreSQL refuses to run as root; Debian's package creates this unprivileged user.
CLUSTER_OWNER = "postgres"
SUPERUSER = "postgres"
START_TIMEOUT_S = 60


class TeamSetupError(PipelineError):
    """The local team server cannot start; the message names the fix."""


def find_pg_bin(
    environ: Mapping[str, str] | None = None, debian_root: Path = DEBIAN_PG_ROOT
) -> Path:
    """The folder holding initdb and pg_ctl: $PG_BIN, Debian's newest version, or PATH."""
    env = os.environ if environ is None else environ
    if env.get(PG_BIN_ENV):
        folder = Path(env[PG_BIN_ENV])
        if not _has_tools(folder):
            raise TeamSetupError(
                f"{PG_BIN_ENV}={folder} holds no initdb and pg_ctl: point it at PostgreSQL's"
                f" bin folder, or unset it and {INSTALL_HINT}"
            )
        return folder
    candidates = [folder / "bin" for folder in _by_version(debian_root)]
    on_path = shutil.which("pg_ctl", path=env.get("PATH"))
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if _has_tools(folder):
            return folder
    raise TeamSetupError(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found: {INSTALL_HINT}"
        f" (or set {PG_BIN_ENV} to the folder that holds them)"
    )


def _by_version(root: Path) -> list[Path]:
    """Debian's version folders (`15`, `16`, `9.6`), newest first."""
    if not root.is_dir():
        return []
    versions = [p for p in root.iterdir() if re.fullmatch(r"\d+(\.\d+)?", p.name)]
    return sorted(versions, key=lambda p: [int(n) for n in p.name.split(".")], reverse=True)


def _has_tools(folder: Path) -> bool:
    return all(os.access(folder / tool, os.X_OK) for tool in PG_TOOLS)


@dataclass(frozen=True)
class Owner:
    """The unprivileged user the cluster's processes run as when we are root."""

    name: str
    uid: int
    gid: int


def cluster_owner() -> Owner | None:
    """None: run PostgreSQL as ourselves. As root: as the `postgres` user."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(CLUSTER_OWNER)
    except KeyError:
        raise TeamSetupError(
            f"running as root and there is no {CLUSTER_OWNER!r} user to run PostgreSQL:"
            f" {INSTALL_HINT} creates it, or run as an unprivileged user"
        ) from None
    return Owner(CLUSTER_OWNER, entry.pw_uid, entry.pw_gid)


@dataclass(frozen=True)
class Cluster:
    """A running PostgreSQL server on loopback, its files in `directory`."""

    bin_dir: Path
    directory: Path
    port: int
    owner: Owner | None
    superuser_password: str

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    def connect(self, dbname: str = "postgres") -> Any:
        """A psycopg connection as the superuser, in autocommit (CREATE DATABASE needs it)."""
        psycopg = import_psycopg()
        return psycopg.connect(
            host=LOOPBACK,
            port=self.port,
            user=SUPERUSER,
            password=self.superuser_password,
            dbname=dbname,
            autocommit=True,
        )


def import_psycopg() -> Any:
    """The PostgreSQL driver, or a TeamSetupError saying how to install it."""
    try:
        import psycopg
    except ImportError:
        raise TeamSetupError(
            'psycopg (PostgreSQL driver) is not installed: pip install "psycopg[binary]"'
        ) from None
    return psycopg


def _run_as(owner: Owner | None, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool as the cluster's owner; its own session, so Ctrl-C skips it."""
    identity: dict[str, Any] = {}
    if owner is not None:
        identity = {"user": owner.uid, "group": owner.gid, "extra_groups": []}
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=START_TIMEOUT_S + 30,
        check=False,
        **identity,
    )


def prepare_directory(directory: Path, owner: Owner | None) -> None:
    """Create `directory`; as root, hand it to the owner and check that the owner can reach it."""
    directory.mkdir(parents=True, exist_ok=True)
    if owner is None:
        return
    os.chown(directory, owner.uid, owner.gid)
    if _run_as(owner, ["test", "-w", str(directory)], cwd=Path("/")).returncode != 0:
        raise TeamSetupError(
            f"{directory}: the {owner.name!r} user that runs PostgreSQL cannot write there"
            " (a parent folder is closed to it): pick a folder it can reach, e.g. under /tmp"
        )


def init_cluster(bin_dir: Path, directory: Path, owner: Owner | None) -> str:
    """initdb in `directory/data`; return the superuser's new password (also kept on disk)."""
    password = secrets.token_urlsafe(24)
    password_file = _password_file(directory)
    _write_private(password_file, password + "\n", owner)
    args = [str(bin_dir / "initdb"), "-D", str(directory / "data"), "-U", SUPERUSER]
    # Password logins only; no locale, so the cluster is the same on any machine.
    args += [f"--pwfile={password_file}", "--auth=scram-sha-256", "--no-locale", "-E", "UTF8"]
    _check(_run_as(owner, args, cwd=directory), "initdb")
    # TCP on loopback only; no Unix socket, whose path would depend on the folder's length.
    with (directory / "data" / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(f"\nlisten_addresses = '{LOOPBACK}'\nunix_socket_directories = ''\n")
    return password


def _password_file(directory: Path) -> Path:
    return directory / "superuser.password"


def _write_private(path: Path, text: str, owner: Owner | None) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)  # initdb reads it as the owner


def _check(
    result: subprocess.CompletedProcess[str], what: str, log_file: Path | None = None
) -> None:
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        if log_file is not None:
            detail += "\n" + tail(log_file)
        raise TeamSetupError(f"{what} failed ({result.returncode}): {detail}")


@contextlib.contextmanager
def postgres_cluster(
    directory: Path, port: int | None = None, bin_dir: Path | None = None
) -> Iterator[Cluster]:
    """PostgreSQL on loopback with its files in `directory`, stopped on exit, also on errors.

    A new folder gets a new cluster; a folder holding one (from an earlier call) is reused,
    with its runs and models.
    """
    bin_dir = bin_dir or find_pg_bin()
    owner = cluster_owner()
    prepare_directory(directory, owner)
    if (directory / "data" / "PG_VERSION").is_file():
        password = _password_file(directory).read_text(encoding="utf-8").strip()
    else:
        password = init_cluster(bin_dir, directory, owner)
    cluster = Cluster(bin_dir, directory, port or free_port(), owner, password)
    start = [str(bin_dir / "pg_ctl"), "start", "-D", str(cluster.data), "-l", str(cluster.log)]
    start += ["-w", "-t", str(START_TIMEOUT_S), "-o", f"-p {cluster.port}"]
    try:
        _check(_run_as(owner, start, cwd=directory), "pg_ctl start", cluster.log)
    except TeamSetupError:
        if (cluster.data / "postmaster.pid").exists():  # timed out, yet may still come up
            stop_cluster(cluster)
        raise
    log.info("PostgreSQL %s on %s:%d", directory, LOOPBACK, cluster.port)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def stop_cluster(cluster: Cluster) -> None:
    """Stop the cluster: fast shutdown (ends sessions), or immediate if that hangs."""
    for mode in ("fast", "immediate"):
        args = [str(cluster.bin_dir / "pg_ctl"), "stop", "-D", str(cluster.data), "-m", mode]
        result = _run_as(cluster.owner, [*args, "-w", "-t", "30"], cwd=cluster.directory)
        if result.returncode == 0:
            log.info("PostgreSQL %s stopped", cluster.directory)
            return
        log.warning("pg_ctl stop -m %s failed: %s", mode, result.stderr.strip())
