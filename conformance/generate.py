"""Create conformance vectors: `.gsc` files and the SHA-256 of their decoded arrays.

    python conformance/generate.py            # add the vectors that do not exist yet
    python conformance/generate.py --list     # show the recipe of every vector

Existing vectors are never regenerated or overwritten: a vector is a promise about the
format. To change what a decoder reads, bump the format version, add new vectors under
new names, and record it in CHANGELOG.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gscc.codec.attributes import attribute_arrays
from gscc.codec.config import EncodeConfig, preset
from gscc.codec.context_coding import GaussianContextSource
from gscc.codec.context_net import LEVELS_PER_OCTAVE, SIGMA_MIN, corner_index
from gscc.codec.decoder import decode_scene
from gscc.codec.dynamic_config import DynamicEncodeConfig, dynamic_preset
from gscc.codec.dynamic_decoder import decode_dynamic
from gscc.codec.dynamic_encoder import encode_dynamic
from gscc.codec.encoder import encode_tracked
from gscc.codec.quantize import forward_transform
from gscc.codec.refinement import Classes, ShiftTable
from gscc.container import unpack
from gscc.io import load_splats
from gscc.dynamic import DynamicScene, DynamicSplats, Segment
from gscc.splats import FeatureSplats, SplatSet
from gscc.synthetic import random_dynamic_splats, random_feature_splats, random_splats, random_stg_motion

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import handmade  # noqa: E402  (conformance/handmade.py)

VECTORS = HERE / "vectors"
MANIFEST = HERE / "manifest.json"
SAMPLE = HERE.parent / "gscc" / "samples" / "plant-20k.splat"


def plant(n: int) -> SplatSet:
    """The first n splats of the shipped real sample."""
    return load_splats(SAMPLE).subset(np.arange(n))


def synthetic(n: int, degree: int, seed: int) -> SplatSet:
    """A seeded random scene with higher-order SH (10% of splats without)."""
    return random_splats(n, degree, seed, sh_std=0.2, sh_present=0.9)


class LaplaceTables:
    """A fixed, numpy-only table source (gscc.codec.learned.TableSource) for the learned
    coding vectors: per channel, a Laplacian over the encoder's symbols centred on the
    middle symbol (A - 1) / 2 with scale ``A * width`` symbols, integrated over unit bins
    (the end bins take the tails). Not fitted to anything: a reproducible stand-in for a
    trained density."""

    name = "laplace"
    coding = "ans-table"

    def __init__(self, width: float) -> None:
        self.width = width

    def probabilities(self, quant) -> np.ndarray:
        alphabet = 1 << quant.bits
        edges = np.arange(1, alphabet) - 0.5 - (alphabet - 1) / 2  # inner bin edges, centred
        scale = alphabet * self.width
        cdf = np.where(edges < 0, 0.5 * np.exp(edges / scale), 1.0 - 0.5 * np.exp(-edges / scale))
        p = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
        return np.tile(p, (len(quant.lo), 1))


# ---------------------------------------------------------------------------- context coding
# The learned-context vector: hand-set hash-grid Gaussian networks in the float layout of
# HashGridGaussian.export_arrays() (numpy only, no training), and a scene drawn from their
# own Gaussians, so the ans-context coding is much smaller than the empirical one. The
# networks work in attribute units (train_lo 0, train_step 1): mu is a value, the level
# s gives sigma = SIGMA_MIN * 2**(s / LEVELS_PER_OCTAVE) in value units; the encoder folds
# in its quantizer. The fixed-point copy the file stores is what a decoder evaluates; the
# float evaluation below only draws the scene.
def _f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _corners(resolution: int) -> np.ndarray:
    """A dense level's table holding the corners' unit coordinates: its features are x."""
    r = range(resolution + 1)
    return np.array([[i, j, k] for k in r for j in r for i in r], dtype=np.float64) / resolution


def sh0_context_network() -> dict:
    """3 channels; a dense level (resolution 1, features x) and a hashed one (resolution 3,
    16 rows of seeded values in [-1, 1]); hidden: x and the hashed features + 1; mu linear
    in both, the level 4 log2(0.003 / SIGMA_MIN) + 8 x0 (sigma 0.003 .. 0.012)."""
    hashed = np.random.default_rng(21).uniform(-1.0, 1.0, (16, 3))
    slopes = np.array([[0.8, 0.4, 0.0], [0.0, -0.9, 0.3], [0.3, 0.3, -0.5]])
    bump = 0.03
    last = np.zeros((6, 6))
    last[:3, :3], last[:3, 3:], last[3:, 0] = slopes, bump * np.eye(3), 2 * LEVELS_PER_OCTAVE
    bias = np.concatenate([np.array([0.1, 0.5, 0.2]) - bump, np.full(3, LEVELS_PER_OCTAVE * np.log2(0.003 / SIGMA_MIN))])
    return {
        "levels": 2, "features": 3, "log2_table": 4, "resolutions": [1, 3], "hidden": 6, "channels": 3,
        "grid.0": _f32(_corners(1)), "grid.1": _f32(hashed),
        "layers.0.weight": _f32(np.eye(6)), "layers.0.bias": _f32([0, 0, 0, 1, 1, 1]),
        "layers.1.weight": _f32(np.eye(6)), "layers.1.bias": _f32(np.zeros(6)),
        "layers.2.weight": _f32(last), "layers.2.bias": _f32(bias),
    }


def scales_context_network() -> dict:
    """3 channels; one dense level (resolution 2, 27 rows, features x); hidden: x and
    relu(x0 - 1/2), a kink; the level 4 log2(0.04 / SIGMA_MIN) - 20 x1 (sigma 0.04 down to
    0.04 / 32): in the encoder's units it falls below 0 where x1 is large, so the decoder
    clamps it to level 0 there."""
    first = np.concatenate([np.eye(3), [[1.0, 0.0, 0.0]]])
    last = np.zeros((6, 4))
    last[:3] = [[3.0, 0.0, 0.0, -5.0], [0.0, 2.0, 1.0, 0.0], [-1.5, 0.0, 2.0, 2.0]]
    last[3:, 1] = -5 * LEVELS_PER_OCTAVE
    bias = np.concatenate([[-4.5, -5.0, -4.0], np.full(3, LEVELS_PER_OCTAVE * np.log2(0.04 / SIGMA_MIN))])
    return {
        "levels": 1, "features": 3, "log2_table": 5, "resolutions": [2], "hidden": 4, "channels": 3,
        "grid.0": _f32(_corners(2)),
        "layers.0.weight": _f32(first), "layers.0.bias": _f32([0, 0, 0, -0.5]),
        "layers.1.weight": _f32(np.eye(4)), "layers.1.bias": _f32(np.zeros(4)),
        "layers.2.weight": _f32(last), "layers.2.bias": _f32(bias),
    }


CONTEXT_NETWORKS = {"sh0": sh0_context_network, "scales": scales_context_network}


def unit_positions(means: np.ndarray) -> np.ndarray:
    """The networks' input: sign-log means, per-axis min/max normalised to [0, 1]."""
    y = forward_transform("signlog", np.asarray(means, np.float32).astype(np.float64))
    return (y - y.min(axis=0)) / (y.max(axis=0) - y.min(axis=0))


