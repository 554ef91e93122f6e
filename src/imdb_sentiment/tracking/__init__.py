"""MLflow tracking: the store as a value, server preflight, lineage tags, ranking runs."""
