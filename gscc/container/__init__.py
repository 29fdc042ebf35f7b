"""The versioned `.gsc` container (spec/container.md)."""

from .format import (
    CHUNK_TYPES, DYNAMIC_VERSION, FEATURES_VERSION, INTERP_VERSION, JXL_VERSION, LEARNED_VERSION, MAGIC, REFINE_VERSION,
    VERSION, Container, pack, unpack,
)
from .weights import pack_weights, unpack_weights

__all__ = [
    "CHUNK_TYPES", "DYNAMIC_VERSION", "FEATURES_VERSION", "INTERP_VERSION", "JXL_VERSION", "LEARNED_VERSION", "MAGIC",
    "REFINE_VERSION", "VERSION", "Container",
    "pack", "unpack", "pack_weights",
    "unpack_weights",
]
