"""The `imdb-sentiment` command's input handling; serving itself: tests/pipeline/test_serving."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from imdb_sentiment.cli import format_results, gather_reviews, main
from imdb_sentiment.registry.predict import PredictError


def test_reviews_come_from_arguments_then_the_file_in_order(tmp_path: Path) -> None:
    path = tmp_path / "reviews.txt"
    path.write_text("Loved it.\nHated it.\n", encoding="utf-8")
    reviews = gather_reviews(["From the shell."], path, io.BytesIO())
    assert reviews == ["From the shell.", "Loved it.", "Hated it."]


def test_dash_reads_standard_input() -> None:
    stdin = io.BytesIO("one review\nanother réview\n".encode())
    assert gather_reviews([], Path("-"), stdin) == ["one review", "another réview"]


@pytest.mark.parametrize(
    ("texts", "content", "message"),
    [
        ([], None, "no reviews given"),
        (["  "], None, "review 1 is empty; pass the review's text"),
        (["fine", "\t"], None, "review 2 is empty; pass the review's text"),  # 1-based
        ([], "fine\n\nalso fine\n", r"-:2: empty line; put one review per line"),
    ],
)
def test_missing_or_blank_reviews_are_refused(
    texts: list[str], content: str | None, message: str
) -> None:
    path = Path("-") if content is not None else None
    with pytest.raises(PredictError, match=message):
        gather_reviews(texts, path, io.BytesIO((content or "").encode()))


BINARY = b"\x89PNG\r\n\x1a\n\x00\x00"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (BINARY, "not UTF-8 text (byte 0x89 at offset 0)"),
        (b"fine review\nbad \xff byte\n", "not UTF-8 text (byte 0xff at offset 16)"),
        (b"looks like text\x00\x01\n", "a NUL byte at offset 15 (binary data?)"),
    ],
)
def test_a_file_and_stdin_share_one_decoding_rule(
    data: bytes, problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "reviews.txt"
    path.write_bytes(data)
    fix = "; pass a UTF-8 text file with one review per line"
    for source, stdin in ((path, io.BytesIO()), (Path("-"), io.BytesIO(data))):
        with pytest.raises(PredictError) as caught:
            gather_reviews([], source, stdin)
        assert str(caught.value) == f"cannot read {source}: {problem}{fix}"


def test_a_byte_order_mark_is_not_part_of_the_first_review(tmp_path: Path) -> None:
    path = tmp_path / "reviews.txt"
    path.write_bytes("\ufeffFirst.\nSecond.\n".encode())
    assert gather_reviews([], path, io.BytesIO()) == ["First.", "Second."]


def test_unreadable_file_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", "--file", str(tmp_path / "missing.txt")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("imdb-sentiment: error: cannot read")


def test_output_is_label_and_probability_per_line_or_json() -> None:
    results = [("positive", 0.98765), ("negative", 0.01)]
    assert format_results(results, as_json=False) == ["positive\t0.9877", "negative\t0.0100"]
    rows = [json.loads(line) for line in format_results(results, as_json=True)]
    assert rows == [
        {"label": "positive", "probability": 0.98765},
        {"label": "negative", "probability": 0.01},
    ]


def test_a_bad_experiments_option_is_one_line_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["experiments", "--top", "0"]) == 1
    assert capsys.readouterr().err == "imdb-sentiment: error: --top must be at least 1\n"


def test_help_loads_neither_mlflow_nor_keras() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from imdb_sentiment.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['retrain', '--help'])\n"
        "print(sorted(m for m in ('mlflow', 'keras', 'tensorflow') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
