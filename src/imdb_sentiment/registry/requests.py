"""What one request to the raw-text model may hold, and why a request gets no answer.

No MLflow and no Keras here: `imdb-sentiment predict` checks reviews before it loads either,
and the served pyfunc (registry/text_model.py) applies the same rule to each request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imdb_sentiment.config import ServeParams

# Versions logged before the caps existed have none in serving.json: they get the values
# params.yaml's `serve` section first shipped with, so no version serves unbounded requests.
LEGACY_SERVE = ServeParams(max_reviews_per_request=1000, max_chars_per_review=20_000)


def request_caps(config: Mapping[str, Any]) -> ServeParams:
    """The caps in a logged model's serving.json; versions from before them get LEGACY_SERVE."""
    return ServeParams(**config["serve"]) if "serve" in config else LEGACY_SERVE


def review_problem(reviews: list[str], caps: ServeParams | None = None) -> str | None:
    """Why no answer would make sense for `reviews`, or None if there is none.

    `caps` bounds the request (the model's own; None before a model is loaded). Reviews are
    numbered from 1, as `imdb-sentiment predict` numbers them.
    """
    if not reviews:
        return "no reviews given"
    if caps is not None and len(reviews) > caps.max_reviews_per_request:
        return (
            f"{len(reviews):,} reviews in one request; this model takes at most "
            f"{caps.max_reviews_per_request:,} (serve.max_reviews_per_request): send fewer at once"
        )
    for number, review in enumerate(reviews, start=1):
        if caps is not None and len(review) > caps.max_chars_per_review:
            return (
                f"review {number} has {len(review):,} characters; this model takes at most "
                f"{caps.max_chars_per_review:,} (serve.max_chars_per_review): shorten it"
            )
        if not review.strip():
            return f"review {number} is empty; pass the review's text"
    return None
