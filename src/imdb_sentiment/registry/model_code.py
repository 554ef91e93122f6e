"""What MLflow runs to rebuild the raw-text model on load ("models from code": no pickle)."""

from imdb_sentiment.registry.text_model import set_text_model

set_text_model()
