"""Stage `download`: fetch and verify the aclImdb archive, write the canonical reviews table."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from imdb_sentiment.config import DownloadParams, load_params, load_section
from imdb_sentiment.data.archive import read_reviews
from imdb_sentiment.data.reviews_table import write_reviews
from imdb_sentiment.data.source import (
    cache_dir,
    fetch,
    resolve_source,
    write_source_record,
)
from imdb_sentiment.data.transfer_limits import TransferLimits
from imdb_sentiment.entrypoint import run_stage
from imdb_sentiment.redact import redact_url

log = logging.getLogger("pipeline.download")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, required=True, help="reviews parquet to write")
    parser.add_argument(
        "--source", type=Path, required=True, help="JSON to record the URL and sha256 used"
    )
    args = parser.parse_args(argv)

    def body() -> None:
        params = load_section(load_params(args.params), "download", DownloadParams)
        limits = TransferLimits(
            max_bytes=params.max_bytes,
            min_bytes_per_second=params.min_bytes_per_second,
            speed_window_seconds=params.speed_window_seconds,
            deadline_seconds=params.deadline_seconds,
        )
        source = resolve_source(params.url, params.sha256)
        # The archive stays in a cache outside the repository (a rerun resumes or reuses it):
        # only the table read from it, and which archive it was, become DVC outputs.
        table = read_reviews(fetch(source, cache_dir(), limits))
        # Each written atomically; a kill between the two leaves the stage unfinished in
        # dvc.lock, so the next `dvc repro` writes both again.
        write_reviews(table, args.out)
        write_source_record(source, args.source)
        log.info(
            "wrote %d reviews to %s, read from %s (sha256 %s, recorded in %s)",
            table.num_rows,
            args.out,
            redact_url(source.location),
            source.sha256,
            args.source,
        )

    return run_stage("download", body, [args.out, args.source])


if __name__ == "__main__":
    sys.exit(main())
