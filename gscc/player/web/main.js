// The player: loads scene.json + scene.bin, keeps the state (time, camera, mode), asks the
// sort worker for a back-to-front order at the current time, draws when something changed,
// and exposes a test hook as window.gscc.

import { Renderer } from "./renderer.js";
import { CameraState, Navigation } from "./camera.js";

const $ = (id) => document.getElementById(id);
const BACKGROUND = [0, 0, 0];

async function loadScene() {
  const [metaResponse, blobResponse] = await Promise.all([fetch("scene.json"), fetch("scene.bin")]);
  if (!metaResponse.ok || !blobResponse.ok) throw new Error("could not load the scene from the server");
  const meta = await metaResponse.json();
  const blob = await blobResponse.arrayBuffer();
  const view = (entry) => {
    if (!entry) return null;
    return entry.dtype === "f16"
      ? new Uint16Array(blob, entry.offset, entry.length / 2)
      : new Float32Array(blob, entry.offset, entry.length / 4);
  };
  for (const s of meta.segments) {
    s.geometry = view(s.arrays.geometry);
    s.colorData = view(s.arrays.color);
    s.basis = view(s.arrays.basis);
    s.mlpWeights = view(s.arrays.mlp);
  }
  return meta;
}

function parseHash() {
  const out = {};
  for (const part of location.hash.replace(/^#/, "").split("&")) {
    const [k, v] = part.split("=");
    if (k) out[k] = decodeURIComponent(v || "");
  }
  return out;
}

class Player {
  constructor(meta) {
    this.meta = meta;
    this.canvas = $("canvas");
    this.renderer = new Renderer(this.canvas, meta);
    this.frameCount = meta.frame_count;
    this.fps = meta.fps;
    this.t = 0;
    this.playing = false;
    this.loop = true;
    this.speed = 1;
    this.mode = "rgb";
    this.initialCamera = CameraState.fromSplatv(meta.camera);
    this.camera = this.initialCamera.clone();
    this.frames = 0; // frames drawn
    this.sortId = 0;
    this.sortInFlight = null; // the request being sorted
    this.sorted = null; // the request whose order the renderer holds
    this.drawnKey = null;
    this.dirty = true;
    this.lastSortMs = 0;
    this.frameMs = 0;
    this.visible = 0;
    this.applyHash(parseHash());
    this.worker = new Worker("sort-worker.js");
    this.worker.onmessage = (e) => this.onSorted(e.data);
    this.worker.onerror = (e) => console.error("sort worker:", e.message);
    this.worker.postMessage({
      type: "scene",
      segments: meta.segments.map((s) => ({
        count: s.count, stride: s.geometry_stride, motion: s.motion, geometry: s.geometry.slice(),
        basis: s.basis ? s.basis.slice() : null, basisCount: s.basis_count || 0, knots: s.basis_knots || 0,
      })),
    });
    this.navigation = new Navigation(this.canvas, () => this.camera, (c) => this.setCamera(c), meta.bounds);
    this.setupUi();
    this.lastTick = performance.now();
    requestAnimationFrame((now) => this.tick(now));
  }

  // ---- state ------------------------------------------------------------------------
  // frame k of n shows time k / (n - 1), as gscc's dynamic datasets number them
  frame() {
    const n = this.frameCount;
    return n > 1 ? Math.min(Math.floor(this.t * (n - 1) + 1e-9), n - 1) : 0;
  }

  segmentAt(t) {
    const segments = this.meta.segments;
    const tc = Math.min(Math.max(t, 0), 1);
    for (let i = 0; i < segments.length; i++) {
      if (tc < segments[i].end) return [i, (tc - segments[i].start) / (segments[i].end - segments[i].start)];
    }
    const last = segments.length - 1;
    return [last, (tc - segments[last].start) / (segments[last].end - segments[last].start)];
  }

  setTime(t) {
    const next = Math.min(Math.max(Number(t), 0), 1);
    if (next !== this.t) { this.t = next; this.dirty = true; }
  }

  setFrame(k) {
    const n = this.frameCount;
    k = this.loop ? ((Math.round(k) % n) + n) % n : Math.min(Math.max(Math.round(k), 0), n - 1);
    this.setTime(n > 1 ? k / (n - 1) : 0);
  }

  step(delta) { this.playing = false; this.setFrame(this.frame() + delta); }

  setCamera(camera) { this.camera = camera instanceof CameraState ? camera : CameraState.fromPixels(camera); this.dirty = true; }

  setMode(mode) {
    if (mode !== "rgb" && mode !== "depth") throw new Error(`unknown mode ${mode}`);
    this.mode = mode; this.dirty = true;
  }

  setPlaying(on) { this.playing = !!on && this.frameCount > 1; this.lastTick = performance.now(); this.dirty = true; }

  applyHash(h) {
    if (h.t !== undefined && Number.isFinite(Number(h.t))) this.t = Math.min(Math.max(Number(h.t), 0), 1);
    if (h.cam) { const c = CameraState.decode(h.cam); if (c) this.camera = c; }
    if (h.mode === "depth" || h.mode === "rgb") this.mode = h.mode;
  }

  hash() { return `#t=${+this.t.toPrecision(9)}&mode=${this.mode}&cam=${this.camera.encode()}`; }

  state() {
    const [segment, local] = this.segmentAt(this.t);
    return {
      t: this.t, frame: this.frame(), frameCount: this.frameCount, fps: this.fps, playing: this.playing,
      loop: this.loop, speed: this.speed, mode: this.mode, camera: this.camera.toJSON(), segment, localTime: local,
      splats: this.meta.count, visible: this.visible, frames: this.frames, sortMs: this.lastSortMs,
      frameMs: this.frameMs, hash: this.hash(), width: this.canvas.width, height: this.canvas.height,
    };
  }

  // ---- sorting --------------------------------------------------------------------------
  sortKey() {
    const [segment, local] = this.segmentAt(this.t);
    const R = this.camera.R;
    const T = this.camera.view(1, 1).T;
    return { segment, time: local, row: [R[6], R[7], R[8], T[2]], key: `${segment}|${local}|${R.slice(6).join()}|${T[2]}` };
  }

  requestSort() {
    const want = this.sortKey();
    if (this.sortInFlight || (this.sorted && this.sorted.key === want.key)) return;
    this.sortInFlight = { ...want, id: ++this.sortId };
    this.worker.postMessage({ type: "sort", id: this.sortId, segment: want.segment, time: want.time, row: want.row, near: 0.01, far: 1e10 });
  }

  onSorted(m) {
    const request = this.sortInFlight;
    this.sortInFlight = null;
    if (!request || m.id !== request.id) return;
    this.renderer.setOrder(request.segment, m.order, m.count);
    this.sorted = request;
    this.lastSortMs = m.ms;
    this.dirty = true;
    this.requestSort();
  }

  // ---- the loop -------------------------------------------------------------------------
  tick(now) {
    const seconds = Math.min((now - this.lastTick) / 1000, 0.25);
    this.lastTick = now;
    if (this.playing) {
      const duration = (this.frameCount - 1) / this.fps; // from the first frame to the last
      let t = this.t + (seconds * this.speed) / duration;
      if (t > 1) {
        if (this.loop) t -= Math.floor(t);
        else { t = 1; this.playing = false; }
      }
      this.setTime(t);
    }
    this.navigation.update(now);
    this.resize();
    this.requestSort();
    const key = this.drawKey();
    if (this.sorted && (this.dirty || key !== this.drawnKey)) {
      const start = performance.now();
      const [segment, local] = this.segmentAt(this.t);
      if (this.sorted.segment === segment) {
        const view = this.camera.view(this.canvas.width, this.canvas.height);
        this.visible = this.renderer.render(segment, local, view, this.mode, BACKGROUND);
        this.frames++;
        this.drawnKey = key;
        this.dirty = false;
        this.frameMs = performance.now() - start;
      }
      this.updateUi();
    }
    requestAnimationFrame((n) => this.tick(n));
  }

  // what the picture on screen depends on; a frame drawn with this key and a matching sort is final
  drawKey() {
    return `${this.sortKey().key}|${this.sorted ? this.sorted.key : ""}|${this.camera.encode()}|${this.mode}|${this.canvas.width}x${this.canvas.height}`;
  }

  settled() {
    return this.sorted && !this.sortInFlight && this.sorted.key === this.sortKey().key && this.drawnKey === this.drawKey();
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w; this.canvas.height = h; this.dirty = true;
    }
    this.renderer.resize(this.canvas.width, this.canvas.height);
  }

  // ---- the page's controls ----------------------------------------------------------------
  setupUi() {
    const slider = $("slider");
    slider.max = String(this.frameCount - 1);
    slider.addEventListener("input", () => { this.playing = false; this.setFrame(Number(slider.value)); });
    $("play").addEventListener("click", () => this.setPlaying(!this.playing));
    $("prev").addEventListener("click", () => this.step(-1));
    $("next").addEventListener("click", () => this.step(1));
    $("loop").addEventListener("change", (e) => { this.loop = e.target.checked; });
    $("speed").addEventListener("change", (e) => { this.speed = Number(e.target.value); });
    $("mode").addEventListener("change", (e) => this.setMode(e.target.value));
    $("fly").addEventListener("change", (e) => this.navigation.setMode(e.target.checked ? "fly" : "orbit"));
    $("timeline").hidden = this.frameCount <= 1;
    window.addEventListener("keydown", (e) => {
      const key = e.key.toLowerCase();
      if (e.target instanceof HTMLInputElement && e.target.type !== "checkbox" && e.target.type !== "range") return;
      if (e.target instanceof HTMLInputElement && e.target.type === "range" && key.startsWith("arrow")) return; // the slider's own
      if (this.navigation.mode === "fly" && "wasdqe".includes(key) && key.length === 1) { this.navigation.press(key, performance.now()); return; }
      if (key === " ") { e.preventDefault(); this.setPlaying(!this.playing); }
      else if (key === "arrowright" || key === ".") this.step(1);
      else if (key === "arrowleft" || key === ",") this.step(-1);
      else if (key === "arrowup") this.setSpeed(this.speed * 2);
      else if (key === "arrowdown") this.setSpeed(this.speed / 2);
      else if (key === "home") this.setFrame(0);
      else if (key === "end") this.setFrame(this.frameCount - 1);
      else if (key === "l") { this.loop = !this.loop; }
      else if (key === "m") this.setMode(this.mode === "rgb" ? "depth" : "rgb");
      else if (key === "f") { const fly = this.navigation.mode !== "fly"; this.navigation.setMode(fly ? "fly" : "orbit"); $("fly").checked = fly; }
      else if (key === "r") this.setCamera(this.initialCamera.clone());
      else if (key === "h") this.setUi($("panel").hidden);
      else return;
      this.updateUi();
    });
    window.addEventListener("keyup", (e) => this.navigation.release(e.key.toLowerCase(), performance.now()));
    window.addEventListener("hashchange", () => { this.applyHash(parseHash()); this.dirty = true; });
    this.lastHash = 0;
  }

  setSpeed(s) { this.speed = Math.min(Math.max(s, 0.0625), 16); }

  setUi(visible) { $("panel").hidden = !visible; }

  updateUi() {
    const frame = this.frame();
    const seconds = frame / this.fps;
    $("play").textContent = this.playing ? "||" : "▶";
    $("slider").value = String(frame);
    $("time").textContent = `frame ${frame + 1} / ${this.frameCount} · ${seconds.toFixed(2)} s`;
    $("loop").checked = this.loop;
    $("mode").value = this.mode;
    const speed = $("speed");
    if (Number(speed.value) !== this.speed) {
      if (![...speed.options].some((o) => Number(o.value) === this.speed)) speed.add(new Option(`${this.speed}×`, String(this.speed)));
      speed.value = String(this.speed);
    }
    const fps = this.frameMs > 0 ? 1000 / this.frameMs : 0;
    $("stats").textContent = `${this.visible.toLocaleString()} / ${this.meta.count.toLocaleString()} splats · `
      + `${this.frameMs.toFixed(1)} ms (${fps.toFixed(0)} fps) · sort ${this.lastSortMs.toFixed(1)} ms`;
    const now = performance.now();
    if (!this.playing || now - this.lastHash > 1000) {
      history.replaceState(null, "", this.hash());
      this.lastHash = now;
    }
  }
}

