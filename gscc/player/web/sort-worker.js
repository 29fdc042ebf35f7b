// Depth sorting off the main thread, on the splats' positions AT THE REQUESTED TIME.
//
// Messages in: {type: "scene", segments: [{count, stride, motion, geometry, basis, basisCount, knots}]}
// then {type: "sort", id, segment, time (local), row: [r20, r21, r22, t2], near, far}.
// Out: {type: "sorted", id, order (Uint32Array, back to front, padded), count, ms}.
// Splats invisible at that time (opacity < 1/255) or outside near..far are left out. The
// sort is a stable two-pass 16-bit radix sort of the camera depths' float bits (exact, ties
// by index as the CPU renderer breaks them), drawn in reverse: farthest first.

const TEXW = 4096;
let segments = [];
let keys = new Uint32Array(0);
let ids = new Uint32Array(0);
let tmpKeys = new Uint32Array(0);
let tmpIds = new Uint32Array(0);
const histLo = new Uint32Array(65536);
const histHi = new Uint32Array(65536);
const depth = new Float32Array(1);
const depthBits = new Uint32Array(depth.buffer);

function knotWeights(t, knots) {
  if (knots === 1) return [0, 0, 0];
  const x = Math.min(Math.max(t, 0), 1) * (knots - 1);
  const lo = Math.min(Math.floor(x), knots - 2);
  return [lo, lo + 1, x - lo];
}

function ensure(n) {
  if (keys.length >= n) return;
  keys = new Uint32Array(n);
  ids = new Uint32Array(n);
  tmpKeys = new Uint32Array(n);
  tmpIds = new Uint32Array(n);
}

function visibleDepths(s, m) {
  const g = s.geometry;
  const S = s.stride * 4;
  const [r0, r1, r2, t2] = m.row;
  const t = m.time;
  const near = m.near, far = m.far;
  let traj = null;
  if (s.motion === "motion-basis") {
    const [lo, hi, w] = knotWeights(t, s.knots);
    traj = new Float64Array(3 * s.basisCount);
    for (let b = 0; b < s.basisCount; b++) {
      for (let c = 0; c < 3; c++) {
        traj[3 * b + c] = (1 - w) * s.basis[(b * s.knots + lo) * 4 + c] + w * s.basis[(b * s.knots + hi) * 4 + c];
      }
    }
  }
  let count = 0;
  for (let i = 0; i < s.count; i++) {
    const o = i * S;
    let x = g[o], y = g[o + 1], z = g[o + 2], opacity = g[o + 3];
    if (s.motion === "stg") {
      const dt = t - g[o + 11];
      const dt2 = dt * dt, dt3 = dt2 * dt;
      x += g[o + 17] * dt + g[o + 20] * dt2 + g[o + 23] * dt3;
      y += g[o + 18] * dt + g[o + 21] * dt2 + g[o + 24] * dt3;
      z += g[o + 19] * dt + g[o + 22] * dt2 + g[o + 25] * dt3;
      const u = dt * g[o + 16];
      opacity *= Math.exp(-u * u);
    } else if (traj) {
      for (let b = 0; b < s.basisCount; b++) {
        const coeff = g[o + 12 + b];
        x += coeff * traj[3 * b];
        y += coeff * traj[3 * b + 1];
        z += coeff * traj[3 * b + 2];
      }
    }
    if (!(opacity >= 1 / 255)) continue;
    const d = r0 * x + r1 * y + r2 * z + t2;
    if (!(d > near && d < far)) continue;
    depth[0] = d; // positive floats order as their bits do
    keys[count] = depthBits[0];
    ids[count] = i;
    count++;
  }
  return count;
}

function radixSort(count) {
  histLo.fill(0);
  histHi.fill(0);
  for (let i = 0; i < count; i++) {
    histLo[keys[i] & 0xffff]++;
    histHi[keys[i] >>> 16]++;
  }
  let a = 0, b = 0;
  for (let k = 0; k < 65536; k++) {
    const lo = histLo[k], hi = histHi[k];
    histLo[k] = a; histHi[k] = b;
    a += lo; b += hi;
  }
  for (let i = 0; i < count; i++) {
    const j = histLo[keys[i] & 0xffff]++;
    tmpKeys[j] = keys[i];
    tmpIds[j] = ids[i];
  }
  for (let i = 0; i < count; i++) {
    const j = histHi[tmpKeys[i] >>> 16]++;
    ids[j] = tmpIds[i];
  }
}

function sort(m) {
  const s = segments[m.segment];
  ensure(s.count);
  const count = visibleDepths(s, m);
  radixSort(count);
  const order = new Uint32Array(Math.max(1, Math.ceil(count / TEXW)) * TEXW);
  for (let i = 0; i < count; i++) order[i] = ids[count - 1 - i];
  return { order, count };
}

self.onmessage = (event) => {
  const m = event.data;
  if (m.type === "scene") {
    segments = m.segments;
  } else if (m.type === "sort") {
    const start = performance.now();
    const { order, count } = sort(m);
    self.postMessage({ type: "sorted", id: m.id, order, count, ms: performance.now() - start }, [order.buffer]);
  }
};
