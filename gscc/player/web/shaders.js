// GLSL sources, generated per segment layout (motion kind, colour kind, sizes).
//
// The projection and the compositing follow gscc's CPU renderer (gscc/render/__init__.py):
// OpenCV camera, EWA splatting with the 0.3 low-pass dilation, the 1.3 frustum clamp of the
// Jacobian, the opacity-aware radius ceil(sqrt(2 ln(255 o)) sqrt(lambda_max)), pixel centres
// at +0.5, alpha = min(0.999, o exp(power)), skipped below 1/255. Splats are drawn back to
// front with premultiplied alpha into float targets, which equals the CPU's front-to-back sum.

export const TEXW = 4096; // texels per row of every per-splat texture

const SH_C0 = 0.28209479177387814;
const SH_C1 = 0.4886025119029199;
const SH_C2 = [1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396];
const SH_C3 = [-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
  -0.4570457994644658, 1.445305721320277, -0.5900435899266435];

const f = (x) => (Number.isInteger(x) ? x.toFixed(1) : String(x));

// the real SH basis (gscc/sh_basis.py) up to `degree` into float array `out` from unit vector d
function shBasis(degree, out) {
  const lines = [`${out}[0] = ${f(SH_C0)};`];
  if (degree >= 1) {
    lines.push(`${out}[1] = ${f(-SH_C1)} * d.y;`, `${out}[2] = ${f(SH_C1)} * d.z;`, `${out}[3] = ${f(-SH_C1)} * d.x;`);
  }
  if (degree >= 2) {
    lines.push(
      "float xx = d.x * d.x, yy = d.y * d.y, zz = d.z * d.z;",
      `${out}[4] = ${f(SH_C2[0])} * d.x * d.y;`,
      `${out}[5] = ${f(SH_C2[1])} * d.y * d.z;`,
      `${out}[6] = ${f(SH_C2[2])} * (2.0 * zz - xx - yy);`,
      `${out}[7] = ${f(SH_C2[3])} * d.x * d.z;`,
      `${out}[8] = ${f(SH_C2[4])} * (xx - yy);`,
    );
  }
  if (degree >= 3) {
    lines.push(
      `${out}[9] = ${f(SH_C3[0])} * d.y * (3.0 * xx - yy);`,
      `${out}[10] = ${f(SH_C3[1])} * d.x * d.y * d.z;`,
      `${out}[11] = ${f(SH_C3[2])} * d.y * (4.0 * zz - xx - yy);`,
      `${out}[12] = ${f(SH_C3[3])} * d.z * (2.0 * zz - 3.0 * xx - 3.0 * yy);`,
      `${out}[13] = ${f(SH_C3[4])} * d.x * (4.0 * zz - xx - yy);`,
      `${out}[14] = ${f(SH_C3[5])} * d.z * (xx - yy);`,
      `${out}[15] = ${f(SH_C3[6])} * d.x * (xx - 3.0 * yy);`,
    );
  }
  return lines.join("\n    ");
}

// channels carried per splat: in colour mode the colour (3, or the features), in depth
// mode the camera depth z alone (what each mode's composite needs; fewer float targets)
export function layoutOf(segment, mode) {
  const depth = mode === "depth";
  const colors = depth ? 0 : segment.color === "mlp" ? segment.feature_dim : 3;
  const channels = depth ? 1 : colors;
  return {
    depth,
    colors,
    channels,
    varyings: Math.ceil(channels / 4), // vec4 varyings
    targets: Math.ceil(channels / 3), // RGBA float targets: three channels + alpha each
  };
}

const HEADER = `#version 300 es
precision highp float;
precision highp int;
precision highp sampler2D;
precision highp usampler2D;
`;

