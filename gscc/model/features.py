"""Per-splat learned features decoded to colour per pixel by a small MLP.

Parameters (see :mod:`gscc.train`): ``means``, ``scales``, ``quats``, ``opacities`` and
``features`` (N, D). A render rasterises the D feature channels (no background), divides
them by the rendered alpha (so each pixel sees the alpha-weighted *mean* feature of the
splats it covers) and decodes that, together with the pixel's world-space viewing direction
encoded by the real SH basis up to ``view_sh_degree`` (see :mod:`gscc.render.sh`), to RGB
with :class:`ColorDecoder` (``mlp_layers`` hidden ReLU layers of ``mlp_hidden`` units, a
sigmoid output). The image is ``alpha · rgb + (1 - alpha) · background``.

The decoder's weights are not per splat: :meth:`FeatureModel.shared_state` gives them as
named float32 arrays (``layers.{i}.weight`` (out, in), ``layers.{i}.bias`` (out,)), the form
the checkpoint stores and the ``.gsc`` weights chunk can carry.

Export: :meth:`FeatureModel.export_scene` gives the trained splats as they are, a
:class:`gscc.splats.FeatureSplats` with the decoder as a numpy :class:`gscc.color_mlp.ColorMLP`
(what ``scene.gsc`` carries: features plus a weights chunk). The standard ``.ply`` carries SH
colours, so :meth:`FeatureModel.export` bakes them (``FeatureSplats.baked``): the decoder is
evaluated *per splat* on its own feature vector for ``bake_directions`` directions spread
evenly over the sphere and SH coefficients of degree ``bake_sh_degree`` are fitted to those
colours by least squares. The baked splats render each splat with the colour the MLP gives
its own feature; the training render decodes the blend of the features of overlapping
splats instead, so the two agree exactly where one splat dominates a pixel and
approximately elsewhere (``metrics.json`` reports both).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import torch

from ..cameras import Camera
from ..render import Gaussians, RenderOutput, render
from ..render.sh import sh_basis
from ..color_mlp import ColorMLP
from ..splats import FeatureSplats, SplatSet
from .base import DEFAULT_NEAR, ModelConfig, Params, Representation, array, check_colors, geometry_params, to_parameter_dict

ALPHA_FLOOR = 1e-6  # the division by alpha leaves pixels no splat covers at feature zero
INIT_FEATURE_STD = 0.1


class ColorDecoder(torch.nn.Module):
    """Features (P, D) and an encoded view direction (P, V) to RGB (P, 3) in (0, 1)."""

    def __init__(self, feature_dim: int, view_dim: int, hidden: int, layers: int) -> None:
        super().__init__()
        dims = [feature_dim + view_dim] + [hidden] * layers + [3]
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, features: torch.Tensor, view: torch.Tensor) -> torch.Tensor:
        x = torch.cat([features, view], dim=-1)
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = torch.relu(x)
        return torch.sigmoid(x)


def pixel_directions(camera: Camera) -> torch.Tensor:
    """(H, W, 3) unit world-space directions of the rays through the pixel centres."""
    j = torch.arange(camera.width, dtype=torch.float64) + 0.5
    i = torch.arange(camera.height, dtype=torch.float64) + 0.5
    v, u = torch.meshgrid(i, j, indexing="ij")
    local = torch.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, torch.ones_like(u)], dim=-1)
    rotation = torch.as_tensor(camera.world_to_camera[:3, :3], dtype=torch.float64)
    world = local @ rotation  # R^T d for row vectors d
    return (world / world.norm(dim=-1, keepdim=True)).float()


class FeatureModel(Representation):
    name = "features"
    param_names = ("means", "scales", "quats", "opacities", "features")

    def __init__(self, params: torch.nn.ParameterDict, config: ModelConfig) -> None:
        super().__init__(params, config)
        if params["features"].shape[1:] != (config.feature_dim,):
            raise ValueError(f"features have shape {tuple(params['features'].shape)}, expected (N, {config.feature_dim})")
        self.view_dim = (config.view_sh_degree + 1) ** 2
        self.decoder = ColorDecoder(config.feature_dim, self.view_dim, config.mlp_hidden, config.mlp_layers)

    @classmethod
    def create(cls, points: np.ndarray, colors: np.ndarray, config: ModelConfig) -> "FeatureModel":
        """Random features (the torch RNG: seed it first), the colour centred in the first three."""
        tensors = geometry_params(points, config)
        n = tensors["means"].shape[0]
        colors = check_colors(colors, n)
        features = torch.randn(n, config.feature_dim) * INIT_FEATURE_STD
        c = min(3, config.feature_dim)
        features[:, :c] += torch.from_numpy(colors[:, :c] - 0.5)
        tensors["features"] = features
        return cls(to_parameter_dict(tensors), config)

    @classmethod
    def from_scene(cls, scene: FeatureSplats, config: Optional[ModelConfig] = None) -> "FeatureModel":
        """The model holding an MLP-coloured scene (e.g. a decoded `.gsc`), to render it as it
        was trained: features blended per pixel, then decoded. The decoder's shape comes from
        the scene's; it must be one this model can hold (equal hidden widths)."""
        layers = scene.decoder.layers
        hidden = {int(w.shape[0]) for w, _ in layers[:-1]}
        if len(layers) < 2 or len(hidden) != 1:
            raise ValueError("the scene's colour MLP has no hidden layers of one width")
        config = dataclasses.replace(
            config or ModelConfig(),
            feature_dim=scene.decoder.feature_dim,
            mlp_hidden=hidden.pop(),
            mlp_layers=len(layers) - 1,
            view_sh_degree=scene.decoder.view_sh_degree,
            bake_sh_degree=scene.sh_degree,
            bake_directions=scene.bake_directions,
        )
        tensors = {name: torch.from_numpy(getattr(scene, name).copy()) for name in ("means", "scales", "quats", "opacities", "features")}
        model = cls(to_parameter_dict(tensors), config)
        model.load_shared_state(scene.decoder.to_arrays())
        return model

    def gaussians(self, step: int, params: Optional[Params] = None) -> Gaussians:
        p = self.values(params)
        means, quats, scales, opacities = self.geometry(p)
        return Gaussians(means, quats, scales, opacities, p["features"])

    def decode(self, features: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """RGB (P, 3) of mean features (P, D) seen along unit directions (P, 3)."""
        return self.decoder(features, sh_basis(self.config.view_sh_degree, directions))

    def render(
        self, camera: Camera, step: int, *, background, backend: str = "auto", params: Optional[Params] = None,
        time: Optional[float] = None, near: float = DEFAULT_NEAR,
    ) -> RenderOutput:
        out = render(self.gaussians(step, params), camera, backend=backend, near=near)
        alpha = out.alpha
        mean_features = out.image / alpha.clamp_min(ALPHA_FLOOR)
        h, w, d = mean_features.shape
        dtype = self.decoder.layers[0].weight.dtype  # a float64 renderer (reference) meets a float32 MLP
        rgb = self.decode(mean_features.reshape(-1, d).to(dtype), pixel_directions(camera).reshape(-1, 3).to(dtype))
        rgb = rgb.reshape(h, w, 3).to(alpha.dtype)
        image = alpha * rgb
        if background is not None:
            bg = torch.as_tensor(background, dtype=image.dtype).reshape(-1).expand(3)
            image = image + (1.0 - alpha) * bg
        return RenderOutput(image, alpha, None, out.means2d, out.radii, out.backend)

    def shared_parameters(self) -> dict[str, list[torch.nn.Parameter]]:
        return {"mlp": list(self.decoder.parameters())}

    def shared_modules(self) -> list[torch.nn.Module]:
        return [self.decoder]

    def shared_learning_rates(self, lrs: dict[str, float]) -> dict[str, float]:
        return {"mlp": float(lrs["mlp"])}

    def shared_state(self) -> dict[str, np.ndarray]:
        return {name: t.detach().cpu().float().numpy().copy() for name, t in self.decoder.state_dict().items()}

    def load_shared_state(self, arrays: dict[str, np.ndarray]) -> None:
        expected = self.decoder.state_dict()
        if set(arrays) != set(expected):
            raise ValueError(f"decoder weights name {sorted(arrays)}, expected {sorted(expected)}")
        state = {}
        for name, value in arrays.items():
            tensor = torch.as_tensor(np.asarray(value, dtype=np.float32))
            if tensor.shape != expected[name].shape:
                raise ValueError(f"decoder weight {name} has shape {tuple(tensor.shape)}, expected {tuple(expected[name].shape)}")
            state[name] = tensor
        self.decoder.load_state_dict(state)

    def export_scene(self, params: Optional[Params] = None) -> FeatureSplats:
        """The splats with their features and the decoder (see the module docstring)."""
        p = self.values(params)
        decoder = ColorMLP.from_arrays(self.shared_state(), self.config.view_sh_degree)
        return FeatureSplats(
            features=array(p["features"]),
            decoder=decoder,
            sh_degree=self.config.bake_sh_degree,
            bake_directions=self.config.bake_directions,
            **self.geometry_arrays(p),
        )

    def export(self, params: Optional[Params] = None) -> SplatSet:
        """Splats with SH colours baked from the decoder (see the module docstring)."""
        return self.export_scene(params).baked()
