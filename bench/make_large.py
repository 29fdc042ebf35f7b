"""Build a large `.ply` scene (about a million splats) by tiling a real splat file.

The source is repeated on a square grid in the x-z plane (the shared scenes are
y-up), each tile offset by the source's extent plus a small gap, and every
copy's centres get a little seeded Gaussian jitter so the tiles are not exact
duplicates. The last tile is a seeded random subset so the result has exactly
``--count`` splats.

    python bench/make_large.py --source ../shared/data/splats/plant.splat \
                               --count 1000000 -o bench/results/large_1m.ply
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from gscc.io import load_splats, write_ply
from gscc.splats import SplatSet

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "splats" / "plant.splat"
DEFAULT_OUTPUT = REPO_ROOT / "bench" / "results" / "large_1m.ply"
GRID_AXES = (0, 2)  # tile along x and z
GAP = 0.05  # spacing between tiles, as a fraction of the source extent


def concatenate(parts: list[SplatSet]) -> SplatSet:
    fields = ("means", "scales", "quats", "opacities", "sh0", "shN")
    return SplatSet(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in fields})


def tile_offsets(tiles: int, extent: np.ndarray) -> list[np.ndarray]:
    """Offsets of ``tiles`` copies, row by row on the smallest square grid that holds them."""
    side = math.ceil(math.sqrt(tiles))
    offsets = []
    for tile in range(tiles):
        offset = np.zeros(3)
        for axis, cell in zip(GRID_AXES, divmod(tile, side)):
            offset[axis] = cell * extent[axis] * (1.0 + GAP)
        offsets.append(offset)
    return offsets


def tiled(source: SplatSet, count: int, jitter: float, seed: int) -> SplatSet:
    """``count`` splats: copies of ``source`` on a grid, the last one a random subset."""
    rng = np.random.default_rng(seed)
    extent = source.means.max(axis=0).astype(np.float64) - source.means.min(axis=0)
    sigma = jitter * float(np.linalg.norm(extent))
    parts = []
    for index, offset in enumerate(tile_offsets(math.ceil(count / source.count), extent)):
        take = min(source.count, count - index * source.count)
        keep = np.arange(source.count) if take == source.count else np.sort(rng.choice(source.count, take, replace=False))
        part = source.subset(keep)
        part.means = (part.means + offset + rng.normal(0.0, sigma, part.means.shape)).astype(np.float32)
        parts.append(part)
    return concatenate(parts)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="a .splat or .ply to tile")
    parser.add_argument("--count", type=int, default=1_000_000, help="splats in the result")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, help="the .ply to write")
    parser.add_argument("--jitter", type=float, default=1e-4, help="centre noise, fraction of the bbox diagonal")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be positive")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    source = load_splats(args.source)
    result = tiled(source, args.count, args.jitter, args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_ply(result, args.output)
    tiles = math.ceil(args.count / source.count)
    print(f"wrote {args.output}: {result.count:,} splats ({tiles} tiles of {args.source.name}, {source.count:,} each)")


if __name__ == "__main__":
    main()
