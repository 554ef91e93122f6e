"""The base of every error a user can fix; stage entry points print these as one line."""


class PipelineError(Exception):
    """A problem with inputs, params or the environment; the message names the fix."""


def first_line(exc: BaseException) -> str:
    """An exception's message cut to its first line (its type's name if it has none)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
