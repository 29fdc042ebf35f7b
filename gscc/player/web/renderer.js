// WebGL2 rendering: per-splat data in textures, one draw of 4 vertices per splat from an
// element buffer (no instancing), float render targets, then a full-screen composite pass.

import {
  TEXW, layoutOf, splatVertexShader, splatFragmentShader, FULLSCREEN_VERTEX, compositeShader,
} from "./shaders.js";
import { TURBO } from "./turbo.js";

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
    throw new Error(`shader compile failed: ${gl.getShaderInfoLog(shader)}`);
  }
  return shader;
}

function link(gl, vertex, fragment) {
  const program = gl.createProgram();
  gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, vertex));
  gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, fragment));
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
    throw new Error(`shader link failed: ${gl.getProgramInfoLog(program)}`);
  }
  const uniforms = {};
  const n = gl.getProgramParameter(program, gl.ACTIVE_UNIFORMS);
  for (let i = 0; i < n; i++) {
    const name = gl.getActiveUniform(program, i).name.replace(/\[0\]$/, "");
    uniforms[name] = gl.getUniformLocation(program, name);
  }
  return { program, uniforms };
}

// a 2D texture holding `data` as rows of TEXW texels (padded with zeros)
function dataTexture(gl, data, internal, format, type, texelsPerItem = 4) {
  const texels = Math.max(1, Math.ceil(data.length / texelsPerItem));
  const rows = Math.ceil(texels / TEXW);
  if (rows > gl.getParameter(gl.MAX_TEXTURE_SIZE)) throw new Error("the scene is too large for this GPU's textures");
  const padded = new data.constructor(rows * TEXW * texelsPerItem);
  padded.set(data);
  const texture = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, texture);
  gl.texImage2D(gl.TEXTURE_2D, 0, internal, TEXW, rows, 0, format, type, padded);
  for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
  return texture;
}

