from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

import pytest

from imdb_sentiment.data.archive import MAX_REVIEW_BYTES, ArchiveError, read_reviews
from imdb_sentiment.data.reviews_table import write_reviews
from tests.conftest import PER_LABEL
from tests.factory import (
    Member,
    build_archive,
    damage,
    damage_middle,
    directory,
    link,
    minimal_members,
    special,
    tar_bytes,
    write_members,
)


def test_full_and_labeled_layouts_give_byte_identical_tables(
    archives: dict[str, tuple[Path, str]], tmp_path: Path
) -> None:
    (labeled, labeled_sha), (full, full_sha) = archives["labeled"], archives["full"]
    assert labeled_sha != full_sha  # different archives ...
    outputs = []
    for name, archive in (("labeled", labeled), ("full", full)):
        out = tmp_path / f"{name}.parquet"
        write_reviews(read_reviews(archive), out)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]  # ... the same table, byte for byte


def test_table_has_canonical_columns_order_and_types(archives: dict) -> None:
    table = read_reviews(archives["full"][0])
    assert table.column_names == ["split", "label", "rating", "review_id", "text"]
    frame = table.to_pandas()
    assert len(frame) == 4 * PER_LABEL
    assert frame["split"].tolist() == ["train"] * (2 * PER_LABEL) + ["test"] * (2 * PER_LABEL)
    keys = list(
        zip(
            frame["split"].map({"train": 0, "test": 1}),
            frame["label"],
            frame["review_id"],
            strict=True,
        )
    )
    assert keys == sorted(keys)
    assert (frame.loc[frame["label"] == 0, "rating"] <= 4).all()
    assert (frame.loc[frame["label"] == 1, "rating"] >= 7).all()
    assert frame["text"].str.contains("<br />").all()  # the raw text is kept as written


def _archive(tmp_path: Path, members: list[Member]) -> Path:
    path = tmp_path / "a.tar.gz"
    write_members(path, members)
    return path


def test_files_outside_the_label_folders_are_ignored(tmp_path: Path) -> None:
    """The full Stanford archive holds all of these beside the labeled reviews."""
    extras: list[Member] = [
        directory("aclImdb"),
        directory("aclImdb/train"),
        directory("aclImdb/train/neg"),
        ("aclImdb/README", b"readme"),
        ("aclImdb/imdb.vocab", b"the\nand\n"),
        ("aclImdb/imdbEr.txt", b"0.1\n"),
        ("aclImdb/train/labeledBow.feat", b"0:1\n"),
        ("aclImdb/test/urls_pos.txt", b"http://example.invalid/\n"),
        directory("aclImdb/train/unsup"),
        ("aclImdb/train/unsup/0_0.txt", b""),  # unlabeled: rating 0 and empty are fine here
        ("aclImdb/train/unsup/notes", b"\xff"),
    ]
    table = read_reviews(_archive(tmp_path, extras + minimal_members()))
    assert table.num_rows == 4


@pytest.mark.parametrize("missing", ["test/", "test/pos/"])
def test_a_missing_split_or_label_folder_is_an_error(tmp_path: Path, missing: str) -> None:
    members = [m for m in minimal_members() if f"aclImdb/{missing}" not in m[0]]
    with pytest.raises(ArchiveError, match=rf"no reviews under aclImdb/{missing.split('/')[0]}/"):
        read_reviews(_archive(tmp_path, members))


def with_review(name: str, text: bytes = b"A review.") -> list[Member]:
    return [*minimal_members(), (name, text)]


def test_names_at_the_limits_are_read(tmp_path: Path) -> None:
    members = [
        *minimal_members(),
        ("./aclImdb/train/neg/7_10.txt", b"Rated 10."),
        (f"aclImdb/test/pos/{2**31 - 1}_1.txt", b"The largest id."),
    ]
    table = read_reviews(_archive(tmp_path, members)).to_pylist()
    assert {(r["rating"], r["review_id"]) for r in table} >= {(10, 7), (1, 2**31 - 1)}


