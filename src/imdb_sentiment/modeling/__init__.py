"""The model and how it is fitted: nothing here knows about reviews or MLflow."""