export class Renderer {
  constructor(canvas, scene) {
    const gl = canvas.getContext("webgl2", { antialias: false, alpha: false, depth: false, preserveDrawingBuffer: false });
    if (!gl) throw new Error("this browser has no WebGL2");
    if (!gl.getExtension("EXT_color_buffer_float")) throw new Error("WebGL2 without EXT_color_buffer_float");
    this.floatBlend = !!gl.getExtension("EXT_float_blend");
    this.gl = gl;
    this.canvas = canvas;
    this.scene = scene;
    this.targetFormat = this.floatBlend ? gl.RGBA32F : gl.RGBA16F;
    const maxTargets = gl.getParameter(gl.MAX_DRAW_BUFFERS);
    this.segments = scene.segments.map((segment) => {
      const layout = layoutOf(segment, "rgb");
      if (layout.targets > maxTargets) {
        throw new Error(`${layout.colors} colour channels need ${layout.targets} render targets; this GPU has ${maxTargets}`);
      }
      return this.prepareSegment(segment);
    });
    this.turbo = dataTexture(gl, TURBO, gl.RGB32F, gl.RGB, gl.FLOAT, 3);
    const maxCount = Math.max(...scene.segments.map((s) => s.count));
    const indices = new Uint32Array(6 * maxCount);
    for (let i = 0; i < maxCount; i++) {
      const v = 4 * i;
      indices.set([v, v + 1, v + 2, v + 1, v + 3, v + 2], 6 * i);
    }
    this.vao = gl.createVertexArray();
    gl.bindVertexArray(this.vao);
    this.elements = gl.createBuffer();
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.elements);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, indices, gl.STATIC_DRAW);
    gl.bindVertexArray(null);
    this.emptyVao = gl.createVertexArray();
    this.size = [0, 0];
    this.targets = [];
    this.depthPixels = null;
  }

  prepareSegment(segment) {
    const gl = this.gl;
    const s = { segment, count: 0, modes: {} };
    s.geo = dataTexture(gl, segment.geometry, gl.RGBA32F, gl.RGBA, gl.FLOAT);
    s.color = segment.color === "sh"
      ? dataTexture(gl, segment.colorData, gl.RGBA16F, gl.RGBA, gl.HALF_FLOAT)
      : dataTexture(gl, segment.colorData, gl.RGBA32F, gl.RGBA, gl.FLOAT);
    if (segment.basis) {
      s.basis = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, s.basis);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA32F, segment.basis_knots, segment.basis_count, 0, gl.RGBA, gl.FLOAT, segment.basis);
      for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
    }
    if (segment.mlpWeights) s.mlp = dataTexture(gl, segment.mlpWeights, gl.R32F, gl.RED, gl.FLOAT, 1);
    s.orderRows = Math.max(1, Math.ceil(segment.count / TEXW));
    s.order = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, s.order);
    gl.texStorage2D(gl.TEXTURE_2D, 1, gl.R32UI, TEXW, s.orderRows);
    for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
    this.programs(s, "rgb");
    return s;
  }

  // a segment's programs for a mode (compiled when first needed)
  programs(s, mode) {
    if (!s.modes[mode]) {
      const gl = this.gl;
      s.modes[mode] = {
        layout: layoutOf(s.segment, mode),
        splat: link(gl, splatVertexShader(s.segment, mode), splatFragmentShader(s.segment, mode)),
        composite: link(gl, FULLSCREEN_VERTEX, compositeShader(s.segment, mode)),
      };
    }
    return s.modes[mode];
  }

  // the worker's back-to-front order for a segment (count visible splats)
  setOrder(index, order, count) {
    const gl = this.gl;
    const s = this.segments[index];
    const rows = Math.min(order.length / TEXW, s.orderRows);
    gl.bindTexture(gl.TEXTURE_2D, s.order);
    gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEXW, rows, gl.RED_INTEGER, gl.UNSIGNED_INT, order, 0);
    s.count = count;
  }

  resize(width, height) {
    if (this.size[0] === width && this.size[1] === height) return;
    const gl = this.gl;
    for (const t of this.targets) gl.deleteTexture(t);
    if (this.framebuffer) gl.deleteFramebuffer(this.framebuffer);
    const count = Math.max(...this.segments.map((s) => this.programs(s, "rgb").layout.targets));
    this.framebuffer = gl.createFramebuffer();
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.framebuffer);
    this.targets = [];
    for (let k = 0; k < count; k++) {
      const t = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, t);
      gl.texStorage2D(gl.TEXTURE_2D, 1, this.targetFormat, width, height);
      for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
      gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0 + k, gl.TEXTURE_2D, t, 0);
      this.targets.push(t);
    }
    if (gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) throw new Error("float render targets unsupported");
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    this.size = [width, height];
    this.depthPixels = null;
  }

  // the near..far range of a depth map as gscc's colorize_depth picks it: over pixels at
  // least half opaque (else all covered ones)
  depthRange() {
    const gl = this.gl;
    const [w, h] = this.size;
    if (!this.depthPixels) this.depthPixels = new Float32Array(4 * w * h);
    gl.readBuffer(gl.COLOR_ATTACHMENT0);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.FLOAT, this.depthPixels);
    const px = this.depthPixels;
    let lo = Infinity, hi = -Infinity, loAny = Infinity, hiAny = -Infinity;
    for (let i = 0; i < w * h; i++) {
      const a = px[4 * i + 3];
      if (!(a > 0)) continue;
      const d = px[4 * i] / a;
      if (!(d > 0) || !Number.isFinite(d)) continue;
      if (d < loAny) loAny = d;
      if (d > hiAny) hiAny = d;
      if (a >= 0.5) {
        if (d < lo) lo = d;
        if (d > hi) hi = d;
      }
    }
    if (lo <= hi) return [lo, hi];
    return loAny <= hiAny ? [loAny, hiAny] : [0, 0];
  }

  // view: {R (row-major 3x3 world to camera), T, center, fx, fy, cx, cy}; background rgb
  render(index, localTime, view, mode, background) {
    const gl = this.gl;
    const s = this.segments[index];
    const p = this.programs(s, mode === "depth" ? "depth" : "rgb");
    const [w, h] = this.size;
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.framebuffer);
    const buffers = this.targets.map((_, k) => (k < p.layout.targets ? gl.COLOR_ATTACHMENT0 + k : gl.NONE));
    gl.drawBuffers(buffers);
    gl.viewport(0, 0, w, h);
    for (let k = 0; k < p.layout.targets; k++) gl.clearBufferfv(gl.COLOR, k, [0, 0, 0, 0]);
    const R = view.R;
    const columns = [R[0], R[3], R[6], R[1], R[4], R[7], R[2], R[5], R[8]];
    if (s.count > 0) {
      const { program, uniforms: u } = p.splat;
      gl.useProgram(program);
      gl.enable(gl.BLEND);
      gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
      this.bind(0, s.geo, u.u_geo);
      this.bind(1, s.color, u.u_color);
      this.bind(2, s.order, u.u_order);
      if (s.basis) {
        this.bind(3, s.basis, u.u_basis);
        const knots = s.segment.basis_knots;
        let lo = 0, hi = 0, wt = 0;
        if (knots > 1) {
          const x = Math.min(Math.max(localTime, 0), 1) * (knots - 1);
          lo = Math.min(Math.floor(x), knots - 2); hi = lo + 1; wt = x - lo;
        }
        gl.uniform2i(u.u_knots, lo, hi);
        gl.uniform1f(u.u_knot_w, wt);
      }
      gl.uniformMatrix3fv(u.u_R, false, columns);
      gl.uniform3fv(u.u_T, view.T);
      gl.uniform4f(u.u_K, view.fx, view.fy, view.cx, view.cy);
      gl.uniform2f(u.u_size, w, h);
      if (u.u_campos) gl.uniform3fv(u.u_campos, view.center);
      if (u.u_time) gl.uniform1f(u.u_time, localTime);
      gl.uniform2f(u.u_depth_range, view.near, view.far);
      gl.bindVertexArray(this.vao);
      gl.drawElements(gl.TRIANGLES, 6 * s.count, gl.UNSIGNED_INT, 0);
      gl.bindVertexArray(null);
      gl.disable(gl.BLEND);
    }
    const range = p.layout.depth ? this.depthRange() : [0, 0];
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.viewport(0, 0, w, h);
    const { program, uniforms: u } = p.composite;
    gl.useProgram(program);
    for (let k = 0; k < p.layout.targets; k++) this.bind(4 + k, this.targets[k], u[`u_target${k}`]);
    this.bind(12, this.turbo, u.u_turbo);
    if (s.mlp && !p.layout.depth) {
      this.bind(13, s.mlp, u.u_mlp);
      gl.uniformMatrix3fv(u.u_R, false, columns);
      gl.uniform4f(u.u_K, view.fx, view.fy, view.cx, view.cy);
      gl.uniform2f(u.u_size, w, h);
    }
    if (u.u_background) gl.uniform3fv(u.u_background, background);
    if (u.u_near_far) gl.uniform2f(u.u_near_far, range[0], range[1]);
    gl.bindVertexArray(this.emptyVao);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
    gl.bindVertexArray(null);
    return s.count;
  }

  bind(unit, texture, location) {
    const gl = this.gl;
    gl.activeTexture(gl.TEXTURE0 + unit);
    gl.bindTexture(gl.TEXTURE_2D, texture);
    if (location) gl.uniform1i(location, unit);
  }

  // wait for the GPU (benchmarks): a 1-pixel read forces the frame to finish
  finish() {
    const px = new Uint8Array(4);
    this.gl.readPixels(0, 0, 1, 1, this.gl.RGBA, this.gl.UNSIGNED_BYTE, px);
  }
}
