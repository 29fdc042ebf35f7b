"""The encoder's typed configuration and its named presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from .prune import PruneConfig

SORTERS = ("plas", "none")
CODER_CHOICES = ("auto", "png", "ans", "raw", "jxl", "ans-interp")
SH_CODECS = ("vq", "scalar")
PRECISIONS = ("fixed", "adaptive")  # gscc.codec.precision
# Transforms an attribute may be coded with instead of its default (gscc.codec.attributes).
# All are inverse transforms the 1.0 decoder already applies (spec/codecs.md); with
# "identity" for quats the encoder normalises them and codes the four components as is.
TRANSFORM_CHOICES = {
    "means": ("signlog", "identity"),
    "scales": ("identity",),
    "quats": ("smallest3", "identity"),
    "opacities": ("sigmoid", "identity"),
    "sh0": ("identity",),
    "shN": ("identity",),
    "features": ("identity",),
}


def checked_transforms(transforms, choices: dict[str, tuple[str, ...]]) -> tuple[tuple[str, str], ...]:
    """Transform overrides (pairs or a dict) as sorted (attribute, transform) pairs, each
    checked against ``choices``; ValueError otherwise."""
    pairs = transforms.items() if isinstance(transforms, dict) else transforms
    pairs = tuple(sorted((str(name), str(transform)) for name, transform in pairs))
    for name, transform in pairs:
        if name not in choices:
            raise ValueError(f"unknown attribute {name!r} in transforms; choose from {', '.join(choices)}")
        if transform not in choices[name]:
            raise ValueError(f"transform {transform!r} is not available for {name}; choose from {', '.join(choices[name])}")
    if len({name for name, _ in pairs}) != len(pairs):
        raise ValueError("transforms name an attribute more than once")
    return pairs


@dataclass(frozen=True)
class EncodeConfig:
    """Everything that decides the bytes of a `.gsc` file (with the input)."""

    prune: PruneConfig = field(default_factory=lambda: PruneConfig(opacity_threshold=0.005))
    sort: str = "plas"
    position_bits: int = 16
    scale_bits: int = 8
    rotation_bits: int = 8
    opacity_bits: int = 8
    color_bits: int = 8
    sh_codec: str = "vq"
    sh_bits: int = 8
    sh_codebook: int = 0  # 0: adapt to the splat count
    coder: str = "auto"
    seed: int = 0
    # per-attribute transform overrides, e.g. (("opacities", "identity"),); a dict is accepted
    transforms: tuple[tuple[str, str], ...] = ()
    # "fixed": every attribute at its bit depth above; "adaptive": those depths are
    # ceilings and the encoder picks each from the scene (gscc.codec.precision)
    precision: str = "fixed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "transforms", checked_transforms(self.transforms, TRANSFORM_CHOICES))
        if self.sort not in SORTERS:
            raise ValueError(f"unknown sort {self.sort!r}; choose from {', '.join(SORTERS)}")
        if self.coder not in CODER_CHOICES:
            raise ValueError(f"unknown coder {self.coder!r}; choose from {', '.join(CODER_CHOICES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}")
        if self.sh_codec not in SH_CODECS:
            raise ValueError(f"unknown SH codec {self.sh_codec!r}; choose from {', '.join(SH_CODECS)}")
        if not 8 <= self.position_bits <= 16:
            raise ValueError("position bits must lie in 8..16")
        # up to 16 bits (the format's limit) where a dynamic preset needs finer geometry
        for name in ("scale_bits", "rotation_bits", "opacity_bits", "color_bits"):
            if not 4 <= getattr(self, name) <= 16:
                raise ValueError(f"{name.replace('_', ' ')} must lie in 4..16")
        if not 4 <= self.sh_bits <= 8:
            raise ValueError("sh bits must lie in 4..8")
        if not 0 <= self.sh_codebook <= 1 << 16:
            raise ValueError("SH codebook size must lie in 0..65536 (0: automatic)")

    def bits_for(self, attribute: str) -> int:
        return {
            "means": self.position_bits,
            "scales": self.scale_bits,
            "quats": self.rotation_bits,
            "opacities": self.opacity_bits,
            "sh0": self.color_bits,
            "shN": self.sh_bits,
            "features": self.color_bits,  # the colour of an MLP-coloured scene
        }[attribute]

    def transform_for(self, attribute: str, default: str) -> str:
        """The transform ``attribute`` is coded with: its override, else ``default``."""
        return dict(self.transforms).get(attribute, default)

    def to_dict(self) -> dict:
        settings = asdict(self)
        if not self.transforms:  # files without overrides keep the settings record they had
            del settings["transforms"]
        if self.precision == "fixed":  # likewise files at fixed depths
            del settings["precision"]
        return settings

    def with_overrides(self, **overrides) -> "EncodeConfig":
        """A copy with the given fields replaced; ``None`` values are ignored. A bit depth
        given without a ``precision`` makes the depths fixed: what was asked for is coded."""
        if "precision" not in overrides and any(v is not None for k, v in overrides.items() if k.endswith("_bits")):
            overrides = {**overrides, "precision": "fixed"}
        prune_fields = {k: v for k, v in overrides.items() if k in PruneConfig.__dataclass_fields__}
        plain = {
            k: v for k, v in overrides.items() if v is not None and k not in PruneConfig.__dataclass_fields__
        }
        prune = replace(self.prune, **{k: v for k, v in prune_fields.items() if v is not None})
        return replace(self, prune=prune, **plain)


PRESETS: dict[str, EncodeConfig] = {
    # the balance we recommend: bit depths chosen from the scene at about one render
    # quality (gscc.codec.precision), at most 16-bit positions and 8 bits for the rest; VQ for SH
    "default": EncodeConfig(precision="adaptive"),
    # the smallest files: coarser attributes and stronger pruning
    "small": EncodeConfig(
        prune=PruneConfig(opacity_threshold=0.02),
        position_bits=14,
        scale_bits=6,
        rotation_bits=6,
        opacity_bits=6,
        color_bits=6,
        sh_bits=6,
    ),
    # near-transparent quality: no pruning, SH quantized per coefficient instead of VQ
    "high": EncodeConfig(prune=PruneConfig(), sh_codec="scalar"),
    # gsplat's PNG compression (gsplat/compression/png_compression.py, gsplat 1.5) in gscc
    # terms: PLAS sort, no pruning, PNG only; means 16-bit after sign-log (its
    # log_transform); scales, sh0 8-bit; opacities 8-bit as raw logits and quats
    # normalised, 8-bit per component (both with the identity transform); shN by k-means
    # with 65536 clusters and 6-bit centroids. Where gscc differs (bench/README.md has the
    # full list): splats are not cropped to a square count (padding cells instead of
    # dropping the least opaque); the PLAS features are gscc's normalised, weighted ones
    # (gsplat sorts the raw concatenated values); 16-bit means are one 16-bit greyscale
    # PNG per coordinate (gsplat: low and high bytes as two 8-bit RGB PNGs); k-means is
    # gscc's L2 Lloyd (gsplat: torchpq, L1), its codebook is quantized per dimension
    # (gsplat: one min/max for all) and at most one cluster per splat, and its 16-bit
    # labels are a PNG (gsplat: npz/deflate).
    "gsplat-png": EncodeConfig(
        prune=PruneConfig(),
        sort="plas",
        position_bits=16,
        scale_bits=8,
        rotation_bits=8,
        opacity_bits=8,
        color_bits=8,
        sh_codec="vq",
        sh_bits=6,
        sh_codebook=65536,
        coder="png",
        transforms=(("opacities", "identity"), ("quats", "identity")),
    ),
}


def preset(name: str) -> EncodeConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None
