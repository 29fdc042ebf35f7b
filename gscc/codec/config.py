"""The encoder's typed configuration and its named presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from .prune import PruneConfig

SORTERS = ("plas", "none")
CODER_CHOICES = ("auto", "png", "ans", "raw")
SH_CODECS = ("vq", "scalar")


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

    def __post_init__(self) -> None:
        if self.sort not in SORTERS:
            raise ValueError(f"unknown sort {self.sort!r}; choose from {', '.join(SORTERS)}")
        if self.coder not in CODER_CHOICES:
            raise ValueError(f"unknown coder {self.coder!r}; choose from {', '.join(CODER_CHOICES)}")
        if self.sh_codec not in SH_CODECS:
            raise ValueError(f"unknown SH codec {self.sh_codec!r}; choose from {', '.join(SH_CODECS)}")
        if not 8 <= self.position_bits <= 16:
            raise ValueError("position bits must lie in 8..16")
        for name in ("scale_bits", "rotation_bits", "opacity_bits", "color_bits", "sh_bits"):
            if not 4 <= getattr(self, name) <= 8:
                raise ValueError(f"{name.replace('_', ' ')} must lie in 4..8")
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
        }[attribute]

    def to_dict(self) -> dict:
        return asdict(self)

    def with_overrides(self, **overrides) -> "EncodeConfig":
        """A copy with the given fields replaced; ``None`` values are ignored."""
        prune_fields = {k: v for k, v in overrides.items() if k in PruneConfig.__dataclass_fields__}
        plain = {
            k: v for k, v in overrides.items() if v is not None and k not in PruneConfig.__dataclass_fields__
        }
        prune = replace(self.prune, **{k: v for k, v in prune_fields.items() if v is not None})
        return replace(self, prune=prune, **plain)


PRESETS: dict[str, EncodeConfig] = {
    # the balance we recommend: 16-bit positions, 8-bit everything else, VQ for SH
    "default": EncodeConfig(),
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
}


def preset(name: str) -> EncodeConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None
