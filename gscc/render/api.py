"""The renderer's public interface: splats and a camera in; image, alpha and depth out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch

from ..cameras import Camera
from ..splats import SplatSet
from .backends import RasterSettings, rasterize, resolve
from .sh import degree_of, eval_sh_colors


@dataclass
class Gaussians:
    """Splats as activated torch tensors, ready to render.

    ``colors`` is either spherical harmonics (N, K, 3), K = (degree + 1)**2 with the DC term
    first, or per-splat features (N, D) rendered as they are (e.g. for an MLP decoder).
    """

    means: torch.Tensor  # (N, 3)
    quats: torch.Tensor  # (N, 4) w x y z, any norm
    scales: torch.Tensor  # (N, 3) standard deviations
    opacities: torch.Tensor  # (N,) in (0, 1)
    colors: torch.Tensor  # (N, K, 3) SH or (N, D) features

    def __post_init__(self) -> None:
        n = self.means.shape[0]
        shapes = {
            "means": (self.means, (n, 3)),
            "quats": (self.quats, (n, 4)),
            "scales": (self.scales, (n, 3)),
            "opacities": (self.opacities, (n,)),
        }
        for name, (t, shape) in shapes.items():
            if tuple(t.shape) != shape:
                raise ValueError(f"{name} has shape {tuple(t.shape)}, expected {shape}")
        if self.colors.shape[0] != n or self.colors.ndim not in (2, 3):
            raise ValueError(f"colors has shape {tuple(self.colors.shape)}, expected (N, K, 3) or (N, D)")
        if self.colors.ndim == 3:
            degree_of(self.colors.shape[1])

    @property
    def count(self) -> int:
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> Optional[int]:
        """The SH degree the colours carry, or None for plain features."""
        return degree_of(self.colors.shape[1]) if self.colors.ndim == 3 else None

    @classmethod
    def from_splats(
        cls, splats: SplatSet, device: Union[str, torch.device, None] = None, dtype: torch.dtype = torch.float32
    ) -> "Gaussians":
        """Activate a :class:`SplatSet` (exp scales, sigmoid opacities, SH with DC first).

        ``device`` defaults to CUDA when present, else the CPU.
        """
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"

        def t(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)

        sh = np.concatenate([splats.sh0[:, None, :], splats.shN], axis=1)
        return cls(
            means=t(splats.means),
            quats=t(splats.quats),
            scales=torch.exp(t(splats.scales)),
            opacities=torch.sigmoid(t(splats.opacities)),
            colors=t(sh),
        )


@dataclass
class RenderOutput:
    image: torch.Tensor  # (H, W, C)
    alpha: torch.Tensor  # (H, W, 1)
    depth: Optional[torch.Tensor]  # (H, W, 1) expected camera-space depth, 0 where alpha is 0
    means2d: Optional[torch.Tensor]  # projected centres; see view_space_grad
    radii: Optional[torch.Tensor]  # (N,) int, 0 for splats not drawn
    backend: str

    def view_space_grad(self) -> Optional[torch.Tensor]:
        """(N, 2) gradient of the loss w.r.t. the projected centres, after backward.

        Call ``out.means2d.retain_grad()`` before ``backward()``.
        """
        if self.means2d is None or self.means2d.grad is None:
            return None
        return self.means2d.grad.reshape(-1, 2)


def _as_background(background, channels: int, like: torch.Tensor) -> Optional[torch.Tensor]:
    if background is None:
        return None
    bg = torch.as_tensor(background, dtype=like.dtype, device=like.device).reshape(-1)
    if bg.numel() == 1:
        bg = bg.expand(channels)
    if bg.numel() != channels:
        raise ValueError(f"background has {bg.numel()} values for {channels} channels")
    return bg


def render(
    gaussians: Gaussians,
    camera: Camera,
    *,
    backend: str = "auto",
    sh_degree: Optional[int] = None,
    background: Union[torch.Tensor, Sequence[float], float, None] = None,
    render_depth: bool = False,
    near: float = 0.01,
    far: float = 1e10,
    eps2d: float = 0.3,
) -> RenderOutput:
    """Render ``gaussians`` seen by ``camera``; differentiable w.r.t. every splat attribute.

    ``sh_degree`` limits the SH degree used (default: all the splats carry). ``background``
    is one value or one per colour channel. With ``render_depth`` the expected depth is
    returned too (rendered as an extra channel, see the package docstring).
    """
    g = gaussians
    device = g.means.device
    name = resolve(backend, device)
    dtype = g.means.dtype
    viewmat = torch.as_tensor(camera.world_to_camera, dtype=dtype, device=device)
    K = torch.as_tensor(camera.K, dtype=dtype, device=device)

    if g.colors.ndim == 3:
        degree = g.sh_degree if sh_degree is None else sh_degree
        center = torch.as_tensor(camera.center, dtype=dtype, device=device)
        colors = eval_sh_colors(g.colors, g.means, center, degree)
    else:
        if sh_degree is not None:
            raise ValueError("sh_degree applies to SH colours, not to plain features")
        colors = g.colors
    channels = colors.shape[1]
    bg = _as_background(background, channels, colors)
    if render_depth:
        z = g.means @ viewmat[2, :3] + viewmat[2, 3]
        colors = torch.cat([colors, z[:, None]], dim=1)
        if bg is not None:
            bg = torch.cat([bg, bg.new_zeros(1)])

    settings = RasterSettings(camera.width, camera.height, near=near, far=far, eps2d=eps2d)
    out = rasterize(name, g.means, g.quats, g.scales, g.opacities, colors, viewmat, K, bg, settings)
    image, depth = out.image, None
    if render_depth:
        image, acc_z = out.image[..., :channels], out.image[..., channels:]
        depth = torch.where(out.alpha > 0, acc_z / out.alpha.clamp_min(1e-10), torch.zeros_like(acc_z))
    return RenderOutput(image, out.alpha, depth, out.means2d, out.radii, name)
