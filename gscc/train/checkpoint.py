"""The resumable checkpoint ``ckpt.pt`` of a training run.

One ``torch.save`` dict (read back with ``weights_only=True``: tensors, numbers, strings,
lists and dicts only):

- ``format`` ("gscc-train-checkpoint"), ``version`` (1), ``step``: steps completed;
- ``config``: the run's TrainConfig as a dict; ``representation``: its name;
- ``params``: per-splat tensors by name; ``shared``: the representation's shared weights
  (float32 tensors by name, e.g. the feature decoder's);
- ``optimizers`` / ``shared_optimizers``: ``state_dict()`` of each optimizer by name;
- ``strategy_state``: the strategy's running state;
- ``rng``: the torch CPU (and CUDA) generator states, numpy's and Python's global states;
- ``losses``: the training loss of every completed step; ``history``: the periodic
  evaluations; ``train_seconds``: training time so far.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..io.atomic import write_bytes_atomically

FORMAT = "gscc-train-checkpoint"
VERSION = 1


def rng_states() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    states = {
        "torch": torch.get_rng_state(),
        "numpy": [torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": _python_state(random.getstate()),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _python_state(state) -> list:
    version, internal, gauss = state
    return [int(version), [int(v) for v in internal], gauss]


def set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write ``payload`` (see the module docstring; format and version are added) atomically."""
    data = {"format": FORMAT, "version": VERSION, **payload}
    buffer = io.BytesIO()
    torch.save(data, buffer)
    write_bytes_atomically(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no checkpoint to resume from")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path}: not a gscc training checkpoint")
    if data.get("version") != VERSION:
        raise InputError(f"{path}: checkpoint version {data.get('version')} is not supported (expected {VERSION})")
    return data
