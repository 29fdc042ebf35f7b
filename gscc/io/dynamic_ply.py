"""Dynamic splats in `.ply`: Spacetime Gaussians' layout, and gscc's motion-basis layout.

Both keep every field of the standard 3DGS `.ply` (the splats at rest; colour as SH — an
MLP-coloured model is written with SH baked from its MLP), so a static tool still opens them.

- STG (as STG's trainer writes it): per vertex also ``trbf_center``, ``trbf_scale`` (log of
  the temporal scale), ``motion_0..3D-1`` (degree-major polynomial coefficients, D ≤ 3) and
  ``omega_0..3``.
- motion-basis: per vertex also ``basis_coeff_0..B-1``; a second element ``motion_basis``
  with B·K rows ``basis, knot`` (int) and ``x, y, z`` (float): the displacement of basis
  ``basis`` at knot ``knot`` (knot j at time j / (K - 1)).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from plyfile import PlyData, PlyElement

from ..dynamic import DynamicSplats, MotionBasis, STGMotion
from ..errors import InputError, warn
from ..splats import SplatSet
from .atomic import write_atomically
from .ply import _columns, _numbered, _read_vertex, _splats_from_vertex, ply_vertex_array

STG_FIELDS = ("trbf_center", "trbf_scale")
BASIS_ELEMENT = "motion_basis"


def ply_kind(path: str | os.PathLike) -> str:
    """``"stg"``, ``"motion-basis"`` or ``"static"`` from a PLY's header alone."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    end = head.find(b"end_header")
    header = head[: end if end >= 0 else len(head)].decode("ascii", errors="replace")
    words = {line.split()[-1] for line in header.splitlines() if line.startswith("property")}
    if set(STG_FIELDS) <= words:
        return "stg"
    if f"element {BASIS_ELEMENT}" in header:
        return "motion-basis"
    return "static"


def _drop_defective(path: Path, splats: DynamicSplats) -> DynamicSplats:
    ok = splats.finite_rows()
    if not splats.motion.shared_finite():
        raise InputError(f"{path}: the shared motion basis holds non-finite values")
    if not ok.any():
        raise InputError(f"{path}: no splat in the file has finite values")
    if not ok.all():
        warn(f"{path}: dropped {int((~ok).sum())} of {len(ok)} splats with non-finite values")
        return splats.subset(ok)
    return splats


def read_dynamic_ply(path: str | os.PathLike) -> DynamicSplats:
    """Read an STG or motion-basis `.ply`; splats with non-finite values are dropped with a warning."""
    path = Path(path)
    ply, vertex = _read_vertex(path)
    static = _splats_from_vertex(path, vertex)
    names = set(vertex.dtype.names or ())
    if set(STG_FIELDS) <= names:
        motion_keys = _numbered(path, names, "motion_")
        if len(motion_keys) % 3 or len(motion_keys) > 9:
            raise InputError(f"{path}: {len(motion_keys)} motion_* properties; expected 0, 3, 6 or 9")
        motion = STGMotion(
            motion=_columns(path, vertex, *motion_keys),
            omega=_columns(path, vertex, "omega_0", "omega_1", "omega_2", "omega_3"),
            t_center=_columns(path, vertex, "trbf_center")[:, 0],
            t_scale=_columns(path, vertex, "trbf_scale")[:, 0],
        )
    elif BASIS_ELEMENT in [e.name for e in ply.elements]:
        coeff_keys = _numbered(path, names, "basis_coeff_")
        rows = ply[BASIS_ELEMENT].data
        need = {"basis", "knot", "x", "y", "z"}
        if not need <= set(rows.dtype.names or ()):
            raise InputError(f"{path}: {BASIS_ELEMENT} element lacks {', '.join(sorted(need))}")
        b = len(coeff_keys)
        if b == 0 or len(rows) == 0 or len(rows) % b:
            raise InputError(f"{path}: {len(rows)} motion-basis rows do not fit {b} bases")
        k = len(rows) // b
        basis = np.zeros((b, k, 3), np.float32)
        seen = np.zeros((b, k), bool)
        bi, ki = np.asarray(rows["basis"], np.int64), np.asarray(rows["knot"], np.int64)
        if (bi < 0).any() or (bi >= b).any() or (ki < 0).any() or (ki >= k).any():
            raise InputError(f"{path}: motion-basis rows name bases or knots out of range")
        basis[bi, ki] = np.stack([rows["x"], rows["y"], rows["z"]], axis=1)
        seen[bi, ki] = True
        if not seen.all():
            raise InputError(f"{path}: motion-basis rows leave some (basis, knot) pairs undefined")
        motion = MotionBasis(coeffs=_columns(path, vertex, *coeff_keys), basis=basis)
    else:
        raise InputError(f"{path}: a static 3DGS PLY, not a dynamic one (no trbf_center/trbf_scale or motion basis)")
    return _drop_defective(path, DynamicSplats(static, motion))


def _dynamic_vertex_array(splats: DynamicSplats) -> np.ndarray:
    static = splats.static if isinstance(splats.static, SplatSet) else splats.static.baked()
    base = ply_vertex_array(static)
    motion = splats.motion
    if isinstance(motion, STGMotion):
        extra = {"trbf_center": motion.t_center, "trbf_scale": motion.t_scale}
        extra.update({f"motion_{i}": motion.motion[:, i] for i in range(motion.motion.shape[1])})
        extra.update({f"omega_{i}": motion.omega[:, i] for i in range(4)})
    elif isinstance(motion, MotionBasis):
        extra = {f"basis_coeff_{i}": motion.coeffs[:, i] for i in range(motion.coeffs.shape[1])}
    else:
        raise InputError(f"no PLY layout for motion model {motion.kind!r}")
    dtype = np.dtype(base.dtype.descr + [(name, "<f4") for name in extra])
    out = np.empty(len(base), dtype=dtype)
    for name in base.dtype.names:
        out[name] = base[name]
    for name, values in extra.items():
        out[name] = values
    return out


def write_dynamic_ply(splats: DynamicSplats, path: str | os.PathLike) -> None:
    """Write dynamic splats as a binary little-endian `.ply` in the layout of their motion model."""
    elements = [PlyElement.describe(_dynamic_vertex_array(splats), "vertex")]
    if isinstance(splats.motion, MotionBasis):
        b, k, _ = splats.motion.basis.shape
        rows = np.empty(b * k, dtype=[("basis", "<i4"), ("knot", "<i4"), ("x", "<f4"), ("y", "<f4"), ("z", "<f4")])
        rows["basis"] = np.repeat(np.arange(b), k)
        rows["knot"] = np.tile(np.arange(k), b)
        flat = splats.motion.basis.reshape(b * k, 3)
        rows["x"], rows["y"], rows["z"] = flat[:, 0], flat[:, 1], flat[:, 2]
        elements.append(PlyElement.describe(rows, BASIS_ELEMENT))
    data = PlyData(elements, text=False, byte_order="<")
    write_atomically(path, data.write)
