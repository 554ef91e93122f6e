"""Local PostgreSQL's set-up checks: finding its binaries, the cluster owner's reach."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devtools.postgres import TeamSetupError, cluster_owner, find_pg_bin, prepare_directory


def pg_bin(folder: Path, tools: tuple[str, ...] = ("initdb", "pg_ctl")) -> Path:
    """A folder holding executables named like PostgreSQL's server tools."""
    folder.mkdir(parents=True)
    for tool in tools:
        path = folder / tool
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    return folder


def test_pg_bin_env_wins(tmp_path: Path) -> None:
    chosen = pg_bin(tmp_path / "custom")
    pg_bin(tmp_path / "debian" / "16" / "bin")
    env = {"PG_BIN": str(chosen), "PATH": ""}
    assert find_pg_bin(env, debian_root=tmp_path / "debian") == chosen


def test_pg_bin_env_without_the_tools_is_refused(tmp_path: Path) -> None:
    half = pg_bin(tmp_path / "half", tools=("initdb",))
    with pytest.raises(TeamSetupError, match=r"PG_BIN=.*holds no initdb and pg_ctl"):
        find_pg_bin({"PG_BIN": str(half), "PATH": ""}, debian_root=tmp_path / "none")


def test_newest_complete_debian_version_is_chosen(tmp_path: Path) -> None:
    root = tmp_path / "postgresql"
    pg_bin(root / "9.6" / "bin")
    fifteen = pg_bin(root / "15" / "bin")
    pg_bin(root / "16" / "bin", tools=("initdb",))  # only the client half of an upgrade
    (root / "common").mkdir()
    assert find_pg_bin({"PATH": ""}, debian_root=root) == fifteen


def test_path_is_the_fallback(tmp_path: Path) -> None:
    folder = pg_bin(tmp_path / "bin")
    env = {"PATH": f"{tmp_path / 'elsewhere'}{os.pathsep}{folder}"}
    assert find_pg_bin(env, debian_root=tmp_path / "none") == folder


def test_missing_postgresql_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(TeamSetupError) as raised:
        find_pg_bin({"PATH": str(tmp_path)}, debian_root=tmp_path / "none")
    message = str(raised.value)
    assert "\n" not in message
    assert "not found: apt-get install postgresql" in message


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to another user")
def test_a_folder_the_owner_cannot_reach_is_refused(tmp_path: Path) -> None:
    try:
        owner = cluster_owner()
    except TeamSetupError:
        pytest.skip("no 'postgres' user here")
    assert owner is not None
    private = tmp_path / "private"
    private.mkdir(mode=0o700)  # root's own, closed to everyone else
    with pytest.raises(TeamSetupError, match=r"cannot write there .* e\.g\. under /tmp"):
        prepare_directory(private / "cluster", owner)
