"""Errors the user can act on. The CLI prints them as one line and exits non-zero.

A `.gsc` file that is not valid raises a :class:`FormatError`; its subclass names the
error class of spec/validation.md (``error_class``), which the invalid-file conformance
vectors list per file.
"""


class GsccError(Exception):
    """Base class of every error gscc reports to the user."""


class InputError(GsccError):
    """An input file is missing, unreadable, or not what it claims to be."""


class MissingExtraError(GsccError):
    """A command needs an optional dependency (an install extra) that is not installed."""


class FormatError(GsccError):
    """A .gsc file is corrupt, truncated, or of a version this decoder cannot read."""

    error_class = "format"


class ContainerError(FormatError):
    """The bytes are not a well-formed container: magic, preamble, header encoding,
    checksums, chunk table, trailing bytes (spec/validation.md, class ``container``)."""

    error_class = "container"


class VersionError(FormatError):
    """An unknown major version, or a feature in a file that declares a version older
    than the one that introduced it (class ``version``)."""

    error_class = "version"


class HeaderError(FormatError):
    """The header's scene description breaks a rule: a missing, ill-typed, out-of-range
    or unknown key, a chunk reference of the wrong type (class ``header``)."""

    error_class = "header"


class PayloadError(FormatError):
    """A chunk's content is malformed: tables, streams, images, lengths, or decoded
    integers out of range (class ``payload``)."""

    error_class = "payload"


class LimitError(FormatError):
    """The file exceeds a resource limit of the format, checked before the work or the
    memory it would cost (class ``limit``)."""

    error_class = "limit"


class NonFiniteError(FormatError):
    """Dequantization gives a value that is not finite in float32 (class ``non-finite``)."""

    error_class = "non-finite"


ERROR_CLASSES = {
    cls.error_class: cls for cls in (ContainerError, VersionError, HeaderError, PayloadError, LimitError, NonFiniteError)
}


class GsccWarning(UserWarning):
    """Something was wrong with an input but gscc could carry on (e.g. dropped bad splats)."""


def warn(message: str) -> None:
    """Report a one-line warning; the CLI prints it as ``warning: ...``."""
    import warnings

    warnings.warn(message, GsccWarning, stacklevel=2)
