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
