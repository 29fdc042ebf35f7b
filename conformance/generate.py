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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gscc.codec.attributes import attribute_arrays
from gscc.codec.config import EncodeConfig, preset
from gscc.codec.decoder import decode_scene
from gscc.codec.encoder import encode
from gscc.container import unpack
from gscc.io import load_splats
from gscc.splats import FeatureSplats, SplatSet
from gscc.synthetic import random_feature_splats, random_splats

HERE = Path(__file__).resolve().parent
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


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    scene: Callable[[], SplatSet | FeatureSplats]
    config: EncodeConfig
    distributions: Callable[[], dict] | None = None  # attribute -> learned table source


RECIPES = [
    Recipe("plant-default", "real SH-0 sample, 701 splats (grid padding), default preset: PLAS + auto coder",
           lambda: plant(701), preset("default")),
    Recipe("plant-png", "PNG coding only: 16-bit greyscale for positions, 8-bit RGB/RGBA/L for the rest",
           lambda: plant(500), preset("default").with_overrides(coder="png", sort="none")),
    Recipe("plant-ans", "ANS coding only: 16-bit positions (three tables), 8-bit attributes",
           lambda: plant(500), preset("default").with_overrides(coder="ans")),
    Recipe("plant-raw-low-bits", "raw coding, 12-bit positions, 4-bit attributes, pruning",
           lambda: plant(333), preset("default").with_overrides(
               coder="raw", position_bits=12, scale_bits=4, rotation_bits=4, opacity_bits=4,
               color_bits=4, opacity_threshold=0.05)),
    Recipe("sh3-vq-ans", "SH degree 3, higher-order SH by vector quantization, ANS",
           lambda: synthetic(400, 3, seed=1), preset("default").with_overrides(coder="ans", sh_codebook=64)),
    Recipe("sh3-vq-png", "SH degree 3, vector quantization, PNG (16-bit codebook labels when K > 256)",
           lambda: synthetic(600, 3, seed=2), preset("default").with_overrides(coder="png", sh_codebook=512)),
    Recipe("sh3-scalar-png", "SH degree 3, higher-order SH quantized per coefficient, PNG",
           lambda: synthetic(257, 3, seed=3), preset("high").with_overrides(coder="png", sort="none")),
    Recipe("sh1-small-preset", "SH degree 1, the small preset (6-bit attributes, 14-bit positions)",
           lambda: synthetic(300, 1, seed=4), preset("small")),
    Recipe("sh2-scalar-ans", "SH degree 2, per-coefficient SH with ANS, 6-bit",
           lambda: synthetic(150, 2, seed=5), preset("high").with_overrides(coder="ans", sh_bits=6)),
    Recipe("one-splat", "a single splat", lambda: plant(1), preset("default")),
    Recipe("sh3-gsplat-png", "the gsplat-png preset: identity (4-component) quaternions and raw "
           "logit opacities, 6-bit VQ codebook, PNG only",
           lambda: synthetic(300, 3, seed=6), preset("gsplat-png").with_overrides(sh_codebook=128)),
    # format 1.1
    Recipe("features-mlp", "format 1.1: an MLP-coloured scene, 97 splats with 8 features each and a "
           "2-hidden-layer colour decoder (view SH degree 2) in a weights chunk, baked to SH degree 3",
           lambda: random_feature_splats(97, seed=7), preset("default")),
    # format 1.2
    Recipe("learned-table", "format 1.2: learned table coding (ans-table) of 8-bit scales, quats, opacities "
           "and sh0 and 6-bit per-coefficient SH degree 1, from fixed Laplacian tables; 16-bit means "
           "stay empirical ANS (too deep for ans-table); 230 unsorted splats, ANS coder",
           lambda: synthetic(230, 1, seed=8), preset("high").with_overrides(coder="ans", sort="none", sh_bits=6),
           lambda: {name: LaplaceTables(0.11) for name in ("means", "scales", "quats", "opacities", "sh0", "shN")}),
]

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
        for recipe in RECIPES:
            print(f"{recipe.name:22s} {recipe.description}")
        return 0
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"vectors": []}
    known = {entry["name"] for entry in manifest["vectors"]}
    VECTORS.mkdir(exist_ok=True)
    added = 0
    for recipe in RECIPES:
        path = VECTORS / f"{recipe.name}.gsc"
        if recipe.name in known or path.exists():
            continue
        data = encode(recipe.scene(), recipe.config, recipe.distributions() if recipe.distributions else None)
        version = "%d.%d" % unpack(data).version
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
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{added} vector(s) added, {len(manifest['vectors'])} in the manifest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
