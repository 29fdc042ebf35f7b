"""Errors the user can act on. The CLI prints them as one line and exits non-zero."""


class GsccError(Exception):
    """Base class of every error gscc reports to the user."""


class InputError(GsccError):
    """An input file is missing, unreadable, or not what it claims to be."""


class FormatError(GsccError):
    """A .gsc file is corrupt, truncated, or of a version this decoder cannot read."""


class GsccWarning(UserWarning):
    """Something was wrong with an input but gscc could carry on (e.g. dropped bad splats)."""


def warn(message: str) -> None:
    """Report a one-line warning; the CLI prints it as ``warning: ...``."""
    import warnings

    warnings.warn(message, GsccWarning, stacklevel=2)
