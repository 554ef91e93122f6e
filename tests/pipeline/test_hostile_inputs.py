"""The download stage on hostile inputs (archives and servers): one error line, a non-zero
exit, no output left, and no credential shown."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

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
from tests.pipeline.dvc_repo import make_repo, sh, user_env

OUT = "data/raw/reviews.parquet"
SOURCE = "data/raw/source.json"


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
    return download.main(
        [
            "--params",
            str(params_file),
            "--out",
            str(tmp_path / OUT),
            "--source",
            str(tmp_path / SOURCE),
        ]
    )


def set_download(params_file: Path, **values: object) -> None:
    params = yaml.safe_load(params_file.read_text())
    params["download"].update(values)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))


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
    assert_refused(
        code, capsys, tmp_path, "cannot reach", "Connection refused", "2 tries", "IMDB_SHA256"
    )


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
    cmd = [sys.executable, "-m", "pipeline.download", "--out", OUT, "--source", SOURCE]
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


# Servers that would fill the disk or hang the run, and credentials in IMDB_URL.


def test_a_body_past_max_bytes_is_stopped_and_deleted(
    archive: tuple[Path, str],
    params_file: Path,
    tmp_path: Path,
    sandbox: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_download(params_file, max_bytes=64 << 10)
    with FileServer(archive[0].read_bytes(), Script(length=False, pad_to=3 << 20)) as server:
        use(monkeypatch, server.url, archive[1])
        code = run(params_file, tmp_path)
    phrases = ("sent more, over download.max_bytes (65,536)", "raise download.max_bytes")
    assert_refused(code, capsys, tmp_path, *phrases)
    assert list(sandbox.iterdir()) == []


def test_a_stalled_server_is_called_stalled_within_the_window(
    archive: tuple[Path, str],
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_download(params_file, speed_window_seconds=0.3)
    start = time.monotonic()
    with FileServer(archive[0].read_bytes(), Script(cut_at=0, cut_stalls=True)) as server:
        use(monkeypatch, server.url, archive[1])
        code = run(params_file, tmp_path)
    line = assert_refused(
        code, capsys, tmp_path, "stalled: no data for 0.3 s", "download.speed_window_seconds"
    )
    assert "closed early" not in line
    assert time.monotonic() - start < 3 * 0.3 + 1.5  # 3 tries (the sandbox's RETRY)


def test_a_slow_server_fails_within_the_window_naming_the_param(
    archive: tuple[Path, str],
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_download(params_file, speed_window_seconds=0.5, min_bytes_per_second=10_000)
    start = time.monotonic()
    with FileServer(archive[0].read_bytes(), Script(chunk=10, delay_s=0.05)) as server:
        use(monkeypatch, server.url, archive[1])
        code = run(params_file, tmp_path)
    assert_refused(code, capsys, tmp_path, "too slow", "lower download.min_bytes_per_second")
    assert time.monotonic() - start < 2.0
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("max_bytes", 0, "a positive integer"),
        ("min_bytes_per_second", -1, "an integer >= 0"),
        ("speed_window_seconds", 0, "> 0 seconds"),
        ("deadline_seconds", "1h", "float"),
    ],
)
def test_bad_limits_are_refused_at_start_up(
    key: str,
    value: object,
    allowed: str,
    params_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_download(params_file, **{key: value})
    assert run(params_file, tmp_path) == 1
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"download: error: params.yaml: 'download.{key}' ") and allowed in line
    assert not (tmp_path / "data").exists()


SECRETS = ("pa55word", "t0ken", "s1gnature")


def secret_url(server: FileServer, suffix: str = "") -> str:
    url = server.url.replace("http://", "http://alice:pa55word@") + suffix
    return f"{url}?token=t0ken&X-Amz-Signature=s1gnature"


def shown_url(server: FileServer, suffix: str = "") -> str:
    url = server.url.replace("http://", "http://***@") + suffix
    return f"{url}?token=***&X-Amz-Signature=***"


def test_the_source_used_is_recorded_without_its_credentials(
    archive: tuple[Path, str],
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, sha = archive
    payload = path.read_bytes()
    script = Script(fail_first=1, cut_at=len(payload) // 2, cut_responses=1, chunk=256)
    with FileServer(payload, script) as server:
        use(monkeypatch, secret_url(server), sha)
        assert run(params_file, tmp_path) == 0
    record = json.loads((tmp_path / SOURCE).read_text())
    assert record == {"url": shown_url(server), "sha256": sha}  # IMDB_*, not params.yaml
    err = capsys.readouterr().err
    assert "try 2 of 3" in err and "resuming" in err and shown_url(server) in err
    assert not any(secret in err for secret in SECRETS)
    assert server.requests[0].authorization == "Basic YWxpY2U6cGE1NXdvcmQ="


def test_without_overrides_the_params_source_is_recorded(
    archive: tuple[Path, str], params_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMDB_URL")
    monkeypatch.delenv("IMDB_SHA256", raising=False)
    set_download(params_file, url=str(archive[0]), sha256=archive[1].upper())
    assert run(params_file, tmp_path) == 0
    record = json.loads((tmp_path / SOURCE).read_text())
    assert record == {"url": str(archive[0]), "sha256": archive[1]}


@pytest.mark.parametrize(
    ("script", "suffix", "limits", "phrase"),
    [
        (Script(), "", {}, "sha256 mismatch"),
        (Script(), ".missing", {}, "HTTP 404"),
        (Script(cut_at=100), "", {}, "truncated at"),
        (Script(cut_at=0, cut_stalls=True), "", {"speed_window_seconds": 0.3}, "stalled"),
        (Script(length=False, pad_to=1 << 20), "", {"max_bytes": 10_000}, "max_bytes"),
    ],
)
def test_credentials_never_reach_an_error_line(
    script: Script,
    suffix: str,
    limits: dict[str, object],
    phrase: str,
    archive: tuple[Path, str],
    params_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_download(params_file, **limits)
    sha = "0" * 64 if phrase == "sha256 mismatch" else archive[1]
    with FileServer(archive[0].read_bytes(), script) as server:
        use(monkeypatch, secret_url(server, suffix), sha)
        code = run(params_file, tmp_path)
        line = assert_refused(code, capsys, tmp_path, phrase, shown_url(server, suffix))
    assert not any(secret in line for secret in SECRETS)


@pytest.mark.slow
def test_dvc_shows_no_credentials_and_records_the_source(
    archives: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    """`dvc repro` as a user runs it, the mirror behind a password: DVC's output included."""
    path, sha = archives["labeled"]
    env = {**user_env((path, sha)), "IMDB_CACHE_DIR": str(tmp_path / "cache")}
    root = make_repo(tmp_path / "repo", env)
    with FileServer(path.read_bytes(), Script(fail_first=1)) as server:
        env["IMDB_URL"] = secret_url(server, ".missing")
        failed = subprocess.run(
            ["dvc", "repro", "download"], cwd=root, env=env, capture_output=True, text=True
        )
        env["IMDB_URL"] = secret_url(server)
        output = sh(["dvc", "repro", "download"], root, env)
        status = sh(["dvc", "status", "download"], root, env)
    assert failed.returncode != 0 and "HTTP 404" in failed.stderr
    for text in (failed.stdout + failed.stderr, output):
        assert not any(secret in text for secret in SECRETS), text
    assert shown_url(server) in output
    assert json.loads((root / SOURCE).read_text()) == {"url": shown_url(server), "sha256": sha}
    assert "up to date" in status
    assert not any(secret in (root / "dvc.lock").read_text() for secret in SECRETS)
