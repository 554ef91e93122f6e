"""Servers started for a while and then stopped: loopback ports, health checks, process groups.

`mlflow server` lives here because the UI screenshots, the serving tests and team mode all
start it the same way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port nobody listens on now; a server started right after will almost surely get it."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def wait_until_up(self, timeout_s: float = 120) -> str:
        """Block until the server answers /health; return its base URL."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server for {self.url} exited with {self.process.returncode}:\n"
                    f"{tail(self.log)}"
                )
            if responds_ok(f"{self.url}/health"):
                return self.url
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"server for {self.url} not up after {timeout_s:.0f} s:\n{tail(self.log)}"
                )
            time.sleep(0.5)


def responds_ok(url: str) -> bool:
    """Whether a GET of `url` answers 200 within 2 s."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started with start_new_session=True and every process it forked."""
    for sig, wait_s in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)
            return


def tail(path: Path, lines: int = 30) -> str:
    if not path.is_file():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def mlflow_server(
    backend_store_uri: str,
    workdir: Path,
    artifacts_destination: str | None = None,
    port: int | None = None,
    host: str = LOOPBACK,
) -> Iterator[Server]:
    """`mlflow server` on `host`:`port` (default: a free loopback port), stopped on exit.

    It takes ~20 s to boot on a small CPU, so this does not wait: other work can go on until
    `wait_until_up`. It runs in `workdir` (its log is `mlflow-server.log` there) and in its
    own process group, so stopping it also stops the uvicorn worker it forks. Artifacts are
    proxied: clients upload and download through the server, which alone writes to
    `artifacts_destination` (default: `workdir/mlartifacts`).
    """
    port = port or free_port(host)
    log_path = workdir / "mlflow-server.log"
    command = [sys.executable, "-m", "mlflow", "server", "--serve-artifacts"]
    command += ["--host", host, "--port", str(port), "--workers", "1"]
    if artifacts_destination:
        command += ["--artifacts-destination", artifacts_destination]
    env = {
        **os.environ,
        # Through the environment, not argv: a database password stays out of `ps`.
        "MLFLOW_BACKEND_STORE_URI": backend_store_uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        # Server-side jobs serve GenAI features this project does not use. Left on, a SQL
        # store starts 8 more Python processes (slow on 2 cores) and leaves a queue folder
        # in /dev/shm behind on every start.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": os.environ.get(
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false"
        ),
    }
    workdir.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Server(f"http://{host}:{port}", process, log_path)
    finally:
        stop_group(process)
