"""The rebuild's moving parts: a temporary git worktree, the data by md5, `dvc repro` there.

The user's checkout and DVC cache are only read. The worktree gets a DVC cache of its own in
the temporary folder (the user's remote settings, so a fetch reaches the same remote), and its
stages track into a throwaway MLflow store beside it: the registry is not touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml

from imdb_sentiment.reproduce.outcome import CouldNotRunError
from imdb_sentiment.retrain import dvc
from imdb_sentiment.retrain.outcome import Step
from imdb_sentiment.tracking.lineage import file_md5

PROG = "reproduce"
FETCH_STEP = "fetch data"
_GIT_TIMEOUT_S = 600  # a worktree of a large repository takes a while to write
_POINTER = Path(".reproduce") / "lineage.dvc"  # in the worktree: the md5s to fetch
REBUILD_STEPS = ("record data", "validate", "train, evaluate")


@dataclass(frozen=True)
class Scratch:
    """The temporary folder: the worktree, its DVC cache and the throwaway MLflow store."""

    folder: Path

    @property
    def checkout(self) -> Path:
        return self.folder / "checkout"

    @property
    def cache(self) -> Path:
        return self.folder / "dvc-cache"

    @property
    def store_uri(self) -> str:
        return f"sqlite:///{self.folder / 'store' / 'mlflow.db'}"


def has_commit(root: Path, commit: str) -> bool:
    return _git(["cat-file", "-e", f"{commit}^{{commit}}"], root).returncode == 0


@contextlib.contextmanager
def temporary_worktree(root: Path, commit: str, path: Path) -> Iterator[Path]:
    """`commit` checked out at `path` as a detached git worktree; removed afterwards."""
    done = _git(["worktree", "add", "--detach", str(path), commit], root)
    if done.returncode != 0:
        raise CouldNotRunError("checkout", f"git worktree add failed: {_last_line(done)}")
    try:
        yield path
    finally:
        _git(["worktree", "remove", "--force", str(path)], root)
        _git(["worktree", "prune"], root)


def configure_dvc(root: Path, scratch: Scratch) -> str | None:
    """Give the worktree its own cache and the checkout's remotes; the default remote's name."""
    listed = dvc.capture(["dvc", "config", "--list"], root)
    if listed.returncode != 0:
        raise CouldNotRunError("checkout", f"dvc config --list: {_last_line(listed)}")
    # Every level merged, relative remote paths made absolute by DVC.
    entries = dict(line.partition("=")[::2] for line in listed.stdout.splitlines() if "=" in line)
    wanted = {k: v for k, v in entries.items() if k.startswith("remote.") or k == "core.remote"}
    for key, value in {**wanted, "cache.dir": str(scratch.cache)}.items():
        done = dvc.capture(["dvc", "config", "--local", key, value], scratch.checkout)
        if done.returncode != 0:
            raise CouldNotRunError("checkout", f"dvc config --local {key}: {_last_line(done)}")
    return entries.get("core.remote") or None


def user_cache(root: Path) -> Path:
    done = dvc.capture(["dvc", "cache", "dir"], root)
    if done.returncode != 0 or not done.stdout.strip():
        raise CouldNotRunError(FETCH_STEP, f"dvc cache dir: {_last_line(done)}")
    return Path(done.stdout.strip().splitlines()[-1])


def cache_object(cache: Path, md5: str) -> Path:
    """Where a DVC 3 cache (or a local remote) keeps the file with this md5."""
    return cache / "files" / "md5" / md5[:2] / md5[2:]


def fetch_data(
    root: Path, scratch: Scratch, md5s: Mapping[str, str], remote: str | None, out: TextIO
) -> dict[str, str]:
    """Each recorded file into the worktree, from the user's cache or else the remote.

    Returns where each came from. Fails (CouldNotRunError) naming a file whose md5 neither
    has, or a copy whose md5 is not the recorded one.
    """
    cache = user_cache(root)
    sources = {p: "DVC cache" for p, md5 in md5s.items() if cache_object(cache, md5).is_file()}
    missing = {p: md5 for p, md5 in md5s.items() if p not in sources}
    if missing and remote is None:
        path, md5 = next(iter(missing.items()))
        raise CouldNotRunError(
            FETCH_STEP,
            f"{path} (md5 {md5}) is not in the DVC cache {cache} and no DVC remote is "
            f"configured{_more(missing)}; add the remote (dvc remote add -d) or dvc fetch it",
        )
    if missing:
        _fetch_from_remote(scratch, missing, remote or "", out)
        sources |= {path: f"DVC remote {remote}" for path in missing}
    for path, md5 in md5s.items():
        origin = cache if sources[path] == "DVC cache" else scratch.cache
        _place(cache_object(origin, md5), scratch.checkout / path, path, md5)
    return sources


def _fetch_from_remote(
    scratch: Scratch, missing: Mapping[str, str], remote: str, out: TextIO
) -> None:
    """`dvc fetch` of a pointer file naming the md5s: DVC reads any kind of remote."""
    pointer = scratch.checkout / _POINTER
    pointer.parent.mkdir(parents=True, exist_ok=True)
    outs = [
        {"md5": md5, "path": f"{number}-{Path(path).name}", "hash": "md5"}
        for number, (path, md5) in enumerate(missing.items())
    ]
    pointer.write_text(yaml.safe_dump({"outs": outs}, sort_keys=False), encoding="utf-8")
    step = dvc.run_step(
        FETCH_STEP, ["dvc", "fetch", str(_POINTER)], scratch.checkout, out, prog=PROG
    )
    gone = {p: md5 for p, md5 in missing.items() if not cache_object(scratch.cache, md5).is_file()}
    if gone:
        path, md5 = next(iter(gone.items()))
        why = "" if step.outcome == "ok" else f" (dvc fetch: {dvc.last_error(step.tail)})"
        raise CouldNotRunError(
            FETCH_STEP,
            f"{path} (md5 {md5}) is in neither the DVC cache nor the remote "
            f"'{remote}'{_more(gone)}{why}; push it from a checkout that has it (dvc push)",
        )


def _place(source: Path, target: Path, path: str, md5: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    shutil.copyfile(source, target)
    found = file_md5(target)
    if found != md5:
        raise CouldNotRunError(
            FETCH_STEP,
            f"{path}: the cached copy {source} has md5 {found}, not the recorded {md5}: the "
            "cache is corrupt; delete that file and fetch it again",
        )


def rebuild_environment(scratch: Scratch) -> dict[str, str]:
    """This environment, tracking into the throwaway store, importing the commit's code.

    PYTHONPATH puts the worktree's `src/` before an editable install of the checkout.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    checkout = scratch.checkout
    env["PYTHONPATH"] = os.pathsep.join([str(checkout / "src"), str(checkout)])
    env["MLFLOW_TRACKING_URI"] = scratch.store_uri
    return env


