"""Training splats from posed images (``gscc train``).

Conventions shared by the trainer, the representations (``gscc.model``), the densification
strategies (``strategy/``) and, later, compression simulation (``simulation/``,
``entropy/``, ``mask/``):

Parameters
    A ``torch.nn.ParameterDict`` whose every entry has the splat count N as its first
    dimension, in the 3DGS ``.ply`` parameterisation: ``means`` (N, 3), ``scales`` (N, 3)
    log standard deviations, ``quats`` (N, 4) w x y z, ``opacities`` (N,) logits, ``sh0``
    (N, 1, 3) and ``shN`` (N, K, 3) for the vanilla representation; a feature-based
    representation has ``features`` (N, D) instead of SH (its MLP's weights are not
    per-splat and live outside this dict). Components may add per-splat entries (e.g. a mask
    logit (N,)); every operation that adds, removes or relocates splats must treat *all*
    entries the same way. Dynamic representations (``stg``, ``motion-basis``) add their
    motion entries (``motion``, ``omega``, ``t_center``, ``t_scale``; ``coeffs``) the same
    way: a clone or a split child copies them.

Optimizers
    ``dict[str, torch.optim.Optimizer]``, one Adam per parameter name (so each has its own
    learning rate), each holding exactly that one parameter. When splats are added, removed
    or relocated, the optimizer state (``exp_avg``, ``exp_avg_sq``) is rebuilt to match:
    kept rows keep their state, new rows start at zero (see ``strategy/ops.py``).

Render info
    What a strategy sees of a render step: ``means2d`` (the projected centres, with
    ``retain_grad()`` called before backward), ``radii`` (N,) int, ``width``, ``height``,
    ``n_cameras`` (1).
"""
