// The camera (OpenCV convention, as gscc's Camera) and the mouse / keyboard navigation.
//
// State: R, the 3x3 world-to-camera rotation (row-major; rows are the camera's x right,
// y down, z forward in world space), c, the centre in world space, and intrinsics relative
// to the image height (fx = fxr H, fy = fyr H, cx = cxr W, cy = cyr H), so a view keeps its
// field of view when the window changes size.

const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const add = (a, b, s = 1) => [a[0] + s * b[0], a[1] + s * b[1], a[2] + s * b[2]];
const norm = (a) => { const l = Math.hypot(a[0], a[1], a[2]) || 1; return [a[0] / l, a[1] / l, a[2] / l]; };
const row = (R, i) => [R[3 * i], R[3 * i + 1], R[3 * i + 2]];

// rotation matrix (row-major) by `angle` about unit `axis` (Rodrigues)
function rotation(axis, angle) {
  const [x, y, z] = norm(axis);
  const c = Math.cos(angle), s = Math.sin(angle), k = 1 - c;
  return [
    c + x * x * k, x * y * k - z * s, x * z * k + y * s,
    y * x * k + z * s, c + y * y * k, y * z * k - x * s,
    z * x * k - y * s, z * y * k + x * s, c + z * z * k,
  ];
}

function mul(A, B) {
  const out = new Array(9).fill(0);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) out[3 * i + j] += A[3 * i + k] * B[3 * k + j];
  return out;
}

const transpose = (A) => [A[0], A[3], A[6], A[1], A[4], A[7], A[2], A[5], A[8]];
const apply = (A, v) => [dot(row(A, 0), v), dot(row(A, 1), v), dot(row(A, 2), v)];

// re-orthonormalise a rotation (drift from many small updates)
function orthonormal(R) {
  const z = norm(row(R, 2));
  let x = row(R, 0);
  x = norm(add(x, z, -dot(x, z)));
  const y = [z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]];
  return [...x, ...y, ...z];
}

export class CameraState {
  constructor(R, c, fxr, fyr, cxr = 0.5, cyr = 0.5) {
    this.R = R.slice();
    this.c = c.slice();
    this.fxr = fxr; this.fyr = fyr; this.cxr = cxr; this.cyr = cyr;
  }

  // from a splaTV camera: OpenCV camera-to-world rotation and position, focal in pixels
  static fromSplatv(cam) {
    const Rc2w = cam.rotation.flat();
    return new CameraState(transpose(Rc2w), cam.position, cam.fx / cam.height, cam.fy / cam.height);
  }

  // from explicit pixels: {world_to_camera (4x4 rows), fx, fy, cx, cy, width, height}
  static fromPixels(p) {
    const m = p.world_to_camera;
    const R = [m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2], m[2][0], m[2][1], m[2][2]];
    const T = [m[0][3], m[1][3], m[2][3]];
    const c = apply(transpose(R), T).map((v) => -v);
    return new CameraState(R, c, p.fx / p.height, p.fy / p.height, p.cx / p.width, p.cy / p.height);
  }

  clone() { return new CameraState(this.R, this.c, this.fxr, this.fyr, this.cxr, this.cyr); }

  // what the renderer needs for an image of width x height
  view(width, height) {
    const T = apply(this.R, this.c).map((v) => -v);
    return {
      R: this.R, T, center: this.c,
      fx: this.fxr * height, fy: this.fyr * height, cx: this.cxr * width, cy: this.cyr * height,
      near: 0.01, far: 1e10,
    };
  }

  toJSON() {
    return { R: this.R, c: this.c, fxr: this.fxr, fyr: this.fyr, cxr: this.cxr, cyr: this.cyr };
  }

  static fromJSON(j) { return new CameraState(j.R, j.c, j.fxr, j.fyr, j.cxr, j.cyr); }

  // URL form: 12 numbers (R rows, c) then the 4 intrinsics, comma-separated
  encode() {
    return [...this.R, ...this.c, this.fxr, this.fyr, this.cxr, this.cyr].map((v) => +v.toPrecision(9)).join(",");
  }

  static decode(text) {
    const v = text.split(",").map(Number);
    if (v.length !== 16 || !v.every(Number.isFinite)) return null;
    return new CameraState(v.slice(0, 9), v.slice(9, 12), v[12], v[13], v[14], v[15]);
  }

  forward() { return row(this.R, 2); }
  right() { return row(this.R, 0); }
  down() { return row(this.R, 1); }

  // turn the camera by world rotation Q about `pivot` (the centre stays for pivot = c)
  rotate(Q, pivot) {
    this.c = add(pivot, apply(Q, add(this.c, pivot, -1)));
    this.R = orthonormal(mul(this.R, transpose(Q)));
  }
}

