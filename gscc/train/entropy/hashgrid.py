"""A multi-resolution hash grid over normalised positions (Instant-NGP), in torch.

Level l has resolution R_l (gscc.codec.context_net.level_resolutions). A position x in
[0, 1]^3 is scaled to p = x * R_l; its cell is i0 = floor(p) clamped to 0 .. R_l - 1 per
axis and w = p - i0 (so x = 1 lies in the last cell with w = 1). The eight corners
i0 + {0, 1}^3 index the level's table (gscc.codec.context_net.corner_index: dense when all
(R_l + 1)^3 corners fit 2**log2_table rows, else the spatial hash), and the level's F
features are the trilinear interpolation of the corner rows. The output concatenates the
levels: (N, levels * F).

The layout functions are the codec's, so that the fixed-point copy of a trained grid
(gscc.codec.context_net) indexes exactly the same rows.
"""

from __future__ import annotations

import torch

from ...codec.context_net import corner_index, level_resolutions, table_rows

# The eight corner offsets, corner c = dx + 2 dy + 4 dz.
_CORNERS = [[(c >> axis) & 1 for axis in range(3)] for c in range(8)]


class HashGrid(torch.nn.Module):
    def __init__(
        self,
        levels: int = 8,
        features: int = 2,
        log2_table: int = 14,
        min_resolution: int = 16,
        max_resolution: int = 512,
        init_range: float = 1e-4,
    ) -> None:
        super().__init__()
        if not 1 <= features or not 1 <= log2_table <= 24:
            raise ValueError(f"bad hash grid: {features} features, 2**{log2_table} rows")
        self.features = int(features)
        self.log2_table = int(log2_table)
        self.resolutions = level_resolutions(levels, min_resolution, max_resolution)
        self.tables = torch.nn.ParameterList(
            torch.nn.Parameter(torch.empty(table_rows(r, log2_table), features).uniform_(-init_range, init_range))
            for r in self.resolutions
        )
        self.register_buffer("corners", torch.tensor(_CORNERS, dtype=torch.int64), persistent=False)

    @property
    def levels(self) -> int:
        return len(self.resolutions)

    @property
    def output_dim(self) -> int:
        return self.levels * self.features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, levels * F) features of positions ``x`` (N, 3), clamped to [0, 1]."""
        x = x.clamp(0.0, 1.0)
        corners = self.corners.to(x.device)
        out = []
        for resolution, table in zip(self.resolutions, self.tables):
            p = x * resolution
            cell = torch.floor(p).clamp(0, resolution - 1)
            w = p - cell  # (N, 3) in [0, 1]
            at = cell.long()[:, None, :] + corners[None, :, :]  # (N, 8, 3)
            rows = corner_index(at[..., 0], at[..., 1], at[..., 2], resolution, self.log2_table)
            axis_w = torch.where(corners[None, :, :] == 1, w[:, None, :], 1.0 - w[:, None, :])
            weight = axis_w.prod(dim=2)  # (N, 8)
            out.append((weight[:, :, None] * table[rows]).sum(dim=1))
        return torch.cat(out, dim=1)
