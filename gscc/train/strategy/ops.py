"""Operations that add, remove or relocate splats, keeping optimizers and strategy state aligned.

Every operation here acts on *all* entries of the parameter dict (whatever their names: a
component may add per-splat tensors such as a mask logit), replaces each changed entry with
a new ``torch.nn.Parameter`` inside the dict, and re-points the entry's optimizer at it.
Per-row optimizer state (Adam's ``exp_avg``/``exp_avg_sq``, or any tensor whose first
dimension is the splat count) follows the rows: kept rows keep their state, new and
relocated rows start at zero. Scalar state (Adam's ``step``) is left as it is.

``state`` is a strategy's running state: every *tensor* value in it is per-splat (N rows)
and is updated with the same row operation; other values (floats, None) are ignored.

Only the names ``means``, ``scales``, ``quats`` and ``opacities`` get special rules (split
children positions and scales, relocated opacities and scales); every other entry is
copied row by row.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import Tensor

from ...render.projection import covariance_3d, quat_to_rotmat

Params = torch.nn.ParameterDict
Optimizers = Dict[str, torch.optim.Optimizer]

SPLIT_SCALE_DIVISOR = 1.6  # 3DGS: children of a split are 1.6 times smaller


def num_splats(params: Params) -> int:
    return int(params["means"].shape[0]) if "means" in params else int(next(iter(params.values())).shape[0])


def _rows(v: Tensor, n: int) -> bool:
    return isinstance(v, Tensor) and v.ndim >= 1 and v.shape[0] == n


@torch.no_grad()
def _update(
    params: Params,
    optimizers: Optimizers,
    param_fn: Callable[[str, Tensor], Tensor],
    optim_fn: Callable[[Tensor], Tensor],
    names: Optional[list] = None,
) -> None:
    """Replace ``params[name]`` by ``param_fn(name, old)`` and map its per-row optimizer state
    through ``optim_fn``; the optimizer then holds the new Parameter and no stale one."""
    for name in list(params.keys()) if names is None else names:
        old = params[name]
        n = old.shape[0]
        new = torch.nn.Parameter(param_fn(name, old.detach()), requires_grad=old.requires_grad)
        params[name] = new
        opt = optimizers.get(name)
        if opt is None:
            if old.requires_grad:
                raise KeyError(f"parameter {name!r} is trainable but has no optimizer")
            continue
        found = False
        for group in opt.param_groups:
            for i, p in enumerate(group["params"]):
                if p is old:
                    group["params"][i] = new
                    found = True
        if not found:
            raise ValueError(f"the optimizer for {name!r} does not hold params[{name!r}] (stale reference?)")
        pstate = opt.state.pop(old, None)
        if pstate:
            opt.state[new] = {k: (optim_fn(v) if _rows(v, n) else v) for k, v in pstate.items()}


def _update_state(state: Optional[dict], n: int, fn: Callable[[Tensor], Tensor]) -> None:
    if not state:
        return
    for key, v in list(state.items()):
        if isinstance(v, Tensor):
            if not _rows(v, n):
                raise ValueError(f"strategy state {key!r} has shape {tuple(v.shape)}, expected {n} rows")
            state[key] = fn(v)


def _randn(shape, generator: Optional[torch.Generator], like: Tensor) -> Tensor:
    """Standard normal samples on ``like``'s device, drawn from ``generator`` when given."""
    if generator is None:
        return torch.randn(shape, dtype=like.dtype, device=like.device)
    return torch.randn(shape, generator=generator, dtype=like.dtype, device=generator.device).to(like.device)


def _zeros_like_rows(v: Tensor, rows: int) -> Tensor:
    return torch.zeros((rows, *v.shape[1:]), dtype=v.dtype, device=v.device)


def _as_index(mask: Tensor, n: int) -> Tensor:
    mask = torch.as_tensor(mask)
    if mask.dtype != torch.bool or mask.shape != (n,):
        raise ValueError(f"mask must be a bool tensor of shape ({n},), got {mask.dtype} {tuple(mask.shape)}")
    return torch.nonzero(mask, as_tuple=True)[0]


