"""Image-quality metrics: PSNR, SSIM and (when its weights are on this machine) LPIPS.

Images are (H, W, C) arrays or tensors with values in [0, 1] (numpy or torch); a leading
batch dimension (B, H, W, C) is accepted by the ``*_tensor`` functions. The computations
are torchmetrics' maintained implementations:

- PSNR: ``10 log10(1 / MSE)`` over every pixel and channel, data range 1; identical images
  give infinity.
- SSIM: Wang et al. (2004) with the standard 11x11 Gaussian window (σ = 1.5), K1 = 0.01,
  K2 = 0.03, data range 1, averaged over the channels and the whole image (torchmetrics pads
  the borders by reflection). :func:`ssim_tensor` is differentiable and can serve as a
  training loss (``1 - ssim_tensor(render, target)``).
- LPIPS (Zhang et al., 2018) needs torchvision's pretrained backbone. Nothing is ever
  downloaded: when torchvision or the backbone's weights are missing, :func:`lpips` returns
  None and :func:`lpips_availability` says why.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from typing import Optional, Union

import numpy as np
import torch

ImageLike = Union[np.ndarray, torch.Tensor]

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
LPIPS_NETS = {  # torchmetrics name -> (torchvision model, torchvision weights enum)
    "alex": ("alexnet", "AlexNet_Weights"),
    "vgg": ("vgg16", "VGG16_Weights"),
    "squeeze": ("squeezenet1_1", "SqueezeNet1_1_Weights"),
}


def _as_batch(image: ImageLike, dtype: Optional[torch.dtype]) -> torch.Tensor:
    """(H, W, C) or (B, H, W, C) to a (B, C, H, W) tensor; keeps autograd for tensors."""
    tensor = image if isinstance(image, torch.Tensor) else torch.as_tensor(np.asarray(image))
    if not tensor.is_floating_point():
        raise ValueError(f"images must be floating point in [0, 1], got {tensor.dtype}")
    if dtype is not None:
        tensor = tensor.to(dtype)
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 4:
        raise ValueError(f"images must be (H, W, C) or (B, H, W, C), got shape {tuple(tensor.shape)}")
    return tensor.permute(0, 3, 1, 2)


def _pair(a: ImageLike, b: ImageLike, dtype: Optional[torch.dtype]) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _as_batch(a, dtype), _as_batch(b, dtype)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {tuple(a.shape)} and {tuple(b.shape)}")
    if x.dtype != y.dtype:
        y = y.to(x.dtype)
    if y.device != x.device:
        y = y.to(x.device)
    return x, y


def psnr_tensor(a: ImageLike, b: ImageLike) -> torch.Tensor:
    """PSNR in dB, data range 1, over everything given (differentiable)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    x, y = _pair(a, b, None)
    return peak_signal_noise_ratio(x, y, data_range=1.0)


def ssim_tensor(a: ImageLike, b: ImageLike) -> torch.Tensor:
    """Mean SSIM (11x11 Gaussian window, σ 1.5, data range 1); differentiable.

    The images must be at least 11 pixels high and wide.
    """
    from torchmetrics.functional.image import structural_similarity_index_measure

    x, y = _pair(a, b, None)
    if min(x.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {tuple(x.shape[-2:])}")
    return structural_similarity_index_measure(
        x, y, gaussian_kernel=True, sigma=SSIM_SIGMA, kernel_size=SSIM_WINDOW, data_range=1.0
    )


def psnr(a: ImageLike, b: ImageLike) -> float:
    """PSNR in dB of two (H, W, C) images in [0, 1]; ``inf`` when they are identical."""
    with torch.no_grad():
        x, y = _pair(a, b, torch.float64)
        if torch.equal(x, y):
            return math.inf
        return float(psnr_tensor(x.permute(0, 2, 3, 1), y.permute(0, 2, 3, 1)))


def ssim(a: ImageLike, b: ImageLike) -> float:
    """Mean SSIM of two (H, W, C) images in [0, 1] (see :func:`ssim_tensor`)."""
    with torch.no_grad():
        x, y = _pair(a, b, torch.float64)
        return float(ssim_tensor(x.permute(0, 2, 3, 1), y.permute(0, 2, 3, 1)))


def _backbone_weights_path(net: str) -> str:
    """Where torch hub keeps the torchvision backbone weights LPIPS ``net`` needs."""
    import torchvision

    model, weights = LPIPS_NETS[net]
    url = getattr(torchvision.models, weights).DEFAULT.url
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))


@functools.lru_cache(maxsize=None)
def lpips_availability(net: str = "alex") -> tuple[bool, str]:
    """(True, "") when LPIPS with backbone ``net`` can run offline, else (False, why not)."""
    if net not in LPIPS_NETS:
        return False, f"unknown LPIPS network {net!r} (choose from {', '.join(LPIPS_NETS)})"
    if importlib.util.find_spec("torchvision") is None:
        return False, "torchvision is not installed (LPIPS needs its pretrained backbone)"
    try:
        path = _backbone_weights_path(net)
    except Exception as exc:  # an incompatible torchvision: report it, never guess
        return False, f"torchvision cannot name the {LPIPS_NETS[net][0]} weights ({type(exc).__name__}: {exc})"
    if not os.path.isfile(path):
        return False, f"the pretrained {LPIPS_NETS[net][0]} weights are not at {path} and are never downloaded here"
    linear = importlib.util.find_spec("torchmetrics.functional.image.lpips")
    if linear is None or linear.origin is None:
        return False, "torchmetrics has no LPIPS module"
    layers = os.path.join(os.path.dirname(linear.origin), "lpips_models", f"{net}.pth")
    if not os.path.isfile(layers):
        return False, f"torchmetrics' LPIPS layer weights are missing ({layers})"
    return True, ""


@functools.lru_cache(maxsize=None)
def _lpips_module(net: str) -> torch.nn.Module:
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

    module = LearnedPerceptualImagePatchSimilarity(net_type=net, normalize=True)
    return module.eval()


def lpips(a: ImageLike, b: ImageLike, *, net: str = "alex") -> Optional[float]:
    """LPIPS distance of two (H, W, 3) images in [0, 1], or None when it cannot run here.

    See :func:`lpips_availability` for the reason when it returns None.
    """
    available, _ = lpips_availability(net)
    if not available:
        return None
    with torch.no_grad():
        x, y = _pair(a, b, torch.float32)
        module = _lpips_module(net)
        module.reset()
        return float(module(x.clamp(0, 1), y.clamp(0, 1)))
