"""The base of every error a user can fix; stage entry points print these as one line."""


class PipelineError(Exception):
    """A problem with inputs, params or the environment; the message names the fix."""