export function splatVertexShader(segment, mode) {
  const layout = layoutOf(segment, mode);
  const motion = { none: 0, stg: 1, "motion-basis": 2 }[segment.motion];
  const sh = segment.color === "sh";
  const degree = sh ? segment.sh_degree : 0;
  const basisCount = segment.motion === "motion-basis" ? segment.basis_count : 0;
  const colorCode = layout.depth ? "ch[0] = t.z;" : sh
    ? `
    vec4 shc[${segment.color_stride}];
    for (int k = 0; k < ${segment.color_stride}; k++) shc[k] = texelFetch(u_color, at(id * ${segment.color_stride} + k), 0);
    vec3 d = normalize(mean - u_campos);
    float y[${(degree + 1) ** 2}];
    ${shBasis(degree, "y")}
    vec3 rgb = vec3(0.0);
    for (int k = 0; k < ${(degree + 1) ** 2}; k++) {
      int j = 3 * k;
      rgb += y[k] * vec3(shc[j / 4][j % 4], shc[(j + 1) / 4][(j + 1) % 4], shc[(j + 2) / 4][(j + 2) % 4]);
    }
    rgb = max(rgb + 0.5, 0.0);
    ch[0] = rgb.r; ch[1] = rgb.g; ch[2] = rgb.b;`
    : `
    for (int k = 0; k < ${segment.color_stride}; k++) {
      vec4 v = texelFetch(u_color, at(id * ${segment.color_stride} + k), 0);
      for (int i = 0; i < 4; i++) if (4 * k + i < ${layout.colors}) ch[4 * k + i] = v[i];
    }`;
  return `${HEADER}
#define TEXW ${TEXW}
uniform sampler2D u_geo;
uniform sampler2D u_color;
uniform usampler2D u_order;
uniform sampler2D u_basis;
uniform mat3 u_R;        // world to camera rotation
uniform vec3 u_T;        // world to camera translation
uniform vec4 u_K;        // fx, fy, cx, cy in pixels
uniform vec2 u_size;     // width, height in pixels
uniform vec3 u_campos;   // camera centre in world space
uniform float u_time;    // the segment's local time
uniform ivec2 u_knots;   // motion basis: the two knots around u_time
uniform float u_knot_w;  // ... and the weight of the second
uniform vec2 u_depth_range; // near, far

out vec2 v_d;
flat out vec3 v_conic;
flat out float v_opacity;
flat out vec4 v_ch[${layout.varyings}];

ivec2 at(int i) { return ivec2(i % TEXW, i / TEXW); }

void cull() { gl_Position = vec4(0.0, 0.0, 2.0, 1.0); }

void main() {
  int slot = gl_VertexID >> 2;
  int corner = gl_VertexID & 3;
  int id = int(texelFetch(u_order, at(slot), 0).r);
  int base = id * ${segment.geometry_stride};
  vec4 g0 = texelFetch(u_geo, at(base), 0);
  vec4 q = texelFetch(u_geo, at(base + 1), 0);
  vec4 g2 = texelFetch(u_geo, at(base + 2), 0);
  vec3 mean = g0.xyz;
  float opacity = g0.w;
  vec3 scale = g2.xyz;
#if ${motion} == 1
  vec4 omega = texelFetch(u_geo, at(base + 3), 0);
  vec4 m0 = texelFetch(u_geo, at(base + 4), 0);
  vec4 m1 = texelFetch(u_geo, at(base + 5), 0);
  vec4 m2 = texelFetch(u_geo, at(base + 6), 0);
  float dt = u_time - g2.w;
  float p1 = dt, p2 = dt * dt, p3 = dt * dt * dt;
  mean += m0.yzw * p1 + m1.xyz * p2 + vec3(m1.w, m2.xy) * p3;
  q += omega * dt;
  float x = dt * m0.x;
  opacity *= exp(-x * x);
#elif ${motion} == 2
  for (int b = 0; b < ${basisCount}; b++) {
    float coeff = texelFetch(u_geo, at(base + 3 + b / 4), 0)[b % 4];
    vec3 lo = texelFetch(u_basis, ivec2(u_knots.x, b), 0).xyz;
    vec3 hi = texelFetch(u_basis, ivec2(u_knots.y, b), 0).xyz;
    mean += coeff * ((1.0 - u_knot_w) * lo + u_knot_w * hi);
  }
#endif
  if (!(opacity >= 1.0 / 255.0)) { cull(); return; }
  vec3 t = u_R * mean + u_T;
  if (!(t.z > u_depth_range.x && t.z < u_depth_range.y)) { cull(); return; }

  float qn = length(q);
  q = qn > 1e-12 ? q / qn : vec4(1.0, 0.0, 0.0, 0.0);
  float w = q.x, qx = q.y, qy = q.z, qz = q.w;
  mat3 Rq = mat3(  // columns
    1.0 - 2.0 * (qy * qy + qz * qz), 2.0 * (qx * qy + w * qz), 2.0 * (qx * qz - w * qy),
    2.0 * (qx * qy - w * qz), 1.0 - 2.0 * (qx * qx + qz * qz), 2.0 * (qy * qz + w * qx),
    2.0 * (qx * qz + w * qy), 2.0 * (qy * qz - w * qx), 1.0 - 2.0 * (qx * qx + qy * qy));
  mat3 M = u_R * Rq * mat3(scale.x, 0.0, 0.0, 0.0, scale.y, 0.0, 0.0, 0.0, scale.z);
  mat3 cov = M * transpose(M);  // camera-space covariance

  float fx = u_K.x, fy = u_K.y;
  float limx = 1.3 * 0.5 * u_size.x / fx, limy = 1.3 * 0.5 * u_size.y / fy;
  float tx = clamp(t.x / t.z, -limx, limx) * t.z;
  float ty = clamp(t.y / t.z, -limy, limy) * t.z;
  vec3 j0 = vec3(fx / t.z, 0.0, -fx * tx / (t.z * t.z));
  vec3 j1 = vec3(0.0, fy / t.z, -fy * ty / (t.z * t.z));
  vec3 cj0 = cov * j0, cj1 = cov * j1;
  float a = dot(j0, cj0) + 0.3, b = dot(j0, cj1), c = dot(j1, cj1) + 0.3;
  float det = a * c - b * b;
  if (!(det > 0.0)) { cull(); return; }
  vec2 mean2d = vec2(fx * t.x / t.z + u_K.z, fy * t.y / t.z + u_K.w);
  float mid = 0.5 * (a + c);
  float lambda = mid + sqrt(max(mid * mid - det, 0.0));
  float radius = ceil(sqrt(2.0 * log(255.0 * opacity)) * sqrt(max(lambda, 0.0)));
  if (!(radius > 0.0) || mean2d.x + radius <= 0.0 || mean2d.x - radius >= u_size.x
      || mean2d.y + radius <= 0.0 || mean2d.y - radius >= u_size.y) { cull(); return; }

  float ch[${layout.varyings * 4}];
  ${colorCode}
  for (int k = 0; k < ${layout.varyings}; k++) v_ch[k] = vec4(ch[4 * k], ch[4 * k + 1], ch[4 * k + 2], ch[4 * k + 3]);

  vec2 offset = vec2((corner & 1) == 1 ? radius : -radius, (corner & 2) == 2 ? radius : -radius);
  vec2 p = mean2d + offset;
  gl_Position = vec4(2.0 * p.x / u_size.x - 1.0, 1.0 - 2.0 * p.y / u_size.y, 0.0, 1.0);
  v_d = offset;
  v_conic = vec3(c / det, -b / det, a / det);
  v_opacity = opacity;
}
`;
}