def context_gaussians(arrays: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) per splat and channel of a float network at positions x in [0, 1]^3."""
    features = []
    corners = np.array([[(c >> axis) & 1 for axis in range(3)] for c in range(8)])
    for level, resolution in enumerate(arrays["resolutions"]):
        table = np.asarray(arrays[f"grid.{level}"], np.float64)
        cell = np.minimum(np.floor(x * resolution), resolution - 1).astype(np.int64)
        frac = x * resolution - cell
        total = 0.0
        for corner in corners:
            at = cell + corner
            weight = np.prod(np.where(corner == 1, frac, 1.0 - frac), axis=1)
            total = total + weight[:, None] * table[corner_index(at[:, 0], at[:, 1], at[:, 2], resolution, arrays["log2_table"])]
        features.append(total)
    a = np.concatenate(features, axis=1)
    for k in range(3):
        a = a @ np.asarray(arrays[f"layers.{k}.weight"], np.float64).T + np.asarray(arrays[f"layers.{k}.bias"], np.float64)
        a = np.maximum(a, 0.0) if k < 2 else a
    c = int(arrays["channels"])
    return a[:, :c], SIGMA_MIN * 2.0 ** (a[:, c:] / LEVELS_PER_OCTAVE)


def context_scene(n: int, seed: int) -> SplatSet:
    """The first n plant splats with sh0 and scales drawn from the context networks'
    Gaussians at their positions; 1 in 61 splats an outlier (uniform over the channel's
    range: escapes); sh0 channel 0 clipped at its 92nd percentile and channel 1 at its 6th
    (the networks' mu runs past the symbol range there, so the decoder clamps it)."""
    base = plant(n)
    rng = np.random.default_rng(seed)
    x = unit_positions(base.means)
    drawn = {}
    for name, network in CONTEXT_NETWORKS.items():
        mu, sigma = context_gaussians(network(), x)
        values = mu + sigma * rng.standard_normal(mu.shape)
        outliers = np.arange(n) % 61 == 7
        values[outliers] = rng.uniform(values.min(axis=0), values.max(axis=0), (int(outliers.sum()), 3))
        drawn[name] = values
    sh0 = drawn["sh0"]
    sh0[:, 0] = np.minimum(sh0[:, 0], np.percentile(sh0[:, 0], 92))
    sh0[:, 1] = np.maximum(sh0[:, 1], np.percentile(sh0[:, 1], 6))
    return replace(base, sh0=sh0.astype(np.float32), scales=drawn["scales"].astype(np.float32))


def context_sources() -> dict:
    return {name: GaussianContextSource(network(), (0.0,) * 3, (1.0,) * 3) for name, network in CONTEXT_NETWORKS.items()}


def fixed_default() -> EncodeConfig:
    """The default preset as these vectors were made with it: every attribute at its fixed
    depth (16-bit positions, 8 bits for the rest). The default preset now picks its depths
    from the scene (gscc.codec.precision); the recipes keep describing their vectors."""
    return replace(preset("default"), precision="fixed")


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    scene: Callable[[], SplatSet | FeatureSplats]
    config: EncodeConfig
    distributions: Callable[[], dict] | None = None  # attribute -> learned source
    codings: dict | None = None  # attribute -> the coding the vector must keep (checked when made)
    classes: Callable[[int], Classes] | None = None  # precision classes of the scene's N splats (format 1.6)


def seeded_classes(count: int, tables: dict[str, tuple[tuple[int, ...], ...]], seed: int) -> Callable[[int], Classes]:
    """Precision classes drawn per splat from a seeded generator (not from renders, so the
    recipe is reproducible without torch), with the given shift tables."""
    def make(n: int) -> Classes:
        per_splat = np.random.default_rng(seed).integers(0, count, n)
        return Classes(per_splat, count, {name: ShiftTable(rows) for name, rows in tables.items()})

    return make


RECIPES = [
    Recipe("plant-default", "real SH-0 sample, 701 splats (grid padding), default preset: PLAS + auto coder",
           lambda: plant(701), fixed_default()),
    Recipe("plant-png", "PNG coding only: 16-bit greyscale for positions, 8-bit RGB/RGBA/L for the rest",
           lambda: plant(500), fixed_default().with_overrides(coder="png", sort="none")),
    Recipe("plant-ans", "ANS coding only: 16-bit positions (three tables), 8-bit attributes",
           lambda: plant(500), fixed_default().with_overrides(coder="ans")),
    Recipe("plant-raw-low-bits", "raw coding, 12-bit positions, 4-bit attributes, pruning",
           lambda: plant(333), fixed_default().with_overrides(
               coder="raw", position_bits=12, scale_bits=4, rotation_bits=4, opacity_bits=4,
               color_bits=4, opacity_threshold=0.05)),
    Recipe("sh3-vq-ans", "SH degree 3, higher-order SH by vector quantization, ANS",
           lambda: synthetic(400, 3, seed=1), fixed_default().with_overrides(coder="ans", sh_codebook=64)),
    Recipe("sh3-vq-png", "SH degree 3, vector quantization, PNG (16-bit codebook labels when K > 256)",
           lambda: synthetic(600, 3, seed=2), fixed_default().with_overrides(coder="png", sh_codebook=512)),
    Recipe("sh3-scalar-png", "SH degree 3, higher-order SH quantized per coefficient, PNG",
           lambda: synthetic(257, 3, seed=3), preset("high").with_overrides(coder="png", sort="none")),
    Recipe("sh1-small-preset", "SH degree 1, the small preset (6-bit attributes, 14-bit positions)",
           lambda: synthetic(300, 1, seed=4), preset("small")),
    Recipe("sh2-scalar-ans", "SH degree 2, per-coefficient SH with ANS, 6-bit",
           lambda: synthetic(150, 2, seed=5), preset("high").with_overrides(coder="ans", sh_bits=6)),
    Recipe("one-splat", "a single splat", lambda: plant(1), fixed_default()),
    Recipe("sh3-gsplat-png", "the gsplat-png preset: identity (4-component) quaternions and raw "
           "logit opacities, 6-bit VQ codebook, PNG only",
           lambda: synthetic(300, 3, seed=6), preset("gsplat-png").with_overrides(sh_codebook=128)),
    # format 1.1
    Recipe("features-mlp", "format 1.1: an MLP-coloured scene, 97 splats with 8 features each and a "
           "2-hidden-layer colour decoder (view SH degree 2) in a weights chunk, baked to SH degree 3",
           lambda: random_feature_splats(97, seed=7), fixed_default()),
    # format 1.2
    Recipe("learned-table", "format 1.2: learned table coding (ans-table) of 8-bit scales, quats, opacities "
           "and sh0 and 6-bit per-coefficient SH degree 1, from fixed Laplacian tables; 16-bit means "
           "stay empirical ANS (too deep for ans-table); 230 unsorted splats, ANS coder",
           lambda: synthetic(230, 1, seed=8), preset("high").with_overrides(coder="ans", sort="none", sh_bits=6),
           lambda: {name: LaplaceTables(0.11) for name in ("means", "scales", "quats", "opacities", "sh0", "shN")}),
    Recipe("learned-context", "format 1.2: learned context coding (ans-context) of 8-bit sh0 and 6-bit scales "
           "from hand-set hash-grid networks on the decoded 16-bit means (sh0: a dense and a hashed grid level; "
           "scales: a dense level and a ReLU kink); values drawn from the networks' Gaussians, scale levels 0 to 23 "
           "(0 by clamping), escaped outliers, mu clamped at both ends of the symbols; the first 1499 plant positions (one "
           "padding cell), unsorted, other attributes empirical ANS",
           lambda: context_scene(1499, seed=9), preset("high").with_overrides(coder="ans", sort="none", scale_bits=6),
           context_sources, {"sh0": "ans-context", "scales": "ans-context", "means": "ans"}),
    # format 1.4
    Recipe("plant-jxl", "format 1.4: JPEG XL lossless coding only: 16-bit positions, 8-bit scales, quats "
           "(four components), opacities and sh0, 500 unsorted real splats",
           lambda: plant(500), fixed_default().with_overrides(coder="jxl", sort="none"),
           codings={name: "jxl" for name in ("means", "scales", "quats", "opacities", "sh0")}),
    Recipe("sh1-scalar-jxl", "format 1.4: JPEG XL, SH degree 1 quantized per coefficient at 6 bits (9 channels: "
           "images of 4, 4 and 1 channels, or 9 greyscale), 14-bit positions",
           lambda: synthetic(210, 1, seed=10), preset("high").with_overrides(coder="jxl", sh_bits=6, position_bits=14),
           codings={"shN": "jxl"}),
    Recipe("sh3-vq-jxl", "format 1.4: JPEG XL, SH degree 3 by vector quantization with 512 entries (16-bit "
           "labels), every plane JPEG XL",
           lambda: synthetic(600, 3, seed=11), fixed_default().with_overrides(coder="jxl", sh_codebook=512)),
    Recipe("jxl-per-channel", "format 1.4: JPEG XL with one channel per image (group 1) for the 3-channel "
           "scales and sh0 of 2000 unsorted random splats (uncorrelated channels); group 4 elsewhere",
           lambda: synthetic(2000, 0, seed=12), fixed_default().with_overrides(coder="jxl", sort="none")),
    # format 1.5
    Recipe("plant-interp", "format 1.5: ans-interp coding only (hierarchical interpolation, context-chosen "
           "fixed tables): 16-bit positions (escapes with high parts), 8-bit scales, quats, opacities and sh0; "
           "701 PLAS-sorted real splats (grid padding)",
           lambda: plant(701), fixed_default().with_overrides(coder="ans-interp"),
           codings={name: "ans-interp" for name in ("means", "scales", "quats", "opacities", "sh0")}),
    Recipe("sh3-vq-interp", "format 1.5: ans-interp, SH degree 3 by vector quantization with 512 entries "
           "(the codebook and 9-bit labels ans-interp too), 6-bit attributes, 12-bit positions",
           lambda: synthetic(600, 3, seed=13), fixed_default().with_overrides(
               coder="ans-interp", sh_codebook=512, position_bits=12, scale_bits=6, rotation_bits=6,
               opacity_bits=6, color_bits=6)),
    Recipe("one-splat-interp", "format 1.5: ans-interp of a single splat (top grid only, no phase)",
           lambda: plant(1), fixed_default().with_overrides(coder="ans-interp")),
    # format 1.6
    Recipe("plant-classes", "format 1.6: precision classes, 4 classes (2-bit class plane), 12-bit positions "
           "shifted 0-3 bits, scales 0-2, quats 0-3 but not the index channel, opacities 0/1/1/2, sh0 with "
           "per-channel shifts (0-2, 0-1, none); 701 PLAS-sorted real splats (grid padding), auto coder",
           lambda: plant(701), fixed_default().with_overrides(position_bits=12),
           classes=seeded_classes(4, {
               "means": tuple((c, c, c) for c in range(4)),
               "scales": tuple((min(c, 2),) * 3 for c in range(4)),
               "quats": tuple((c, c, c, 0) for c in range(4)),
               "opacities": ((0,), (1,), (1,), (2,)),
               "sh0": tuple((min(c, 2), min(c, 1), 0) for c in range(4)),
           }, seed=14)),
    Recipe("classes-sh1-ans", "format 1.6: 3 classes (a 2-bit class plane with no class 3), ANS, 16-bit "
           "positions shifted up to 8 bits, per-coefficient SH degree 1 (9 channels) refined, opacities not; "
           "300 random splats in a 15 x 20 grid (no padding cells)",
           lambda: synthetic(300, 1, seed=15), preset("high").with_overrides(coder="ans", precision="fixed"),
           classes=seeded_classes(3, {
               "means": ((0, 0, 0), (4, 4, 4), (8, 8, 8)),
               "shN": ((0,) * 9, (1,) * 9, tuple(range(2, 5)) * 3),
               "scales": ((0, 0, 0), (0, 1, 2), (3, 3, 3)),
           }, seed=16)),
    Recipe("classes-png", "format 1.6: 2 classes (a 1-bit class plane), PNG only, unsorted, 8-bit attributes "
           "with one shift each (quats 3 of 4 channels), pruning",
           lambda: plant(333), fixed_default().with_overrides(coder="png", sort="none", opacity_threshold=0.05),
           classes=seeded_classes(2, {
               "quats": ((0, 0, 0, 0), (1, 2, 3, 0)),
               "sh0": ((0, 0, 0), (2, 2, 2)),
               "opacities": ((0,), (4,)),
           }, seed=17)),
]

# Vectors built by hand from integer planes (conformance/handmade.py), for paths the
# encoder's presets never take; each with a check that it takes the path it is for.
@dataclass(frozen=True)
class Handmade:
    name: str
    description: str
    build: Callable[[], bytes]
    check: Callable[[bytes], bool]


def _stream_lengths(data: bytes) -> list[int]:
    """M of every ans chunk (a u8 predictor, u8 T, T tables, then varint M)."""
    from gscc.codec.ans import Reader

    lengths = []
    for kind, chunk in unpack(data).chunks:
        if kind == "ans":
            reader = Reader(chunk)
            reader.byte()
            for _ in range(reader.byte()):
                for _ in range(reader.varint()):
                    reader.varint()
            lengths.append(reader.varint())
    return lengths


def _escapes_with_high_parts(data: bytes) -> bool:
    scene = decode_scene(data)
    return bool(np.any(np.round((scene.sh0 + 0.2) / 0.0015) >= 256))


def _png_variants(data: bytes) -> bool:
    return all(chunk[28] == 1 and b"tEXt" in chunk for kind, chunk in unpack(data).chunks if kind == "png")


HANDMADE = [
    Handmade("ans-single-word", "hand-made: three splats and a padding cell on a 2 x 2 grid, every plane "
             "ANS-coded (predictor and tables as the encoder chooses): every rANS stream is one word (M = 1)",
             handmade.single_word_streams, lambda data: set(_stream_lengths(data)) == {1}),
    Handmade("vq-raw-codebook", "hand-made: SH degree 1, shN by vector quantization with a raw-coded 3 x 9 "
             "codebook (4 bits) and raw 2-bit labels, one label in the padding cell",
             handmade.vq_raw_codebook, lambda data: unpack(data).header["attributes"]["shN"]["codebook"]["coding"]["codec"] == "raw"),
    Handmade("sigmoid-clamp", "hand-made: opacities that dequantize to exactly 0 and 1, clamped by the sigmoid "
             "inverse to 2^-24 and 1 - 2^-24 (logits -16.6355...), raw planes",
             handmade.sigmoid_clamp, lambda data: float(np.abs(decode_scene(data).opacities).max()) > 16.6),
    Handmade("png-interlaced-ancillary", "the plant-png vector with every PNG re-written Adam7-interlaced with tEXt, "
             "gAMA and pHYs chunks (8-bit L, RGB, RGBA and 16-bit greyscale): decodes to the same arrays",
             lambda: handmade.interlaced_pngs((VECTORS / "plant-png.gsc").read_bytes()), _png_variants),
    Handmade("learned-context-10bit", "format 1.2, hand-made: 10-bit sh0 coded ans-context (B > 8: escaped values "
             "sent as a low byte, then a high part) by the sh0 network of learned-context, 62 plant positions on an "
             "8 x 8 grid with two padding cells",
             lambda: handmade.context_10bit(sh0_context_network(), plant(62).means, seed=11), _escapes_with_high_parts),
]



# ---------------------------------------------------------------------------- dynamic scenes
@dataclass(frozen=True)
class DynamicRecipe:
    name: str
    description: str
    scene: Callable[[], DynamicScene]
    config: DynamicEncodeConfig


def stg_scene(count: int, seed: int, still: float = 0.0, degree: int = 3) -> DynamicSplats:
    """Seeded SH-1 splats with random STG motion of ``degree``; ``still`` of them do not move."""
    return DynamicSplats(random_splats(count, 1, seed), random_stg_motion(count, seed + 1, degree, still))


def segments(parts: list[tuple[float, float, DynamicSplats]], fps: float, frames: int) -> DynamicScene:
    return DynamicScene([Segment(a, b, splats) for a, b, splats in parts], fps=fps, frame_count=frames)


DYNAMIC_RECIPES = [
    DynamicRecipe("dynamic-stg-sh", "format 1.3: one segment of 200 STG splats (degree-3 motion), SH degree 1, "
                  "the default dynamic preset (PLAS, 14-bit positions, 10-bit scales, 12-bit rotations, 9-bit motion, 12-bit omega, 10-bit t_center, "
                  "8-bit t_scale, pruning by temporal visibility below 0.02), 30 fps over 50 frames",
                  lambda: DynamicScene.single(random_dynamic_splats(200, seed=21), fps=30.0, frame_count=50),
                  dynamic_preset("default")),
    DynamicRecipe("dynamic-stg-mlp", "format 1.3: one segment of 97 STG splats with MLP colours (8 features, a "
                  "2-hidden-layer colour decoder in the segment's weights chunk), unsorted, ANS, no frame rate",
                  lambda: DynamicScene.single(DynamicSplats(random_feature_splats(97, seed=22), random_stg_motion(97, 23))),
                  dynamic_preset("default").with_overrides(sort="none", coder="ans", opacity_threshold=0.0)),
    DynamicRecipe("dynamic-motion-basis", "format 1.3: one segment of 150 splats moved by a shared motion basis "
                  "(4 bases, 8 knots, in a weights chunk), identity-coded 10-bit coefficients, PNG",
                  lambda: DynamicScene.single(random_dynamic_splats(150, seed=24, kind="motion-basis"), fps=24.0, frame_count=48),
                  dynamic_preset("default").with_overrides(sort="none", coder="png", motion_bits=10)),
    DynamicRecipe("dynamic-segments", "format 1.3: three segments ([0, 0.25), [0.25, 0.6), [0.6, 1]) of 60, 90 "
                  "and 75 STG splats with degree-2 motion, 25 fps over 100 frames, the small dynamic preset unsorted "
                  "(pruned, 14-bit positions, 8-bit motion, 10-bit omega and rotations, 8-bit scales, 6-bit other attributes)",
                  lambda: segments([(0.0, 0.25, stg_scene(60, 25, degree=2)), (0.25, 0.6, stg_scene(90, 26, degree=2)),
                                    (0.6, 1.0, stg_scene(75, 27, degree=2))], 25.0, 100),
                  dynamic_preset("small").with_overrides(sort="none")),
    DynamicRecipe("dynamic-static-mask", "format 1.3: two segments: 240 STG splats of which 60% do not move (a "
                  "one-bit motion mask; their motion decodes as zero), then 100 splats none of which moves (no "
                  "motion planes at all); raw coding, 16-bit t_center",
                  lambda: segments([(0.0, 0.5, stg_scene(240, 28, still=0.6)), (0.5, 1.0, stg_scene(100, 29, still=1.0))],
                                   30.0, 60),
                  dynamic_preset("default").with_overrides(sort="none", coder="raw", time_bits=16, opacity_threshold=0.0)),
    DynamicRecipe("dynamic-motion-window", "format 1.3: one segment of 180 STG splats (degree-3 motion, 30% still) "
                  "with a motion window (width 2 temporal scales, floor 1/64: motion coded times the half-window to "
                  "the power of its degree, omega times the half-window), the motion plane vector-quantized (a "
                  "64-vector codebook at 10 bits), omega scalar, unsorted, PNG",
                  lambda: DynamicScene.single(stg_scene(180, 30, still=0.3), fps=30.0, frame_count=50),
                  dynamic_preset("default").with_overrides(sort="none", coder="png", opacity_threshold=0.0,
                                                           motion_window=2.0, vq_planes=("motion",), vq_size=64,
                                                           motion_bits=10)),
]


def motion_hashes(splats: DynamicSplats) -> dict:
    return {name: sha256(a.astype("<f4")) for name, a in splats.motion.arrays().items()}


def dynamic_hashes(data: bytes) -> dict:
    scene = decode_dynamic(data)
    header = unpack(data).header
    result = {
        "kind": "dynamic",
        "count": scene.count,
        "sh_degree": scene.segments[0].splats.static.sh_degree,
        "fps": scene.fps,
        "frame_count": scene.frame_count,
        "motion": header["scene"]["motion"],
        "segments": [],
    }
    for segment, entry in zip(scene.segments, header["segments"]):
        static = segment.splats.static
        row = {
            "start": segment.start, "end": segment.end, "count": static.count, "moving": entry["moving"],
            "arrays": {name: sha256(a.astype("<f4")) for name, a in attribute_arrays(static).items()},
            "motion": motion_hashes(segment.splats),
        }
        if isinstance(static, FeatureSplats):
            row["color_mlp"] = {name: sha256(a) for name, a in static.decoder.to_arrays().items()}
        result["segments"].append(row)
    return result


# Baked SH of an MLP-coloured vector are float computations (a least-squares fit to an
# MLP's outputs), not bit-exact decoding: they are checked against a reference array.
BAKED_TOLERANCE = 1e-5


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array, dtype="<" + array.dtype.str[1:]).tobytes()).hexdigest()