@torch.no_grad()
def duplicate(params: Params, optimizers: Optimizers, state: Optional[dict], mask: Tensor) -> int:
    """Append a copy of every splat where ``mask`` is true; returns how many were added.

    Copies get zero optimizer state; strategy state is copied (they are the same splat).
    """
    n = num_splats(params)
    sel = _as_index(mask, n).to(params["means"].device)
    if len(sel) == 0:
        return 0
    _update(
        params,
        optimizers,
        lambda name, p: torch.cat([p, p[sel]]),
        lambda v: torch.cat([v, _zeros_like_rows(v, len(sel))]),
    )
    _update_state(state, n, lambda v: torch.cat([v, v[sel]]))
    return len(sel)


@torch.no_grad()
def split(
    params: Params,
    optimizers: Optimizers,
    state: Optional[dict],
    mask: Tensor,
    n_children: int = 2,
    scale_divisor: float = SPLIT_SCALE_DIVISOR,
    revised_opacity: bool = False,
    generator: Optional[torch.Generator] = None,
) -> int:
    """Replace every splat where ``mask`` is true by ``n_children`` smaller ones (3DGS).

    Children positions are samples from the parent Gaussian N(mean, R S² Rᵀ); their scales are
    the parent's divided by ``scale_divisor`` (1.6); every other entry is copied. With
    ``revised_opacity`` each child gets opacity 1 - (1 - o)^(1/n_children) (Rota Bulò et al.
    2024) instead of the parent's. Kept splats come first, in order, then the children
    (child 0 of every parent, then child 1, ...). Returns the number of splats split.
    """
    n = num_splats(params)
    device = params["means"].device
    sel = _as_index(mask, n).to(device)
    rest = torch.nonzero(~mask.to(device), as_tuple=True)[0]
    m = len(sel)
    if m == 0:
        return 0
    means = params["means"].detach()
    scales = torch.exp(params["scales"].detach()[sel])
    rot = quat_to_rotmat(params["quats"].detach()[sel])
    eps = _randn((n_children, m, 3), generator, means)
    offsets = torch.einsum("mij,mj,cmj->cmi", rot, scales, eps)  # (children, m, 3)

    def param_fn(name: str, p: Tensor) -> Tensor:
        if name == "means":
            children = (p[sel][None] + offsets).reshape(-1, 3)
        elif name == "scales":
            children = (p[sel] - math.log(scale_divisor)).repeat(n_children, *([1] * (p.ndim - 1)))
        elif name == "opacities" and revised_opacity:
            o = torch.sigmoid(p[sel])
            o_child = -torch.expm1(torch.log1p(-o) / n_children)
            children = torch.logit(o_child).repeat(n_children, *([1] * (p.ndim - 1)))
        else:
            children = p[sel].repeat(n_children, *([1] * (p.ndim - 1)))
        return torch.cat([p[rest], children])

    def optim_fn(v: Tensor) -> Tensor:
        return torch.cat([v[rest], _zeros_like_rows(v, n_children * m)])

    _update(params, optimizers, param_fn, optim_fn)
    _update_state(state, n, lambda v: torch.cat([v[rest], v[sel].repeat(n_children, *([1] * (v.ndim - 1)))]))
    return m


@torch.no_grad()
def remove(params: Params, optimizers: Optimizers, state: Optional[dict], mask: Tensor) -> int:
    """Delete every splat where ``mask`` is true; returns how many were removed."""
    n = num_splats(params)
    keep = _as_index(~torch.as_tensor(mask), n).to(params["means"].device)
    removed = n - len(keep)
    if removed == 0:
        return 0
    _update(params, optimizers, lambda name, p: p[keep], lambda v: v[keep])
    _update_state(state, n, lambda v: v[keep])
    return removed


@torch.no_grad()
def reset_opacities(params: Params, optimizers: Optimizers, state: Optional[dict], value: float) -> None:
    """Clamp every opacity to at most ``value`` (activated) and zero its optimizer state (3DGS)."""
    if not 0.0 < value < 1.0:
        raise ValueError(f"opacity reset value must be in (0, 1), got {value}")
    cap = math.log(value / (1.0 - value))
    _update(params, optimizers, lambda name, p: p.clamp(max=cap), torch.zeros_like, names=["opacities"])


# --- 3DGS as Markov Chain Monte Carlo (Kheradmand et al. 2024) -----------------------------