export function splatFragmentShader(segment, mode) {
  const layout = layoutOf(segment, mode);
  const outs = [];
  const writes = [];
  for (let k = 0; k < layout.targets; k++) {
    outs.push(`layout(location = ${k}) out vec4 o${k};`);
    const parts = [0, 1, 2].map((i) => {
      const j = 3 * k + i;
      return j < layout.channels ? `v_ch[${j >> 2}][${j & 3}]` : "0.0";
    });
    writes.push(`o${k} = vec4(vec3(${parts.join(", ")}) * alpha, alpha);`);
  }
  return `${HEADER}
in vec2 v_d;
flat in vec3 v_conic;
flat in float v_opacity;
flat in vec4 v_ch[${layout.varyings}];
${outs.join("\n")}

void main() {
  float power = -0.5 * (v_conic.x * v_d.x * v_d.x + v_conic.z * v_d.y * v_d.y) - v_conic.y * v_d.x * v_d.y;
  if (power > 0.0) discard;
  float alpha = min(0.999, v_opacity * exp(power));
  if (alpha < 1.0 / 255.0) discard;
  ${writes.join("\n  ")}
}
`;
}

export const FULLSCREEN_VERTEX = `${HEADER}
void main() {
  vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
  gl_Position = vec4(2.0 * p - 1.0, 0.0, 1.0);
}
`;