def test_invalid_utf8_names_the_member(tmp_path: Path) -> None:
    members = with_review("aclImdb/train/neg/7_1.txt", b"caf\xe9")
    with pytest.raises(ArchiveError, match=r"'aclImdb/train/neg/7_1\.txt' is not valid UTF-8"):
        read_reviews(_archive(tmp_path, members))


@pytest.mark.parametrize("text", [b"", b" \n\t\r ", "\u00a0\u2003".encode()])
def test_an_empty_or_blank_review_names_the_member(tmp_path: Path, text: bytes) -> None:
    members = with_review("aclImdb/test/pos/7_8.txt", text)
    with pytest.raises(ArchiveError, match=r"'aclImdb/test/pos/7_8\.txt' is empty or only white"):
        read_reviews(_archive(tmp_path, members))


@pytest.mark.parametrize(
    "filename",
    [
        "12.txt",
        "abc_3.txt",
        "1_3.text",
        "1_3.txt.bak",
        "_3.txt",
        "1_.txt",
        "1_3.txt\n",
        "\u0661_3.txt",
        "sub/1_3.txt",
        "README",
    ],
)
def test_a_file_in_a_label_folder_not_named_id_rating_txt_is_an_error(
    tmp_path: Path, filename: str
) -> None:
    name = f"aclImdb/train/pos/{filename}"
    with pytest.raises(ArchiveError, match=r"is not a review file named ID_RATING\.txt") as err:
        read_reviews(_archive(tmp_path, with_review(name)))
    assert repr(name) in str(err.value)


@pytest.mark.parametrize("rating", [0, 11, 99])
def test_a_rating_outside_1_to_10_is_an_error(tmp_path: Path, rating: int) -> None:
    members = with_review(f"aclImdb/train/neg/5_{rating}.txt")
    with pytest.raises(ArchiveError, match=rf"'aclImdb/train/neg/5_{rating}\.txt' has rating"):
        read_reviews(_archive(tmp_path, members))


def test_a_review_id_beyond_int32_is_an_error(tmp_path: Path) -> None:
    members = with_review(f"aclImdb/train/neg/{2**31}_1.txt")
    with pytest.raises(ArchiveError, match=r"has review id 2147483648, above 2\*\*31 - 1"):
        read_reviews(_archive(tmp_path, members))


def test_a_member_too_big_for_a_review_is_not_read(tmp_path: Path) -> None:
    members = with_review("aclImdb/train/neg/5_1.txt", b" " * (MAX_REVIEW_BYTES + 1))
    with pytest.raises(ArchiveError, match="too big for a review"):
        read_reviews(_archive(tmp_path, members))


def test_a_directory_where_a_review_should_be_is_an_error(tmp_path: Path) -> None:
    members = [*minimal_members(), directory("aclImdb/train/neg/5_1.txt")]
    with pytest.raises(ArchiveError, match=r"'aclImdb/train/neg/5_1\.txt' is not a regular file"):
        read_reviews(_archive(tmp_path, members))


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (("/etc/passwd", b"x"), "has an absolute path"),
        (("/aclImdb/train/neg/5_1.txt", b"x"), "has an absolute path"),
        (("../aclImdb/README", b"x"), "has '..' in its path"),
        (("aclImdb/../../evil.sh", b"x"), "has '..' in its path"),
        # stays inside the folder, so the data filter would allow it; we do not
        (("aclImdb/train/neg/../pos/5_9.txt", b"x"), "has '..' in its path"),
        (link("aclImdb/README", "/etc/passwd"), "is a symbolic link (to '/etc/passwd')"),
        (link("aclImdb/train/neg/5_1.txt", "0_1.txt"), "is a symbolic link"),
        (link("aclImdb/train/unsup/9_0.txt", "../neg/0_1.txt"), "is a symbolic link"),
        (link("aclImdb/train/pos/5_9.txt", "aclImdb/train/pos/0_9.txt", hard=True), "hard link"),
        (link("aclImdb/imdb.vocab", "/etc/shadow", hard=True), "is a hard link"),
        (special("aclImdb/fifo"), "is a device or FIFO"),
        (special("aclImdb/tty", tarfile.CHRTYPE), "is a device or FIFO"),
    ],
)
def test_an_archive_unsafe_to_extract_is_refused_whole(
    tmp_path: Path, member: Member, problem: str
) -> None:
    # Last, after every review: one bad member anywhere refuses the whole archive.
    with pytest.raises(ArchiveError, match="is refused: member") as err:
        read_reviews(_archive(tmp_path, [*minimal_members(), member]))
    assert problem in str(err.value)