def sample_proportional(weights: Tensor, n: int, generator: Optional[torch.Generator] = None) -> Tensor:
    """``n`` indices drawn with replacement with probability proportional to ``weights`` (>= 0).

    Inverse-CDF sampling, so unlike ``torch.multinomial`` it has no 2^24 category limit.
    """
    w = weights.detach().reshape(-1).to(torch.float64).clamp_min(0.0)
    cdf = torch.cumsum(w, 0)
    total = float(cdf[-1]) if len(cdf) else 0.0
    if not total > 0.0:
        raise ValueError("cannot sample: the weights are all zero")
    if generator is None:
        u = torch.rand(n, dtype=torch.float64, device=cdf.device)
    else:
        u = torch.rand(n, generator=generator, dtype=torch.float64, device=generator.device).to(cdf.device)
    u = u * total
    return torch.searchsorted(cdf, u, right=True).clamp_(max=len(w) - 1)


def relocation_opacity_scale(opacities: Tensor, scales: Tensor, copies: Tensor) -> Tuple[Tensor, Tensor]:
    """The MCMC rule for replacing one splat by ``copies`` identical ones (Eq. 9 of the paper).

    ``opacities`` (M,) activated, ``scales`` (M, 3) activated, ``copies`` (M,) int >= 1.
    New opacity: o' = 1 - (1 - o)^(1/n), so n copies composite to the old opacity.
    New scale: s' = s · o / D with
    D = Σ_{i=1..n} Σ_{k=0..i-1} C(i-1, k) (-1)^k o'^(k+1) / sqrt(k+1)
      = Σ_{j=1..n} C(n, j) (-1)^(j-1) o'^j / sqrt(j)        (hockey-stick identity),
    which keeps the integral of the composited opacity 1 - (1 - o' g')^n along a line through
    the centre equal to that of o g. Computed in float64 from log-binomials, grouped by n,
    so any n works (no table, no cap on the number of copies).
    """
    dtype = opacities.dtype
    o = opacities.detach().reshape(-1).to(torch.float64)
    tiny = torch.finfo(torch.float32).eps
    o = o.clamp(tiny, 1.0 - tiny)
    n = copies.reshape(-1).to(torch.long)
    if len(n) and int(n.min()) < 1:
        raise ValueError("copies must be >= 1")
    o_new = -torch.expm1(torch.log1p(-o) / n.to(torch.float64))
    denom = torch.empty_like(o)
    for value in torch.unique(n).tolist():
        at = n == value
        j = torch.arange(1, value + 1, dtype=torch.float64, device=o.device)
        log_binom = math.lgamma(value + 1) - torch.lgamma(j + 1) - torch.lgamma(value - j + 1)
        sign = torch.where(j % 2 == 1, 1.0, -1.0).to(torch.float64)
        terms = sign * torch.exp(log_binom + j * torch.log(o_new[at])[:, None] - 0.5 * torch.log(j))
        denom[at] = terms.sum(dim=1)
    factor = (o / denom).to(scales.dtype)
    return o_new.to(dtype), scales * factor[:, None]


def _sources_with_split(params: Params, sources: Tensor, min_opacity: float) -> Tuple[Tensor, Tensor, Tensor]:
    """For sampled ``sources`` (with repeats): the distinct sources, their new opacity logits
    and their new log-scales, given that each becomes (times sampled + 1) copies."""
    n = num_splats(params)
    counts = torch.bincount(sources, minlength=n)
    uniq = torch.nonzero(counts, as_tuple=True)[0]
    opa = torch.sigmoid(params["opacities"].detach().reshape(n)[uniq])
    scales = torch.exp(params["scales"].detach()[uniq])
    o_new, s_new = relocation_opacity_scale(opa, scales, counts[uniq] + 1)
    eps = torch.finfo(torch.float32).eps
    o_new = o_new.clamp(min=min_opacity, max=1.0 - eps)
    return uniq, torch.logit(o_new), torch.log(s_new)


