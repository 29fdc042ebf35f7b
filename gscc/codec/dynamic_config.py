"""The dynamic encoder's typed configuration: the static settings (used for each segment's
static planes) plus the bit depths and transforms of the motion planes, the static-splat
mask's tolerance, and the presets (one per static preset, same names)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from .config import PRESETS, EncodeConfig, checked_transforms
from .motion_window import MotionWindow
from .vq import MAX_CODEBOOK, VqConfig

# Transforms a motion attribute may be coded with (every one is a 1.0 inverse transform,
# spec/codecs.md); the first is the default. Motion coefficients are heavy-tailed (most
# small, a few large): sign-log spends the levels where most values are.
DYNAMIC_TRANSFORM_CHOICES = {
    "motion": ("signlog", "identity"),
    "omega": ("identity", "signlog"),
    "t_center": ("identity",),
    "t_scale": ("identity",),
    "coeffs": ("identity", "signlog"),
}
BITS_FIELDS = {"motion": "motion_bits", "coeffs": "motion_bits", "omega": "omega_bits",
               "t_center": "time_bits", "t_scale": "time_scale_bits"}
# Fallbacks for a .splatv or dynamic .ply, which record no frame rate or frame count:
# N3DV videos are 30 fps and Spacetime Gaussians trains one model per 50 frames.
DEFAULT_FPS = 30.0
DEFAULT_FRAMES = 50


@dataclass(frozen=True)
class DynamicEncodeConfig:
    """Everything that decides the bytes of a dynamic `.gsc` file (with the input).

    ``static`` codes each segment's static planes, and its pruning applies with the
    opacity threshold meaning a splat's *peak* opacity over the segment (temporal
    visibility). ``static_motion``: a splat moving less than this fraction of the scene's
    extent (and turning by less than this, in unit-quaternion distance) over its segment
    is static: it codes no motion (0 disables the mask)."""

    static: EncodeConfig = field(default_factory=EncodeConfig)
    motion_bits: int = 9  # motion coefficients, motion-basis coefficients
    omega_bits: int = 12
    time_bits: int = 10  # t_center
    time_scale_bits: int = 8  # t_scale
    static_motion: float = 1e-4
    # Pruning by contribution (gscc.codec.contribution): splats whose peak blending weight
    # over the probe views x times stays below this many pixels (of a 320-pixel-wide view)
    # are dropped; the probe is the scene's own cameras plus ``contribution_views`` orbit
    # cameras. 0 disables it (and the encoder then renders nothing).
    prune_contribution: float = 0.0
    contribution_views: int = 8
    # times the probe views are rendered at, evenly spread over the segment, ends included:
    # splats that live a short time between two of them are judged on their fading edges
    contribution_times: int = 11
    # With it > 0 (dB), contribution pruning holds a budget per probe view (camera x time):
    # splats below the threshold go least estimated error first, each only while every
    # view's estimated error of the splats dropped stays within its squared error at this
    # PSNR (gscc.codec.contribution): many faint splats in one close-up view are not all
    # dropped. 0: every splat below the threshold goes.
    prune_view_psnr: float = 0.0
    # The motion window (gscc.codec.motion_window): motion coded times the splat's
    # half-window clip(motion_window * exp(t_scale), motion_window_floor, 1) to the power of
    # its degree (STG only; 0 disables it).
    motion_window: float = 0.0
    motion_window_floor: float = 1.0 / 64
    # motion planes vector-quantized (k-means codebook of vq_size vectors, its values at the
    # plane's bit depth; one label per splat) instead of scalar-quantized, e.g. ("motion",)
    vq_planes: tuple[str, ...] = ()
    vq_size: int = 4096
    # per-attribute transform overrides for the motion planes, e.g. (("motion", "identity"),)
    transforms: tuple[tuple[str, str], ...] = ()
    # Candidate codings (transform, bits) of the motion plane (STG's motion, a motion
    # basis's coeffs), e.g. (("signlog", 9), ("identity", 10)): per segment the encoder
    # renders the probe views with each (gscc.codec.motion_choice) and keeps the smallest
    # whose worst probe render stays >= motion_choice_psnr dB against exact motion, else the
    # best worst render. They replace motion_bits and the plane's transform. () : none.
    motion_choices: tuple[tuple[str, int], ...] = ()
    motion_choice_psnr: float = 46.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "transforms", checked_transforms(self.transforms, DYNAMIC_TRANSFORM_CHOICES))
        object.__setattr__(self, "motion_choices", tuple((str(t), int(b)) for t, b in self.motion_choices))
        for transform, bits in self.motion_choices:
            if transform not in DYNAMIC_TRANSFORM_CHOICES["motion"]:
                raise ValueError(f"unknown motion transform {transform!r} among the motion choices; choose from "
                                 f"{', '.join(DYNAMIC_TRANSFORM_CHOICES['motion'])}")
            if not 4 <= bits <= 16:
                raise ValueError("motion choices' bit depths must lie in 4..16")
        if self.motion_choices and (self.motion_window or {"motion", "coeffs"} & set(self.vq_planes)):
            raise ValueError("motion choices cannot be combined with the motion window or a vector-quantized motion plane")
        if not (math.isfinite(self.motion_choice_psnr) and 0.0 <= self.motion_choice_psnr <= 150.0):
            raise ValueError("the motion choice's PSNR must lie in 0..150 dB")
        for name in set(BITS_FIELDS.values()):
            if not 4 <= getattr(self, name) <= 16:
                raise ValueError(f"{name.replace('_', ' ')} must lie in 4..16")
        if not (math.isfinite(self.prune_contribution) and self.prune_contribution >= 0.0):
            raise ValueError("contribution pruning threshold must be a finite number of pixels >= 0")
        if not (math.isfinite(self.prune_view_psnr) and 0.0 <= self.prune_view_psnr <= 150.0):
            raise ValueError("contribution pruning's view PSNR must lie in 0..150 dB (0: no budget per view)")
        if not 2 <= self.contribution_times <= 128:
            raise ValueError("contribution times must lie in 2..128")
        if not 0 <= self.contribution_views <= 64:
            raise ValueError("contribution views must lie in 0..64")
        if not 0.0 <= self.static_motion < 1.0:
            raise ValueError("static motion tolerance must lie in [0, 1)")
        object.__setattr__(self, "vq_planes", tuple(sorted(set(self.vq_planes))))
        unknown = [name for name in self.vq_planes if name not in DYNAMIC_TRANSFORM_CHOICES]
        if unknown:
            raise ValueError(f"unknown motion plane {unknown[0]!r} to vector-quantize; choose from "
                             f"{', '.join(DYNAMIC_TRANSFORM_CHOICES)}")
        if not 1 <= self.vq_size <= MAX_CODEBOOK:
            raise ValueError(f"vq size must lie in 1..{MAX_CODEBOOK}")
        if self.motion_window:
            MotionWindow(self.motion_window, self.motion_window_floor)  # checks both

    @property
    def window(self) -> MotionWindow | None:
        """The motion window, or None when disabled."""
        return MotionWindow(self.motion_window, self.motion_window_floor) if self.motion_window else None

    def vq_for(self, attribute: str) -> VqConfig | None:
        """How ``attribute`` is vector-quantized, or None (scalar quantization)."""
        if attribute not in self.vq_planes:
            return None
        return VqConfig(codebook_size=self.vq_size, codebook_bits=self.bits_for(attribute), seed=self.static.seed)

    def bits_for(self, attribute: str) -> int:
        return getattr(self, BITS_FIELDS[attribute])

    def transform_for(self, attribute: str) -> str:
        return dict(self.transforms).get(attribute, DYNAMIC_TRANSFORM_CHOICES[attribute][0])

    def with_motion_coding(self, plane: str, transform: str, bits: int) -> "DynamicEncodeConfig":
        """A copy coding motion plane ``plane`` with ``transform`` at ``bits`` (no choices left)."""
        transforms = tuple(sorted({**dict(self.transforms), plane: transform}.items()))
        return replace(self, motion_bits=bits, transforms=transforms, motion_choices=())

    def to_dict(self) -> dict:
        settings = asdict(self)
        settings["static"] = self.static.to_dict()
        if not self.motion_choices:  # files without choices keep the settings record they had
            del settings["motion_choices"], settings["motion_choice_psnr"]
        return settings

    def with_overrides(self, **overrides) -> "DynamicEncodeConfig":
        """A copy with the given fields (its own or the static config's, including
        pruning) replaced; ``None`` values are ignored. Motion bits or transforms given
        without ``motion_choices`` drop the choices: what was asked for is coded."""
        own = {k: v for k, v in overrides.items() if k in self.__dataclass_fields__ and k != "static" and v is not None}
        if {"motion_bits", "transforms"} & set(own) and "motion_choices" not in own:
            own["motion_choices"] = ()
        rest = {k: v for k, v in overrides.items() if k not in self.__dataclass_fields__}
        return replace(self, static=self.static.with_overrides(**rest), **own)


# One dynamic preset per static preset (same names, same sorting and coders). The bit
# depths and the visibility threshold were chosen on the STG models of
# bench/dynamic_codec_bench.py (bench/README.md): renders against the source are most
# sensitive to scales, rotations and angular velocity (omega), much less to the motion
# coefficients; pruning splats whose peak opacity stays below 0.02 costs nothing visible;
# 14-bit positions cost nothing measurable either (2-5 % smaller). Pruning by contribution
# (what the renders see) saves far more than lower bit depths: the small preset.
DYNAMIC_PRESETS: dict[str, DynamicEncodeConfig] = {
    "default": DynamicEncodeConfig(
        static=PRESETS["default"].with_overrides(position_bits=14, scale_bits=10, rotation_bits=12,
                                                 opacity_threshold=0.02),
        motion_bits=9, omega_bits=12, time_bits=10, time_scale_bits=8),
    # The default's bit depths and pruning by contribution: splats that never paint 0.3 px
    # of a 320-pixel view of the scene's cameras or an orbit at 21 times go, least error
    # first, while every probe view (camera x time) stays within its squared error at 46 dB
    # (40-70 % of an STG model's splats); and per segment the motion plane coded with 9-bit
    # sign-log or 10-bit identity, whichever the probe renders need (gscc.codec.motion_choice).
    # On the four STG models: <= 0.2x the .splatv with every render >= 45 dB (bench/README.md,
    # the worst render), where lowering bit depths costs more PSNR per byte saved.
    "small": DynamicEncodeConfig(
        static=PRESETS["small"].with_overrides(scale_bits=10, rotation_bits=12, opacity_bits=8, color_bits=8),
        motion_bits=9, omega_bits=12, time_bits=10, time_scale_bits=8, prune_contribution=0.3,
        prune_view_psnr=46.0, contribution_times=21, motion_choices=(("signlog", 9), ("identity", 10))),
    "high": DynamicEncodeConfig(
        static=PRESETS["high"].with_overrides(scale_bits=12, rotation_bits=12, opacity_bits=10),
        motion_bits=12, omega_bits=14, time_bits=14, time_scale_bits=12, static_motion=0.0),
    # Dynamic GSCodec's codec (`gscc train --compression gscodec`): for models trained with
    # quantization simulated at these bit depths, judged against the capture's images rather
    # than against the model. Pruning by contribution at 0.3 px over the training cameras
    # (the run passes them) and orbit views, and coarser bit depths than the default: on
    # basketball 0:50 (bench/README.md, Dynamic GSCodec) each of them costs under 0.01 dB of
    # test PSNR, the pruning 0.07 dB, against 40 % of the default's bytes.
    "gscodec": DynamicEncodeConfig(
        static=PRESETS["default"].with_overrides(position_bits=12, scale_bits=9, rotation_bits=9, color_bits=6,
                                                 opacity_threshold=0.02),
        motion_bits=7, omega_bits=9, time_bits=9, time_scale_bits=7, prune_contribution=0.3),
    "gsplat-png": DynamicEncodeConfig(static=PRESETS["gsplat-png"], motion_bits=16, omega_bits=16, time_bits=16,
                                      time_scale_bits=16, static_motion=0.0, transforms=(("motion", "identity"),)),
}


def dynamic_preset(name: str) -> DynamicEncodeConfig:
    try:
        return DYNAMIC_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(DYNAMIC_PRESETS)}") from None
