"""`imdb-sentiment retrain`: pull, reproduce through the champion gate, push, report."""