function hook(player) {
  const waiters = [];
  const poll = () => {
    while (waiters.length && player.settled()) waiters.shift()();
    requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
  window.gscc = {
    ready: true,
    error: null,
    player,
    setTime: (t) => player.setTime(t),
    setFrame: (k) => player.setFrame(k),
    step: (d) => player.step(d),
    setCamera: (c) => player.setCamera(c),
    setMode: (m) => player.setMode(m),
    play: () => player.setPlaying(true),
    pause: () => player.setPlaying(false),
    setLoop: (on) => { player.loop = !!on; },
    setSpeed: (s) => player.setSpeed(s),
    setUi: (visible) => player.setUi(visible),
    getState: () => player.state(),
    get frames() { return player.frames; },
    // benchmarks: draw the current state n times, each waited for on the GPU; ms per frame
    measureFrames: (n) => {
      const [segment, local] = player.segmentAt(player.t);
      const view = player.camera.view(player.canvas.width, player.canvas.height);
      const times = [];
      for (let i = 0; i < n; i++) {
        const start = performance.now();
        player.renderer.render(segment, local, view, player.mode, BACKGROUND);
        player.renderer.finish();
        times.push(performance.now() - start);
      }
      return times;
    },
    // resolves once a frame drawn with a sort for the current time and camera is on screen
    settled: () => new Promise((resolve) => waiters.push(resolve)),
  };
}

window.gscc = { ready: false, error: null };
loadScene()
  .then((meta) => {
    document.title = `${meta.name} · gscc view`;
    $("name").textContent = `${meta.name} · ${meta.count.toLocaleString()} splats`
      + (meta.dynamic ? ` · ${meta.frame_count} frames at ${meta.fps} fps${meta.timing_assumed ? " (assumed)" : ""}` : "");
    hook(new Player(meta));
  })
  .catch((error) => {
    window.gscc.error = String(error);
    $("name").textContent = `error: ${error.message}`;
    console.error(error);
  });
