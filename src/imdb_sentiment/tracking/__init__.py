"""MLflow tracking: store location, server preflight, run tags and lineage, run comparison."""
