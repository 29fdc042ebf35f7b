"""k-means vector quantisation (used for the higher-order SH coefficients).

Our own Lloyd k-means in torch, vectorised, float32, CPU by default
(``device="cuda"`` works as well):

* **Training subsample.**  When ``N > config.train_samples`` the codebook is
  fitted on a seeded random subsample of ``m = max(train_samples, k)`` rows;
  afterwards the other ``N - m`` rows are assigned to their nearest codeword
  (the training rows already are), so every label is a nearest codeword.  With
  the default 262144 rows and ``K = 4096`` that is 64 rows per code, plenty
  for a stable codebook, and it bounds training time independently of ``N``.
* **Initialisation.**  k-means++ (D^2 sampling) is inherently sequential in
  ``K``, so it runs on a further random subsample of
  ``min(m, max(k, min(64 * k, 32768)))`` training rows; the Lloyd iterations
  then run on all ``m`` training rows.  This keeps the init at ~2 s for
  ``K = 4096`` on a 2-core CPU while still spreading the seeds (plain random
  init would, e.g., often put two seeds in one of a few well-separated blobs).
* **Lloyd iterations** until the relative decrease of the mean squared error
  falls below ``config.tol``, or ``config.max_iters`` iterations.  Empty
  clusters are re-seeded with the training points of largest current error.
* **Distances** use ``|x|^2 - 2 x.c + |c|^2`` with one matmul per chunk of
  rows; a chunk holds max(2^22, 1024 K) distances (16 MiB for K <= 4096,
  256 MiB for K = 65536), so memory stays bounded: about 0.3 GiB on top of
  the input for N = 1M, K = 4096, D = 45.  Vectors are shifted by the
  codebook mean first, which limits float32 cancellation.

Deterministic for a given seed and device (one seeded ``torch.Generator``, no
global RNG); CPU and CUDA results differ, and CUDA's ``index_add_`` may add in
a varying order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["KMeansConfig", "codebook_size_for", "kmeans", "assign"]

_CHUNK_ELEMS = 1 << 22  # distances held at once (16 MiB in float32)
_INIT_CAP = 32768  # k-means++ runs on at most max(k, this many) rows


@dataclass(frozen=True)
class KMeansConfig:
    """Parameters of :func:`kmeans`.

    max_iters: maximum number of Lloyd iterations.
    tol: stop when the mean squared error decreases by less than this (relative).
    seed: seed of the torch.Generator driving all randomness.
    device: torch device to compute on.
    train_samples: fit on at most this many (randomly chosen) rows, then assign
        all rows; ``None`` trains on every row.
    """

    max_iters: int = 20
    tol: float = 1e-4
    seed: int = 0
    device: str = "cpu"
    train_samples: int | None = 262144  # fit on at most this many rows, then assign all


def codebook_size_for(n: int, max_size: int = 4096, min_size: int = 16,
                      points_per_code: int = 32) -> int:
    """Codebook size adapted to the splat count: a power of two near n / points_per_code,
    clamped to [min_size, max_size] and never more than n (for tiny n, it's n rounded down
    to a power of two, >= 1).

    "Near" means nearest in log2 (``2 ** round(log2(n / points_per_code))``).
    ``min_size`` and ``max_size`` must be powers of two; ``n`` must be >= 1.
    """
    if n < 1 or points_per_code < 1:
        raise ValueError(f"need n >= 1 and points_per_code >= 1, got {n}, {points_per_code}")
    if not (0 < min_size <= max_size) or (min_size & (min_size - 1)) or (max_size & (max_size - 1)):
        raise ValueError(f"min_size/max_size must be powers of two, got {min_size}, {max_size}")
    size = 1 << max(0, round(math.log2(n / points_per_code)))
    size = min(max(size, min_size), max_size)
    return min(size, 1 << (n.bit_length() - 1))


def _nearest(x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(labels int64, squared distances) of each row of ``x`` to its nearest row of ``c``."""
    n, k = x.shape[0], c.shape[0]
    mu = c.mean(0)
    cs = c - mu
    ct = (-2.0 * cs).T.contiguous()  # (D, K)
    cc = (cs * cs).sum(1)
    rows = min(max(1024, _CHUNK_ELEMS // k), 65536, n)
    buf = torch.empty(rows, k, dtype=x.dtype, device=x.device)  # reused: no page faults
    labels = torch.empty(n, dtype=torch.int64, device=x.device)
    dist = torch.empty(n, dtype=x.dtype, device=x.device)
    for i in range(0, n, rows):
        xb = x[i:i + rows] - mu
        d = buf[: xb.shape[0]]
        torch.addmm(cc, xb, ct, out=d)  # |c|^2 - 2 x.c
        torch.min(d, 1, out=(dist[i:i + rows], labels[i:i + rows]))
        dist[i:i + rows] += (xb * xb).sum(1)
    return labels, dist.clamp_(min=0.0)


def _kmeanspp(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: k rows of ``x`` chosen by D^2 sampling (sequential in k)."""
    s = x.shape[0]
    xs = x - x.mean(0)
    xx = (xs * xs).sum(1)
    uniform = torch.arange(1, s + 1, dtype=x.dtype, device=x.device)
    idx = torch.empty(k, dtype=torch.int64, device=x.device)
    idx[0] = torch.randint(s, (1,), generator=gen, device=x.device)[0]
    d2 = torch.full((s,), math.inf, dtype=x.dtype, device=x.device)
    u = torch.rand(k, generator=gen, device=x.device, dtype=x.dtype)
    for i in range(k):
        if i > 0:  # sample index j with probability d2[j] / sum(d2) (uniform if all zero)
            cum = torch.cumsum(d2, 0)
            cum = torch.where(cum[-1] > 0, cum, uniform)
            j = torch.searchsorted(cum, (u[i] * cum[-1]).reshape(1), right=True).clamp_(max=s - 1)
            idx[i] = j[0]
        c = xs[idx[i]]
        d2 = torch.minimum(d2, (xx - 2.0 * torch.mv(xs, c) + c.dot(c)).clamp_(min=0.0))
        d2[idx[i]] = 0.0  # exactly zero for the chosen row: never picked twice
    return x[idx].clone()


def kmeans(x: np.ndarray, k: int, config: KMeansConfig = KMeansConfig()) -> tuple[np.ndarray, np.ndarray]:
    """x: (N, D) float32. Returns (codebook (k, D) float32, labels (N,) int64 in [0, k)).
    Requires 1 <= k <= N (raise ValueError otherwise).

    See the module docstring for the algorithm (subsampled training and
    k-means++ init, Lloyd iterations, empty-cluster re-seeding).
    """
    arr = np.ascontiguousarray(x, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"x must be (N, D), got shape {arr.shape}")
    n = arr.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= N, got k={k}, N={n}")
    if config.train_samples is not None and config.train_samples < 1:
        raise ValueError("train_samples must be >= 1 or None")
    dev = torch.device(config.device)
    xt = torch.from_numpy(arr).to(dev)
    if not bool(torch.isfinite(torch.stack(torch.aminmax(xt))).all()):  # NaN propagates
        raise ValueError("x contains non-finite values")
    gen = torch.Generator(device=dev).manual_seed(config.seed)

    m = n if config.train_samples is None else min(n, max(config.train_samples, k))
    perm = torch.randperm(n, generator=gen, device=dev) if m < n else None
    train = xt if perm is None else xt[perm[:m]]
    s = min(m, max(k, min(64 * k, _INIT_CAP)))
    init_rows = train if s == m else train[torch.randperm(m, generator=gen, device=dev)[:s]]
    centers = _kmeanspp(init_rows, k, gen)

    labels, dist = _nearest(train, centers)
    prev = float(dist.mean())
    for _ in range(config.max_iters):
        counts = torch.bincount(labels, minlength=k)
        sums = torch.zeros_like(centers).index_add_(0, labels, train)
        centers = sums / counts.clamp(min=1).unsqueeze(1).to(sums.dtype)
        empty = torch.nonzero(counts == 0).squeeze(1)
        if empty.numel():  # re-seed with the worst-served training points
            centers[empty] = train[torch.topk(dist, empty.numel()).indices]
        labels, dist = _nearest(train, centers)
        mse = float(dist.mean())
        done = prev - mse <= config.tol * prev
        prev = mse
        if done:
            break
    if perm is not None:  # training rows are already labelled; assign the others
        all_labels = torch.empty(n, dtype=torch.int64, device=dev)
        all_labels[perm[:m]] = labels
        for i in range(m, n, m):  # in blocks of m rows: bounded gather copies
            all_labels[perm[i:i + m]] = _nearest(xt[perm[i:i + m]], centers)[0]
        labels = all_labels
    return centers.cpu().numpy(), labels.cpu().numpy()


def assign(x: np.ndarray, codebook: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Nearest codeword index per row, chunked."""
    arr = np.ascontiguousarray(x, dtype=np.float32)
    cb = np.ascontiguousarray(codebook, dtype=np.float32)
    if arr.ndim != 2 or cb.ndim != 2 or arr.shape[1] != cb.shape[1] or cb.shape[0] < 1:
        raise ValueError(f"need x (N, D) and codebook (K>=1, D), got {arr.shape}, {cb.shape}")
    if arr.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    dev = torch.device(device)
    labels, _ = _nearest(torch.from_numpy(arr).to(dev), torch.from_numpy(cb).to(dev))
    return labels.cpu().numpy()
