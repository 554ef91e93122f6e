"""The download stage on hostile inputs: one error line, a non-zero exit, and no output left."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imdb_sentiment.data import transfer
from imdb_sentiment.data.archive import read_reviews
from imdb_sentiment.data.reviews_table import write_reviews
from pipeline import download
from tests.conftest import REPO
from tests.factory import (
    Member,
    build_archive,
    damage_middle,
    link,
    minimal_members,
    sha256_file,
    write_members,
)
from tests.httpserver import FileServer, Script, Seen, closed_port

OUT = "data/raw/reviews.parquet"


@pytest.fixture(autouse=True)
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test may reach the network or the user's cache, or wait for real backoffs."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("IMDB_CACHE_DIR", str(cache))
    monkeypatch.setenv("IMDB_URL", str(tmp_path / "no-archive-set.tar.gz"))
    monkeypatch.setattr(
        transfer, "RETRY", transfer.RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=5)
    )
    return cache


def use(monkeypatch: pytest.MonkeyPatch, location: str | Path, sha: str) -> None:
    monkeypatch.setenv("IMDB_URL", str(location))
    monkeypatch.setenv("IMDB_SHA256", sha)


def run(params_file: Path, tmp_path: Path) -> int:
    return download.main(["--params", str(params_file), "--out", str(tmp_path / OUT)])


def assert_refused(
    code: int, capsys: pytest.CaptureFixture[str], tmp_path: Path, *phrases: str
) -> str:
    """Exit 1, stderr ending in one `download: error: <problem>; <fix>` line, no output files."""
    assert code == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("download: error: ")]
    assert errors == lines[-1:], err
    assert "; " in errors[0] and "Traceback" not in err
    for phrase in phrases:
        assert phrase in errors[0]
    out_dir = (tmp_path / OUT).parent
    assert not out_dir.exists() or list(out_dir.iterdir()) == []
    return errors[0]


def refuse_members(
    members: list[Member],
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *phrases: str,
) -> str:
    archive = tmp_path / "hostile.tar.gz"
    use(monkeypatch, archive, write_members(archive, members))
    return assert_refused(run(params_file, tmp_path), capsys, tmp_path, *phrases)


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "good.tar.gz"
    return path, build_archive(path, per_label=8)


def test_a_wrong_checksum_from_a_server_deletes_the_download(
    archive: tuple[Path, str],
    params_file: Path,
    tmp_path: Path,
    sandbox: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FileServer(archive[0].read_bytes()) as server:
        use(monkeypatch, server.url, "0" * 64)
        code = run(params_file, tmp_path)
    assert_refused(code, capsys, tmp_path, "sha256 mismatch", "IMDB_SHA256")
    assert list(sandbox.iterdir()) == []


def test_a_truncated_download_says_a_rerun_resumes_and_the_rerun_does(
    archive: tuple[Path, str],
    params_file: Path,
    tmp_path: Path,
    sandbox: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, sha = archive
    payload = path.read_bytes()
    with FileServer(payload, Script(cut_at=len(payload) // 2, chunk=256)) as server:
        use(monkeypatch, server.url, sha)
        code = run(params_file, tmp_path)
        assert_refused(code, capsys, tmp_path, "truncated at", "rerun to resume")
        held = (sandbox / f"{sha}.tar.gz.part").stat().st_size
        assert held > 0
        server.script = Script()
        assert run(params_file, tmp_path) == 0
    assert server.requests[-1] == Seen(f"bytes={held}-", "identity", 206)
    assert [p.name for p in sandbox.iterdir()] == [f"{sha}.tar.gz"]


def test_a_cached_archive_is_reused_without_a_request(
    archive: tuple[Path, str],
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FileServer(archive[0].read_bytes()) as server:
        use(monkeypatch, server.url, archive[1])
        assert run(params_file, tmp_path) == 0
        first = (tmp_path / OUT).read_bytes()
        (tmp_path / OUT).unlink()
        assert run(params_file, tmp_path) == 0
    assert len(server.requests) == 1
    assert (tmp_path / OUT).read_bytes() == first


@pytest.mark.parametrize(
    ("script", "url_suffix", "phrases"),
    [
        (Script(fail_first=99), "", ("HTTP 503", "3 tries", "try again later")),
        (Script(), ".missing", ("HTTP 404", "check IMDB_URL")),
    ],
)
def test_http_failures(
    script: Script,
    url_suffix: str,
    phrases: tuple[str, ...],
    archive: tuple[Path, str],
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FileServer(archive[0].read_bytes(), script) as server:
        use(monkeypatch, server.url + url_suffix, archive[1])
        code = run(params_file, tmp_path)
    assert_refused(code, capsys, tmp_path, *phrases)


def test_an_unreachable_url_fails_fast(
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use(monkeypatch, f"http://127.0.0.1:{closed_port()}/aclImdb_v1.tar.gz", "0" * 64)
    code = run(params_file, tmp_path)
    assert_refused(code, capsys, tmp_path, "cannot reach", "Connection refused", "2 tries")


def test_gzip_data_corrupt_midway(
    archive: tuple[Path, str],
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = archive
    use(monkeypatch, path, damage_middle(path))
    assert_refused(run(params_file, tmp_path), capsys, tmp_path, "corrupt")


def test_not_an_archive(
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    page = tmp_path / "aclImdb_v1.tar.gz"
    page.write_text("<!DOCTYPE html><title>Moved</title>\n")
    use(monkeypatch, page, sha256_file(page))
    assert_refused(run(params_file, tmp_path), capsys, tmp_path, "not gzip data")


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (("/etc/cron.d/job", b"x"), "absolute path"),
        (("aclImdb/../../.bashrc", b"x"), "'..'"),
        (link("aclImdb/README", "/etc/passwd"), "symbolic link"),
        (link("aclImdb/test/neg/5_2.txt", "aclImdb/test/neg/0_1.txt", hard=True), "hard link"),
    ],
)
def test_an_archive_unsafe_to_extract(
    member: Member,
    problem: str,
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    members = [*minimal_members(), member]
    refuse_members(members, params_file, tmp_path, monkeypatch, capsys, "is refused", problem)


@pytest.mark.parametrize(
    ("missing", "first_missing"),
    [("aclImdb/test/", "aclImdb/test/neg/"), ("aclImdb/train/pos/", "aclImdb/train/pos/")],
)
def test_a_missing_split_or_label_folder(
    missing: str,
    first_missing: str,
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    members = [m for m in minimal_members() if missing not in m[0]]
    phrase = f"no reviews under {first_missing}"
    refuse_members(members, params_file, tmp_path, monkeypatch, capsys, phrase)


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("aclImdb/train/neg/5_2.txt", b"caf\xe9", "is not valid UTF-8"),
        ("aclImdb/train/neg/5_2.txt", b"", "is empty or only whitespace"),
        ("aclImdb/train/neg/5_2.txt", b" \n ", "is empty or only whitespace"),
        ("aclImdb/test/pos/12.txt", b"Fine.", "is not a review file named ID_RATING.txt"),
        ("aclImdb/test/pos/abc_3.txt", b"Fine.", "is not a review file named ID_RATING.txt"),
        ("aclImdb/test/pos/1_3.text", b"Fine.", "is not a review file named ID_RATING.txt"),
        ("aclImdb/test/pos/5_11.txt", b"Fine.", "has rating 11, outside 1..10"),
    ],
)
def test_a_bad_review_file_is_named(
    name: str,
    text: bytes,
    problem: str,
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    members = [*minimal_members(), (name, text)]
    refuse_members(members, params_file, tmp_path, monkeypatch, capsys, repr(name), problem)


def test_a_killed_download_leaves_no_output_and_the_rerun_resumes(
    params_file: Path, tmp_path: Path, sandbox: Path
) -> None:
    """SIGKILL mid-transfer, as a closed laptop or an OOM kill would, then `dvc repro` again."""
    archive = tmp_path / "big.tar.gz"
    noise = random.Random(0).randbytes(768 << 10)  # incompressible: the transfer takes a while
    sha = write_members(archive, [*minimal_members(), ("aclImdb/train/unsup/0_0.txt", noise)])
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),  # `-m pipeline.download`; pipeline/ puts src/ on the path
        "IMDB_SHA256": sha,
        "IMDB_CACHE_DIR": str(sandbox),
    }
    # What dvc.yaml runs, from a folder holding params.yaml.
    cmd = [sys.executable, "-m", "pipeline.download", "--out", OUT]
    assert params_file.parent == tmp_path
    part = sandbox / f"{sha}.tar.gz.part"
    slow = Script(chunk=16 << 10, delay_s=0.05)  # about 2.5 s for the whole file
    with FileServer(archive.read_bytes(), slow) as server:
        env["IMDB_URL"] = server.url
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while not (part.exists() and part.stat().st_size >= 64 << 10):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert not (tmp_path / "data").exists()  # no output, not even a temp file
        held = part.stat().st_size
        assert 0 < held < archive.stat().st_size

        server.script = Script()  # full speed for the rerun
        rerun = subprocess.run(
            cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert rerun.returncode == 0, rerun.stderr
    assert server.requests[-1] == Seen(f"bytes={held}-", "identity", 206)
    expected = tmp_path / "expected.parquet"
    write_reviews(read_reviews(archive), expected)
    assert (tmp_path / OUT).read_bytes() == expected.read_bytes()
    assert [p.name for p in sandbox.iterdir()] == [f"{sha}.tar.gz"]