def test_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "notes.tar.gz"
    path.write_text("<html>Not Found</html>")
    with pytest.raises(ArchiveError, match=r"not a readable tar\.gz: it is not gzip data"):
        read_reviews(path)
    path.write_bytes(b"")
    with pytest.raises(ArchiveError, match=r"not gzip data \(it starts with b''\)"):
        read_reviews(path)


def test_gzip_data_that_is_no_tar_archive(tmp_path: Path) -> None:
    path = tmp_path / "notes.tar.gz"
    path.write_bytes(gzip.compress(b"just some text\n" * 100))
    with pytest.raises(ArchiveError, match="its gzip data holds no tar archive"):
        read_reviews(path)


def test_an_unreadable_path_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match=r"is not a readable tar\.gz \(\[Errno 21\]"):
        read_reviews(tmp_path)  # a directory


@pytest.fixture
def good_archive(tmp_path: Path) -> Path:
    path = tmp_path / "good.tar.gz"
    build_archive(path, per_label=40)
    return path


@pytest.mark.parametrize("where", ["start", "middle"])
def test_gzip_data_damaged_is_corrupt(good_archive: Path, where: str) -> None:
    # At byte 20 the damage hits the first tar header, which tarfile reports as a ReadError.
    damage(good_archive, 20) if where == "start" else damage_middle(good_archive)
    with pytest.raises(ArchiveError, match=r"not a readable tar\.gz: its data is corrupt"):
        read_reviews(good_archive)


@pytest.mark.parametrize("padding", [0, 256 << 10])
def test_a_wrong_gzip_crc_is_corrupt(tmp_path: Path, padding: int) -> None:
    """Damage that still decompresses is caught only by the CRC at the end of the gzip data.

    With padding (a tar written with a large blocking factor), tarfile stops reading long
    before the end: only reading on to the end gets the CRC checked.
    """
    data = bytearray(gzip.compress(tar_bytes(minimal_members()) + b"\0" * padding))
    data[-8] ^= 0xFF  # the CRC32 of the uncompressed data
    path = tmp_path / "a.tar.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"its data is corrupt \(CRC check failed"):
        read_reviews(path)


def test_gzip_data_cut_short_is_corrupt(good_archive: Path) -> None:
    good_archive.write_bytes(good_archive.read_bytes()[:-100])
    with pytest.raises(ArchiveError, match="its data is corrupt"):
        read_reviews(good_archive)


def test_a_damaged_tar_header_is_not_taken_for_the_end(tmp_path: Path) -> None:
    # 4 reviews of 1 header and 1 data block each: the 5th member's header is at 4 * 1024.
    data = bytearray(tar_bytes([*minimal_members(), ("aclImdb/test/pos/5_9.txt", b"More.")]))
    data[4 * 1024 + 148 : 4 * 1024 + 156] = b"0000000\0"  # its header checksum
    path = tmp_path / "a.tar.gz"
    path.write_bytes(gzip.compress(bytes(data)))
    with pytest.raises(ArchiveError, match=r"its data is corrupt .*unreadable tar header"):
        read_reviews(path)


def test_tar_data_without_its_end_marker_is_corrupt(tmp_path: Path) -> None:
    data = tar_bytes([*minimal_members(), ("aclImdb/test/pos/5_9.txt", b"More.")])
    path = tmp_path / "a.tar.gz"
    path.write_bytes(gzip.compress(data[: 4 * 1024]))  # cut where the 5th member begins
    with pytest.raises(ArchiveError, match=r"its data is corrupt .*without its end marker"):
        read_reviews(path)
