"""The glue each pipeline/<stage>.py calls: library pieces wired into one stage's work."""