def decoded_hashes(data: bytes) -> dict:
    scene = decode_scene(data)
    result = {
        "count": scene.count,
        "sh_degree": scene.sh_degree,
        "arrays": {name: sha256(a.astype("<f4")) for name, a in attribute_arrays(scene).items()},
    }
    if isinstance(scene, FeatureSplats):
        result["color"] = "mlp"
        result["color_mlp"] = {
            "view_sh_degree": scene.decoder.view_sh_degree,
            "bake_directions": scene.bake_directions,
            "weights": {name: sha256(a) for name, a in scene.decoder.to_arrays().items()},
        }
    return result


def baked_reference(data: bytes) -> np.ndarray:
    """(N, (D + 1)², 3) float32: the SH coefficients an MLP-coloured vector bakes to."""
    baked = decode_scene(data).baked()
    return np.concatenate([baked.sh0[:, None, :], baked.shN], axis=1).astype("<f4")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="list the recipes and exit")
    args = parser.parse_args()
    if args.list:
        for recipe in RECIPES + HANDMADE + DYNAMIC_RECIPES:
            print(f"{recipe.name:22s} {recipe.description}")
        return 0
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"vectors": []}
    known = {entry["name"] for entry in manifest["vectors"]}
    VECTORS.mkdir(exist_ok=True)
    added = 0
    for recipe in RECIPES + HANDMADE:
        path = VECTORS / f"{recipe.name}.gsc"
        if recipe.name in known or path.exists():
            continue
        if isinstance(recipe, Handmade):
            data = recipe.build()
            if not recipe.check(data):
                raise SystemExit(f"{recipe.name}: the file does not take the path it is made for")
        else:
            scene = recipe.scene()
            classes = recipe.classes(scene.count) if getattr(recipe, "classes", None) else None
            data = encode_tracked(scene, recipe.config, recipe.distributions() if recipe.distributions else None,
                                  classes=classes).data
        container = unpack(data)
        version = "%d.%d" % container.version
        kept = {name: a["coding"]["codec"] for name, a in container.header["attributes"].items() if a["codec"] == "scalar"}
        for name, codec in (getattr(recipe, "codings", None) or {}).items():
            if kept.get(name) != codec:
                raise SystemExit(f"{recipe.name}: {name} is coded {kept.get(name)}, the recipe needs {codec}")
        path.write_bytes(data)
        entry = {
            "name": recipe.name,
            "file": f"vectors/{path.name}",
            "description": recipe.description,
            "format_version": version,
            "file_sha256": hashlib.sha256(data).hexdigest(),
            "decoded": decoded_hashes(data),
        }
        if entry["decoded"].get("color") == "mlp":
            baked = VECTORS / f"{recipe.name}.baked.npy"
            np.save(baked, baked_reference(data))
            entry["baked"] = {"file": f"vectors/{baked.name}", "tolerance": BAKED_TOLERANCE}
        manifest["vectors"].append(entry)
        added += 1
        print(f"added {path.relative_to(HERE)} ({len(data):,} bytes)")
    for recipe in DYNAMIC_RECIPES:
        path = VECTORS / f"{recipe.name}.gsc"
        if recipe.name in known or path.exists():
            continue
        data = encode_dynamic(recipe.scene(), recipe.config)
        path.write_bytes(data)
        manifest["vectors"].append({
            "name": recipe.name,
            "file": f"vectors/{path.name}",
            "description": recipe.description,
            "format_version": "%d.%d" % unpack(data).version,
            "file_sha256": hashlib.sha256(data).hexdigest(),
            "decoded": dynamic_hashes(data),
        })
        added += 1
        print(f"added {path.relative_to(HERE)} ({len(data):,} bytes)")
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{added} vector(s) added, {len(manifest['vectors'])} in the manifest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
