"""Atomic file writes (an output appears complete or not at all) and JSON files.

DVC caches whatever sits in an output path after a stage exits, so a crash halfway
through a write must never leave a truncated file behind. A stage's outputs are written
beside their targets under temporary names (`.NAME.XXXX.tmpSUFFIX`, `.staging.XXXX/`) and
renamed into place only once all of them are written; a process killed before that leaves
only such temporary files, which `remove_leftovers` clears on the next run.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(path)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    encoding = None if "b" in mode else "utf-8"
    with atomic_path(path) as tmp, tmp.open(mode, encoding=encoding) as fh:
        yield fh


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces `path` wholesale on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def staged_files(directory: str | Path) -> Iterator[Path]:
    """Yield a staging directory; on success move each file in it into `directory`.

    A stage with several outputs writes them all first and only then renames them into
    place, so a crash midway never mixes new files with old ones.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging.", dir=directory))
    try:
        yield staging
        for path in sorted(staging.iterdir()):
            os.chmod(path, 0o666 & ~_umask())
            os.replace(path, directory / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class StagedOutputs:
    """A stage's outputs, written under temporary names and renamed into place together.

    Get one from `staged_outputs()`. Nothing reaches a target until every output is
    written, so a failure or a kill midway leaves the previous outputs as they were.
    """

    def __init__(self) -> None:
        self._files: dict[Path, Path] = {}  # target -> its temporary file
        self._dirs: dict[Path, Path] = {}  # target directory -> its staging directory

    def path(self, target: str | Path) -> Path:
        """A temporary file beside `target` (same suffix) to write its new content to."""
        target = Path(target)
        tmp = _temp_beside(target)
        self._files[target] = tmp
        return tmp

    def write_json(self, target: str | Path, data: Any) -> None:
        _dump_json(self.path(target), data)

    def directory(self, target: str | Path) -> Path:
        """A staging directory whose files each replace their namesake in `target`."""
        target = Path(target)
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging.", dir=target))
        self._dirs[target] = staging
        return staging

    def _commit(self) -> None:
        mode = 0o666 & ~_umask()  # mkstemp makes 0600; outputs get the usual mode
        for target, staging in self._dirs.items():
            for path in sorted(staging.iterdir()):
                os.chmod(path, mode)
                os.replace(path, target / path.name)
        for target, tmp in self._files.items():
            os.chmod(tmp, mode)
            os.replace(tmp, target)

    def _discard(self) -> None:
        for tmp in self._files.values():
            tmp.unlink(missing_ok=True)
        for staging in self._dirs.values():
            shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def staged_outputs() -> Iterator[StagedOutputs]:
    """Stage outputs in the block; rename them all into place if it ends without an error."""
    staged = StagedOutputs()
    try:
        yield staged
        staged._commit()
    finally:
        staged._discard()


def remove_leftovers(targets: Iterable[str | Path]) -> list[Path]:
    """Delete the temporary files an earlier, killed run left beside `targets`; return them.

    Only names this module makes are touched: `.NAME.*.tmpSUFFIX` files and `.NAME.*.tmp`
    folders beside each target, and `.staging.*` folders inside a target directory.
    """
    removed: list[Path] = []
    for target in map(Path, targets):
        name = glob.escape(target.name)
        patterns = [
            (target.parent, f".{name}.*.tmp{glob.escape(target.suffix)}"),
            (target.parent, f".{name}.*.tmp"),
            (target, ".staging.*"),
        ]
        for folder, pattern in patterns:
            if folder.is_dir():
                removed.extend(folder.glob(pattern))
    for path in removed:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return sorted(set(removed))


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temp name keeps the real suffix: Keras, for one, refuses to save to a non-.keras path.
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    return Path(tmp_name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        _dump_json(tmp, data)


def _dump_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")


def read_json(path: str | Path) -> Any:
    with Path(path).open(encoding="utf-8") as fh:
        return json.load(fh)
