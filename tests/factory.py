"""Tiny aclImdb-shaped archives built on the fly, so no test needs the real dataset."""

from __future__ import annotations

import hashlib
import io
import random
import tarfile
from pathlib import Path

POSITIVE = ["great", "wonderful", "loved", "brilliant", "moving", "superb", "fun", "best"]
NEGATIVE = ["awful", "boring", "hated", "terrible", "dull", "worst", "waste", "bad"]
FILLER = ["the", "movie", "film", "plot", "actors", "was", "a", "and", "it", "this", "story"]


def review_text(label: int, rng: random.Random) -> str:
    """A short review whose sentiment words make the label learnable, with IMDB's <br /> tags."""
    cue = POSITIVE if label else NEGATIVE
    words = [rng.choice(FILLER if rng.random() < 0.6 else cue) for _ in range(rng.randint(8, 30))]
    return " ".join(words[:5]).capitalize() + ".<br /><br />" + " ".join(words[5:]) + "."


def build_archive(path: Path, per_label: int = 12, layout: str = "labeled", seed: int = 0) -> str:
    """Write a tar.gz in aclImdb layout; return its sha256.

    layout="full" adds what the real Stanford archive has beyond the labeled reviews
    (train/unsup/, .feat files, url lists), in a different member order.
    """
    rng = random.Random(seed)
    members: list[tuple[str, bytes]] = [("aclImdb/README", b"tiny test archive\n")]
    for split in ("train", "test"):
        for label, name in ((0, "neg"), (1, "pos")):
            for review_id in range(per_label):
                rating = rng.randint(1, 4) if label == 0 else rng.randint(7, 10)
                text = review_text(label, rng).encode()
                members.append((f"aclImdb/{split}/{name}/{review_id}_{rating}.txt", text))
    if layout == "full":
        members += [
            ("aclImdb/train/labeledBow.feat", b"0:1 1:2\n"),
            ("aclImdb/train/unsupBow.feat", b"0:1\n"),
            ("aclImdb/train/urls_unsup.txt", b"http://example.invalid/\n"),
        ]
        members += [(f"aclImdb/train/unsup/{i}_0.txt", b"unlabeled review") for i in range(5)]
        members.reverse()  # a different order must not change the table
    elif layout != "labeled":
        raise ValueError(f"unknown layout {layout!r}")
    write_tar(path, members)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_tar(path: Path, members: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


# Hostile and damaged archives: members beyond (name, bytes) pairs, and byte-level damage.

Member = tuple[str, bytes] | tarfile.TarInfo


def minimal_members(text: bytes = b"A fine review.") -> list[tuple[str, bytes]]:
    """One review per split and label folder: the smallest archive that reads."""
    return [
        (f"aclImdb/{split}/{label}/0_{rating}.txt", text)
        for split in ("train", "test")
        for label, rating in (("neg", 1), ("pos", 9))
    ]


def link(name: str, target: str, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def special(name: str, kind: bytes = tarfile.FIFOTYPE) -> tarfile.TarInfo:
    """A FIFO (or, with kind=tarfile.CHRTYPE, a device) entry."""
    info = tarfile.TarInfo(name)
    info.type = kind
    return info


def directory(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def tar_bytes(members: list[Member]) -> bytes:
    """An uncompressed tar: for damage done below the gzip layer."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add_members(tar, members)
    return buf.getvalue()


def write_members(path: Path, members: list[Member]) -> str:
    """Like write_tar, with links, devices and directories allowed; return the sha256."""
    with tarfile.open(path, "w:gz") as tar:
        _add_members(tar, members)
    return sha256_file(path)


def _add_members(tar: tarfile.TarFile, members: list[Member]) -> None:
    for member in members:
        if isinstance(member, tarfile.TarInfo):
            tar.addfile(member)
        else:
            name, data = member
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def damage_middle(path: Path, length: int = 16) -> str:
    """Invert `length` bytes in the middle of the file in place; return the new sha256."""
    return damage(path, path.stat().st_size // 2, length)


def damage(path: Path, offset: int, length: int = 16) -> str:
    """Invert `length` bytes from `offset` in place; return the new sha256."""
    data = bytearray(path.read_bytes())
    data[offset : offset + length] = bytes(b ^ 0xFF for b in data[offset : offset + length])
    path.write_bytes(bytes(data))
    return sha256_file(path)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
