"""Development and test infrastructure (local servers, team mode); not installed."""
