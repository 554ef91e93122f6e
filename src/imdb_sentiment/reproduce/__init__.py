"""`imdb-sentiment reproduce`: rebuild a registered version from its lineage and attest it."""
