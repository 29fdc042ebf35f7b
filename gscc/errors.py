"""Errors the user can act on. The CLI prints them as one line and exits non-zero."""


class GsccError(Exception):
    """Base class of every error gscc reports to the user."""


class InputError(GsccError):
    """An input file is missing, unreadable, or not what it claims to be."""


class FormatError(GsccError):
    """A .gsc file is corrupt, truncated, or of a version this decoder cannot read."""
