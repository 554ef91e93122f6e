"""Fixtures for the pipeline tests (defined beside the helpers that use them)."""

from tests.pipeline.dvc_repo import repo  # noqa: F401 - pytest finds fixtures by name here
from tests.pipeline.stages import workspace  # noqa: F401
