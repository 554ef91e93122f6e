"""Data checks: Great Expectations suites and train-vs-test drift."""
