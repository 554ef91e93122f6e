"""IMDB sentiment: a reproducible DVC + MLflow + Keras 3 pipeline."""

__version__ = "0.1.0"
