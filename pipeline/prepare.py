"""Stage `prepare`: tokenize, build the vocabulary, pad, and carve the validation split."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from imdb_sentiment.config import BaseParams, PrepareParams, load_params, load_section
from imdb_sentiment.entrypoint import run_stage
from imdb_sentiment.stages.prepare import prepare_data

log = logging.getLogger("pipeline.prepare")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--reviews", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory for arrays and json")
    args = parser.parse_args(argv)

    def body() -> None:
        params = load_params(args.params)
        base = load_section(params, "base", BaseParams)
        cfg = load_section(params, "prepare", PrepareParams)
        data = prepare_data(args.reviews, args.out, cfg, base.seed)
        counts = ", ".join(f"{name}={len(s.y)}" for name, s in data.splits.items())
        log.info("wrote %s to %s", counts, args.out)

    return run_stage("prepare", body, [args.out])


if __name__ == "__main__":
    sys.exit(main())