@torch.no_grad()
def relocate(
    params: Params,
    optimizers: Optimizers,
    state: Optional[dict],
    dead_mask: Tensor,
    min_opacity: float = 0.005,
    generator: Optional[torch.Generator] = None,
) -> int:
    """Move every dead splat onto a live one sampled with probability ∝ opacity (MCMC).

    A live splat sampled k times becomes k + 1 identical splats (itself and k former dead
    ones), with opacity and scale from :func:`relocation_opacity_scale`. Sources and moved
    splats get zero optimizer and strategy state. Returns the number relocated (0 when no
    splat is alive).
    """
    n = num_splats(params)
    device = params["means"].device
    dead = _as_index(dead_mask, n).to(device)
    alive = torch.nonzero(~dead_mask.to(device), as_tuple=True)[0]
    if len(dead) == 0 or len(alive) == 0:
        return 0
    weights = torch.sigmoid(params["opacities"].detach().reshape(n)[alive])
    if not float(weights.sum()) > 0.0:
        return 0
    sources = alive[sample_proportional(weights, len(dead), generator).to(device)]
    uniq, logit_new, log_scale_new = _sources_with_split(params, sources, min_opacity)
    touched = torch.cat([uniq, dead])

    def param_fn(name: str, p: Tensor) -> Tensor:
        p = p.clone()
        if name == "opacities":
            p[uniq] = logit_new.reshape(-1, *p.shape[1:]).to(p.dtype)
        elif name == "scales":
            p[uniq] = log_scale_new.to(p.dtype)
        p[dead] = p[sources]
        return p

    def zero_rows(v: Tensor) -> Tensor:  # in place: the old optimizer/strategy state is discarded
        v[touched] = 0
        return v

    _update(params, optimizers, param_fn, zero_rows)
    _update_state(state, n, zero_rows)
    return len(dead)


@torch.no_grad()
def add_new(
    params: Params,
    optimizers: Optimizers,
    state: Optional[dict],
    count: int,
    min_opacity: float = 0.005,
    generator: Optional[torch.Generator] = None,
) -> int:
    """Append ``count`` splats, each a copy of a splat sampled ∝ opacity (MCMC growth).

    Sources and their new copies share the relocation rule's opacity and scale; new rows and
    sources get zero optimizer state, new rows zero strategy state. Returns the number added.
    """
    n = num_splats(params)
    if count <= 0 or n == 0:
        return 0
    device = params["means"].device
    weights = torch.sigmoid(params["opacities"].detach().reshape(n))
    if not float(weights.sum()) > 0.0:
        return 0
    sources = sample_proportional(weights, count, generator).to(device)
    uniq, logit_new, log_scale_new = _sources_with_split(params, sources, min_opacity)
    at = torch.searchsorted(uniq, sources)  # each new splat's entry in uniq

    def param_fn(name: str, p: Tensor) -> Tensor:
        new = torch.cat([p, p[sources]])
        if name in ("opacities", "scales"):
            value = (logit_new.reshape(-1, *p.shape[1:]) if name == "opacities" else log_scale_new).to(p.dtype)
            new[uniq] = value
            new[n:] = value[at]
        return new

    def optim_fn(v: Tensor) -> Tensor:  # in place: the old optimizer state is discarded
        v[uniq] = 0
        return torch.cat([v, _zeros_like_rows(v, count)])

    _update(params, optimizers, param_fn, optim_fn)
    _update_state(state, n, lambda v: torch.cat([v, _zeros_like_rows(v, count)]))
    return count


def noise_gate(opacities: Tensor, k: float = 100.0, x0: float = 0.995) -> Tensor:
    """σ(k·((1 - o) - x0)): about 1 for nearly transparent splats, about 0 for opaque ones."""
    return torch.sigmoid(k * ((1.0 - opacities) - x0))


@torch.no_grad()
def inject_noise(
    params: Params,
    lr: float,
    noise_lr: float = 5e5,
    k: float = 100.0,
    x0: float = 0.995,
    generator: Optional[torch.Generator] = None,
) -> None:
    """MCMC exploration noise added to ``means`` in place: Δμ = noise_lr · lr · σ(k(1-o-x0)) · Σ ε.

    ``lr`` is the current learning rate of ``means`` (which the trainer scales by the scene
    size), ε ~ N(0, I) and Σ = R S² Rᵀ the splat's covariance, as in the reference code of
    Kheradmand et al. 2024 (the covariance itself, not its square root, shapes the noise).
    The optimizer state is not touched.
    """
    means = params["means"]
    n = means.shape[0]
    if n == 0 or lr == 0.0:
        return
    opa = torch.sigmoid(params["opacities"].detach().reshape(n))
    cov = covariance_3d(params["quats"].detach(), torch.exp(params["scales"].detach()))
    eps = _randn((n, 3), generator, means) * (noise_gate(opa, k, x0) * (noise_lr * lr))[:, None]
    means.add_(torch.einsum("nij,nj->ni", cov, eps))
