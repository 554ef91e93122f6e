"""What MLflow runs to rebuild the raw-text model on load ("models from code": no pickle)."""

from mlflow.models import set_model

from imdb_sentiment.registry.text_model import ReviewSentimentModel

set_model(ReviewSentimentModel())
