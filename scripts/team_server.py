"""A local team tracking server to try team mode: PostgreSQL + `mlflow server`, on loopback.

    python -m scripts.team_server                   # throwaway: deleted on Ctrl-C
    python -m scripts.team_server --dir /tmp/team   # kept; the next start reuses it

From the repository root, as a module: it imports the dev helpers in devtools/.

Then, in another shell, point the pipeline at it:

    export MLFLOW_TRACKING_URI=http://127.0.0.1:5000
    dvc repro

Runs and the model registry go to PostgreSQL (started from Debian's
/usr/lib/postgresql/<version>/bin, or $PG_BIN), artifacts through the server to
`<dir>/mlartifacts` (or --artifacts-destination, e.g. s3://bucket/mlartifacts with AWS_*
credentials in this shell). Ctrl-C stops both servers. Production runs the same
`mlflow server` against a managed database: see the docs' team mode page.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from devtools.postgres import TeamSetupError
from devtools.team import TeamServer, local_team_server
from imdb_sentiment.entrypoint import run_entrypoint
from imdb_sentiment.errors import first_line

log = logging.getLogger(__name__)

DEFAULT_PORT = 5000  # mlflow's own default, so its docs' URLs work as they are


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dir",
        type=Path,
        help="folder for PostgreSQL's files, the server log and artifacts; kept and reused"
        " (default: a temporary folder, deleted on exit). Running as root, the 'postgres'"
        " user must be able to reach it",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    parser.add_argument(
        "--artifacts-destination",
        help="where the server keeps artifacts (default: <dir>/mlartifacts), e.g. s3://b/p",
    )
    return parser.parse_args(argv)


@contextlib.contextmanager
def workdir(folder: Path | None) -> Iterator[Path]:
    if folder is not None:
        yield folder.resolve()
        return
    # Under the system temp folder: as root, the `postgres` user must reach it.
    path = Path(tempfile.mkdtemp(prefix="imdb-team-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def stop_on_sigterm() -> None:
    """SIGTERM (a service manager, `kill`) stops the servers like Ctrl-C does."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_entrypoint("team_server", lambda: serve(args))


def serve(args: argparse.Namespace) -> int:
    """Run both servers until Ctrl-C (0), or until one of them fails (a TeamSetupError)."""
    logging.getLogger("devtools").setLevel(logging.INFO)  # which folder, port and URL
    stop_on_sigterm()
    try:
        with (
            workdir(args.dir) as folder,
            local_team_server(folder, None, args.artifacts_destination, args.port) as team,
        ):
            print(banner(team, folder), flush=True)  # noqa: T201
            team.server.process.wait()
            raise RuntimeError(f"mlflow server exited with {team.server.process.returncode}")
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, TimeoutError) as exc:
        log.error("%s", exc)  # with the server log's last lines, which say why
        raise TeamSetupError(first_line(exc)) from exc


def banner(team: TeamServer, folder: Path) -> str:
    return "\n".join(
        [
            f"MLflow tracking server: {team.url} (UI and REST API)",
            f"  backend store: PostgreSQL, database {team.database.name!r}"
            f" on {team.database.host}:{team.database.port}",
            f"  artifacts:     {team.artifacts_destination} (proxied by the server)",
            f"  files:         {folder}",
            f"Clients: export MLFLOW_TRACKING_URI={team.url}   Ctrl-C stops both servers.",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
