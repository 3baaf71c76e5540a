"""One exception type for user-facing failures: the CLI prints its message on one line."""


class DtmmError(Exception):
    """A problem the user can fix (bad input, missing tool); shown as one line, exit code 2."""