// Orbit (drag: orbit about the target; right drag or shift: pan; wheel: zoom) and fly
// (drag: look around; W A S D Q E: move) navigation; every change goes through setCamera.
export class Navigation {
  constructor(element, getCamera, setCamera, bounds) {
    this.getCamera = getCamera;
    this.setCamera = setCamera;
    this.radius = bounds.radius;
    this.mode = "orbit";
    this.keys = new Map(); // fly keys held, and when each last moved the camera
    const cam = getCamera();
    this.up = norm(cam.down().map((v) => -v));
    const toCentre = add(bounds.center, cam.c, -1);
    this.distance = Math.max(dot(toCentre, cam.forward()), 0.05 * this.radius) || 1;
    let last = null;
    element.addEventListener("contextmenu", (e) => e.preventDefault());
    element.addEventListener("pointerdown", (e) => {
      last = [e.clientX, e.clientY, e.button === 2 || e.shiftKey];
      element.setPointerCapture(e.pointerId);
    });
    element.addEventListener("pointerup", () => { last = null; });
    element.addEventListener("pointermove", (e) => {
      if (!last) return;
      const dx = e.clientX - last[0], dy = e.clientY - last[1];
      const pan = last[2];
      last = [e.clientX, e.clientY, pan];
      if (pan) this.pan(dx, dy, element.clientHeight); else this.turn(dx, dy);
    });
    element.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.zoom(e.deltaY);
    }, { passive: false });
  }

  target(cam) { return add(cam.c, cam.forward(), this.distance); }

  turn(dx, dy) {
    const cam = this.getCamera().clone();
    const pivot = this.mode === "orbit" ? this.target(cam) : cam.c;
    const k = 0.005;
    cam.rotate(rotation(this.up, -dx * k), pivot);
    cam.rotate(rotation(cam.right(), dy * k), pivot);
    this.setCamera(cam);
  }

  pan(dx, dy, height) {
    const cam = this.getCamera().clone();
    const scale = this.distance / (cam.fyr * height);
    cam.c = add(add(cam.c, cam.right(), -dx * scale), cam.down(), -dy * scale);
    this.setCamera(cam);
  }

  zoom(delta) {
    const cam = this.getCamera().clone();
    const factor = Math.exp(Math.max(-1, Math.min(1, delta * 0.001)));
    const target = this.target(cam);
    const next = this.distance * factor;
    cam.c = add(target, cam.forward(), -next);
    this.distance = next;
    this.setCamera(cam);
  }

  // fly mode: a key moves the camera for as long as it is held, however few frames are drawn
  press(key, now) {
    if (!this.keys.has(key)) this.keys.set(key, now);
  }

  release(key, now) {
    if (this.keys.has(key)) { this.move(key, now); this.keys.delete(key); }
  }

  update(now) {
    if (this.mode !== "fly") return;
    for (const key of [...this.keys.keys()]) this.move(key, now);
  }

  move(key, now) {
    const seconds = Math.max(0, (now - this.keys.get(key)) / 1000);
    this.keys.set(key, now);
    const cam = this.getCamera().clone();
    const moves = { w: [cam.forward(), 1], s: [cam.forward(), -1], d: [cam.right(), 1], a: [cam.right(), -1],
      e: [this.up, 1], q: [this.up, -1] };
    if (!moves[key] || seconds === 0) return;
    cam.c = add(cam.c, moves[key][0], moves[key][1] * 0.5 * this.radius * seconds);
    this.setCamera(cam);
  }

  setMode(mode) { this.mode = mode; this.keys.clear(); }
}
