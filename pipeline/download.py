"""Stage `download`: fetch and verify the aclImdb archive, write the canonical reviews table."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from imdb_sentiment.config import DownloadParams, load_params, load_section
from imdb_sentiment.data.archive import read_reviews
from imdb_sentiment.data.reviews_table import write_reviews
from imdb_sentiment.data.source import cache_dir, fetch, resolve_source
from imdb_sentiment.entrypoint import run_stage

log = logging.getLogger("pipeline.download")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, required=True, help="reviews parquet to write")
    args = parser.parse_args(argv)

    def body() -> None:
        params = load_section(load_params(args.params), "download", DownloadParams)
        source = resolve_source(params.url, params.sha256)
        # The archive stays in a cache outside the repository (a rerun resumes or reuses it):
        # only the table read from it becomes a DVC output.
        table = read_reviews(fetch(source, cache_dir()))
        write_reviews(table, args.out)
        log.info("wrote %d reviews to %s", table.num_rows, args.out)

    return run_stage("download", body)


if __name__ == "__main__":
    sys.exit(main())