def rebuild_commands(data_paths: list[str]) -> list[tuple[str, list[str]]]:
    """Record the fetched data as the download and prepare outputs (so neither reruns), bring
    validate up to date, then train and evaluate, forced: never restored from a run-cache."""
    record, check, train = REBUILD_STEPS
    return [
        (record, ["dvc", "commit", "--force", *data_paths]),
        (check, ["dvc", "repro", "validate"]),
        (train, ["dvc", "repro", "--force", "--single-item", "train", "evaluate"]),
    ]


def run_rebuild(
    scratch: Scratch, data_paths: list[str], out: TextIO
) -> tuple[list[Step], list[str]]:
    """Run the rebuild's commands in the worktree; the steps and the stages that ran."""
    env = rebuild_environment(scratch)
    stages: list[str] = []

    def watch(line: str) -> None:
        if stage := dvc.started_stage(line):
            stages.append(stage)

    steps = []
    for name, command in rebuild_commands(data_paths):
        step = dvc.run_step(name, command, scratch.checkout, out, watch, env=env, prog=PROG)
        steps.append(step)
        if step.outcome != "ok":
            step.note = dvc.last_error(step.tail)
            break
    return steps, stages


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=_GIT_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(["git", *args], 1, "", str(exc))


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    return dvc.last_error((done.stderr or "").splitlines() + (done.stdout or "").splitlines())


def _more(missing: Mapping[str, str]) -> str:
    return f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
