"""gscc: a codec for Gaussian splats (static 3DGS now; dynamic 4DGS later)."""

__version__ = "0.1.0"