// The final pass: the splatted channels to the screen as colour (over the background, or
// decoded by the colour MLP per pixel as gscc's FeatureModel does) or as colour-mapped depth.
export function compositeShader(segment, mode) {
  const layout = layoutOf(segment, mode);
  const samplers = [];
  const reads = [];
  for (let k = 0; k < layout.targets; k++) {
    samplers.push(`uniform sampler2D u_target${k};`);
    reads.push(`vec4 r${k} = texelFetch(u_target${k}, p, 0);`);
    for (let i = 0; i < 3; i++) if (3 * k + i < layout.channels) reads.push(`ch[${3 * k + i}] = r${k}[${i}];`);
  }
  let colorCode = layout.depth ? "vec3 rgb = vec3(0.0);" : "vec3 rgb = vec3(ch[0], ch[1], ch[2]) + (1.0 - A) * u_background;";
  let mlpCode = "";
  if (segment.color === "mlp" && !layout.depth) {
    const layers = segment.mlp.layers; // [out, in]
    const view = segment.mlp.view_sh_degree;
    const F = segment.feature_dim;
    const width = Math.max(...layers.map(([o, i]) => Math.max(o, i)));
    let offset = 0;
    const steps = [];
    layers.forEach(([out, inp], index) => {
      const last = index === layers.length - 1;
      steps.push(`
  for (int o = 0; o < ${out}; o++) {
    float s = wt(${offset + out * inp} + o);
    for (int i = 0; i < ${inp}; i++) s += wt(${offset} + o * ${inp} + i) * x[i];
    y[o] = ${last ? "1.0 / (1.0 + exp(-s))" : "max(s, 0.0)"};
  }
  for (int o = 0; o < ${out}; o++) x[o] = y[o];`);
      offset += out * inp + out;
    });
    mlpCode = `
uniform sampler2D u_mlp;
uniform mat3 u_R;
uniform vec4 u_K;
uniform vec2 u_size;
float wt(int k) { return texelFetch(u_mlp, ivec2(k % ${TEXW}, k / ${TEXW}), 0).r; }
vec3 decode(float feature[${layout.channels}], float A) {
  float x[${width}];
  float y[${width}];
  for (int i = 0; i < ${F}; i++) x[i] = feature[i] / max(A, 1e-6);
  vec2 px = vec2(gl_FragCoord.x, u_size.y - gl_FragCoord.y);  // pixel centre, OpenCV rows
  vec3 local = vec3((px.x - u_K.z) / u_K.x, (px.y - u_K.w) / u_K.y, 1.0);
  vec3 d = normalize(transpose(u_R) * local);
  float v[${(view + 1) ** 2}];
  ${shBasis(view, "v")}
  for (int i = 0; i < ${(view + 1) ** 2}; i++) x[${F} + i] = v[i];
  ${steps.join("")}
  return vec3(x[0], x[1], x[2]);
}`;
    colorCode = "vec3 rgb = A * decode(ch, A) + (1.0 - A) * u_background;";
  }
  return `${HEADER}
${samplers.join("\n")}
uniform vec3 u_background;
uniform vec2 u_near_far;     // the depth map's range
uniform sampler2D u_turbo;   // 256 x 1 colour map
out vec4 o;
${mlpCode}
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  float ch[${layout.channels}];
  ${reads.join("\n  ")}
  float A = r0.a;
  if (${layout.depth ? 1 : 0} == 1) {
    float z = ch[0];
    float depth = A > 0.0 ? z / A : 0.0;
    bool covered = A > 0.0 && depth > 0.0;
    float span = u_near_far.y - u_near_far.x;
    float t = span > 0.0 ? clamp((depth - u_near_far.x) / span, 0.0, 1.0) : 0.0;
    int index = min(int(t * 256.0), 255);
    vec3 rgb = texelFetch(u_turbo, ivec2(index, 0), 0).rgb * (covered ? min(A, 1.0) : 0.0);
    o = vec4(clamp(rgb, 0.0, 1.0), 1.0);
    return;
  }
  ${colorCode}
  o = vec4(clamp(rgb, 0.0, 1.0), 1.0);
}
`;
}
