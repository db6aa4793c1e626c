// PDQ, Meta's 256-bit perceptual image hash, bit-identical to src/takedown/hashing/pdq.py.
//
// The Python reference folds PDQ's two box-filter passes and the 64-point sampling of each
// axis into one (64 x n) matrix, computes the 64x64 grid in float64 and rounds it to float32
// (where Meta's C++ keeps float32). We build the same matrices with the same float64
// operations in the same order, so the float32 grid, the quality and the bits are the same.
// Near ties (a DCT coefficient within ~1e-5 of the median, a gradient step at an integer,
// a near-flat block) are replayed in Meta's own float32 arithmetic (`pdq_exact.py`), with
// Math.fround after every operation.

export const MIN_HASHABLE_DIM = 5;

export const DIHEDRAL_VARIANTS = [
  'original',
  'rot90',
  'rot180',
  'rot270',
  'flip_h',
  'flip_v',
  'transpose',
  'transverse',
];

const fround = Math.fround;

/** Meta's luma: 0.299 R + 0.587 G + 0.114 B in float64, then float32. */
export function lumaFromRgb(rgb, height, width) {
  const n = height * width;
  const luma = new Float32Array(n);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    luma[i] = rgb[p] * 0.299 + rgb[p + 1] * 0.587 + rgb[p + 2] * 0.114;
  }
  return luma;
}

const blurCache = new Map();

/**
 * Row k of the (64 x n) blur-and-sample matrix as {start, weights} (its non-zero band),
 * computed exactly as `pdq.blur_decimate_matrix` does (same float64 operations).
 */
function blurDecimateRows(n) {
  const cached = blurCache.get(n);
  if (cached) return cached;
  const window = Math.floor((n + 127) / 128);
  const half = Math.floor((window + 2) / 2);
  const lead = window - half;
  const lag = half - 1;
  const lo = (i) => Math.max(i - lead, 0);
  const hi = (i) => Math.min(i + lag, n - 1);
  const inv = (i) => 1.0 / (hi(i) - lo(i) + 1);
  const rows = [];
  for (let r = 0; r < 64; r++) {
    const o = Math.trunc(((r + 0.5) * n) / 64);
    const a = lo(o);
    const b = hi(o);
    const first = inv(o);
    // prefix[j] = sum of weighted[a .. j-1] (np.cumsum, sequential); zero outside [a, b].
    const prefix = new Float64Array(b - a + 2);
    for (let j = a; j <= b; j++) prefix[j - a + 1] = prefix[j - a] + first * inv(j);
    const at = (j) => (j <= a ? 0 : j > b + 1 ? prefix[b - a + 1] : prefix[j - a]);
    // Column j is non-zero when its output window [j - lag, j + lead] meets [a, b].
    const start = Math.max(a - lead, 0);
    const end = Math.min(b + lag, n - 1);
    const weights = new Float64Array(end - start + 1);
    for (let j = start; j <= end; j++) {
      const oHi = Math.min(j + lead, n - 1);
      const oLo = Math.max(j - lag, 0);
      weights[j - start] = at(oHi + 1) - at(oLo);
    }
    rows.push({ start, weights });
  }
  if (blurCache.size > 64) blurCache.clear();
  blurCache.set(n, rows);
  return rows;
}

/** numpy's pairwise summation of a[s..e) (what add.reduce uses on contiguous doubles). */
function pairwiseSum(a, s, e) {
  const n = e - s;
  if (n < 8) {
    let res = 0;
    for (let i = s; i < e; i++) res += a[i];
    return res;
  }
  if (n <= 128) {
    const r = [a[s], a[s + 1], a[s + 2], a[s + 3], a[s + 4], a[s + 5], a[s + 6], a[s + 7]];
    let i = s + 8;
    for (; i + 8 <= e; i += 8) {
      for (let j = 0; j < 8; j++) r[j] += a[i + j];
    }
    let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < e; i++) res += a[i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, s, s + n2) + pairwiseSum(a, s + n2, e);
}

const bandCache = new Map();

/**
 * The band of `reduced_blur_decimate_matrix(full, reduced, factor)`: every row as
 * {start, weights} over a common span (like `_Band.of`).
 */
function band(full, reduced, factor) {
  const key = `${full}/${reduced}/${factor}`;
  const cached = bandCache.get(key);
  if (cached) return cached;
  if (reduced < 1 || !((reduced - 1) * factor < full && full < (reduced + 1) * factor)) {
    throw new Error(`${reduced} blocks of ${factor} do not tile ${full} pixels`);
  }
  const rows = blurDecimateRows(full);
  const dense = [];
  for (const { start, weights } of rows) {
    if (factor === 1) {
      const last = start + weights.length - 1;
      dense.push({ first: start, last, get: (j) => (j < start || j > last ? 0 : weights[j - start]) });
      continue;
    }
    // np.add.reduceat over column blocks: first element, plus the pairwise sum of the rest.
    const full64 = new Float64Array(full);
    full64.set(weights, start);
    const out = new Float64Array(reduced);
    for (let j = 0; j < reduced; j++) {
      const s = j * factor;
      const e = j === reduced - 1 ? full : s + factor;
      out[j] = full64[s] + pairwiseSum(full64, s + 1, e);
    }
    let first = 0;
    while (first < reduced - 1 && out[first] === 0) first++;
    let last = reduced - 1;
    while (last > 0 && out[last] === 0) last--;
    dense.push({ first, last, get: (j) => out[j] });
  }
  let span = 1;
  for (const d of dense) span = Math.max(span, d.last - d.first + 1);
  const starts = new Int32Array(64);
  const weights = new Float64Array(64 * span);
  dense.forEach((d, k) => {
    const start = Math.min(d.first, reduced - span);
    starts[k] = start;
    for (let s = 0; s < span; s++) {
      const j = start + s;
      weights[k * span + s] = j >= 0 && j < reduced ? d.get(j) : 0;
    }
  });
  const result = { starts, weights, span };
  if (bandCache.size > 64) bandCache.clear();
  bandCache.set(key, result);
  return result;
}

/** rows_matrix @ luma @ cols_matrix.T through the bands, rounded to float32. */
function grid64(luma, height, width, rowBand, colBand) {
  const across = new Float64Array(64 * width);
  const rs = rowBand.span;
  for (let k = 0; k < 64; k++) {
    const base = k * width;
    const r0 = rowBand.starts[k];
    for (let s = 0; s < rs; s++) {
      const w = rowBand.weights[k * rs + s];
      const row = (r0 + s) * width;
      for (let x = 0; x < width; x++) across[base + x] += w * luma[row + x];
    }
  }
  const grid = new Float32Array(4096);
  const cs = colBand.span;
  for (let k = 0; k < 64; k++) {
    for (let j = 0; j < 64; j++) {
      const c0 = colBand.starts[j];
      let sum = 0;
      for (let s = 0; s < cs; s++) sum += colBand.weights[j * cs + s] * across[k * width + c0 + s];
      grid[k * 64 + j] = sum;
    }
  }
  return grid;
}

let dctF32 = null;

/** Meta's 16x64 DCT-II rows 1..16, rounded to float32 as Meta stores them. */
export function dctMatrix() {
  if (dctF32) return dctF32;
  const scale = fround(Math.sqrt(2.0 / 64.0));
  dctF32 = new Float32Array(16 * 64);
  for (let i = 1; i <= 16; i++) {
    for (let j = 0; j < 64; j++) {
      dctF32[(i - 1) * 64 + j] = scale * Math.cos((Math.PI / 2.0 / 64.0) * i * (2 * j + 1));
    }
  }
  return dctF32;
}

/** D @ grid @ D^T in float64 (the grid is float32). */
function dct16(grid) {
  const d = dctMatrix();
  const partial = new Float64Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let c = 0; c < 64; c++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum += d[i * 64 + k] * grid[k * 64 + c];
      partial[i * 64 + c] = sum;
    }
  }
  const block = new Float64Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum += partial[i * 64 + k] * d[j * 64 + k];
      block[i * 16 + j] = sum;
    }
  }
  return block;
}

/** |(u - v) * 100 / 255| in float32 for every vertical then every horizontal pair. */
function gradientSteps(grid) {
  const steps = new Float32Array(2 * 63 * 64);
  const c100 = fround(100);
  const c255 = fround(255);
  let p = 0;
  for (let r = 0; r < 63; r++) {
    for (let c = 0; c < 64; c++) {
      const diff = fround(grid[r * 64 + c] - grid[(r + 1) * 64 + c]);
      steps[p++] = Math.abs(fround(fround(diff * c100) / c255));
    }
  }
  for (let r = 0; r < 64; r++) {
    for (let c = 0; c < 63; c++) {
      const diff = fround(grid[r * 64 + c] - grid[r * 64 + c + 1]);
      steps[p++] = Math.abs(fround(fround(diff * c100) / c255));
    }
  }
  return steps;
}

function qualityOfSteps(steps) {
  let total = 0;
  for (let i = 0; i < steps.length; i++) total += Math.trunc(steps[i]);
  return Math.min(100, Math.floor(total / 90));
}

const MEDIAN_TIE = 5e-6;
const FLAT_SCALE = 8.0;
const STEP_TIE = 3e-3;

function nearTie(block, steps) {
  const ordered = Float64Array.from(block).sort();
  let scale = 0;
  for (const v of ordered) scale = Math.max(scale, Math.abs(v));
  const gap = Math.min(ordered[128] - ordered[127], ordered[127] - ordered[126]);
  if (scale < FLAT_SCALE || gap <= MEDIAN_TIE * scale) return true;
  let near = 0;
  let total = 0;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    total += Math.trunc(s);
    if (s >= 0.5 && Math.abs(s - roundHalfEven(s)) < STEP_TIE) near++;
  }
  if (near === 0) return false;
  const low = Math.max(0, total - near);
  const high = total + near;
  return Math.min(100, Math.floor(low / 90)) !== Math.min(100, Math.floor(high / 90));
}

function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ---- Meta's float32 arithmetic, replayed (pdq_exact.py) ----

/** Meta's `box1DFloat` along every row of a (rows x cols) float32 array, in place copy. */
function boxRowsExact(a, rows, cols, window) {
  const out = new Float32Array(rows * cols);
  const half = Math.floor((window + 2) / 2);
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    let total = 0;
    let right = 0;
    let left = 0;
    let dst = 0;
    let count = 0;
    for (let i = 0; i < half - 1; i++) {
      total = fround(total + a[src + right]);
      count++;
      right++;
    }
    for (let i = 0; i < window - half + 1; i++) {
      total = fround(total + a[src + right]);
      count++;
      out[src + dst] = fround(total / count);
      right++;
      dst++;
    }
    for (let i = 0; i < cols - window; i++) {
      total = fround(total + a[src + right]);
      total = fround(total - a[src + left]);
      out[src + dst] = fround(total / count);
      left++;
      right++;
      dst++;
    }
    for (let i = 0; i < half - 1; i++) {
      total = fround(total - a[src + left]);
      count--;
      out[src + dst] = fround(total / count);
      left++;
      dst++;
    }
  }
  return out;
}

function transpose32(a, rows, cols) {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

function grid64Exact(luma, rows, cols) {
  if (rows === 64 && cols === 64) return Float32Array.from(luma);
  const alongRows = Math.floor((cols + 127) / 128);
  const alongCols = Math.floor((rows + 127) / 128);
  let buf = Float32Array.from(luma);
  for (let pass = 0; pass < 2; pass++) {
    buf = boxRowsExact(buf, rows, cols, alongRows);
    buf = transpose32(boxRowsExact(transpose32(buf, rows, cols), cols, rows, alongCols), cols, rows);
  }
  const grid = new Float32Array(4096);
  for (let i = 0; i < 64; i++) {
    const ri = Math.trunc(((i + 0.5) * rows) / 64);
    for (let j = 0; j < 64; j++) {
      const ci = Math.trunc(((j + 0.5) * cols) / 64);
      grid[i * 64 + j] = buf[ri * cols + ci];
    }
  }
  return grid;
}

function dct16Exact(grid) {
  const d = dctMatrix();
  const partial = new Float32Array(16 * 64);
  for (let k = 0; k < 64; k++) {
    for (let i = 0; i < 16; i++) {
      const dik = d[i * 64 + k];
      for (let j = 0; j < 64; j++) {
        const p = i * 64 + j;
        partial[p] = fround(partial[p] + fround(dik * grid[k * 64 + j]));
      }
    }
  }
  const block = new Float32Array(256);
  for (let k = 0; k < 64; k++) {
    for (let i = 0; i < 16; i++) {
      const pik = partial[i * 64 + k];
      for (let j = 0; j < 16; j++) {
        const p = i * 16 + j;
        block[p] = fround(block[p] + fround(pik * d[j * 64 + k]));
      }
    }
  }
  return Float64Array.from(block);
}

/**
 * DCT block (Float64Array(256)) and quality of PDQ on the full image, from its canonical
 * (possibly reduced) pixels: `pdq.pdq_dct_from_canonical`.
 * canon = {pixels: Uint8Array RGB, height, width, fullHeight, fullWidth, factor}
 */
export function pdqDctFromCanonical(canon) {
  if (Math.min(canon.fullHeight, canon.fullWidth) < MIN_HASHABLE_DIM) {
    return { block: new Float64Array(256), quality: 0 };
  }
  const { height: rows, width: cols, factor } = canon;
  const exact = factor === 1;
  const luma = lumaFromRgb(canon.pixels, rows, cols);
  let grid;
  if (exact && rows === 64 && cols === 64) {
    grid = luma;
  } else {
    grid = grid64(
      luma,
      rows,
      cols,
      band(canon.fullHeight, rows, factor),
      band(canon.fullWidth, cols, factor),
    );
  }
  let block = dct16(grid);
  let steps = gradientSteps(grid);
  if (exact && nearTie(block, steps)) {
    grid = grid64Exact(luma, rows, cols);
    block = dct16Exact(grid);
    steps = gradientSteps(grid);
  }
  return { block, quality: qualityOfSteps(steps) };
}

/** PDQ of an unreduced RGB image (`pdq.pdq_from_rgb`). */
export function pdqFromRgb(pixels, height, width) {
  const { block, quality } = pdqDctFromCanonical({
    pixels,
    height,
    width,
    fullHeight: height,
    fullWidth: width,
    factor: 1,
  });
  return { hex: pdqHex(block), quality };
}

/** Threshold a 16x16 block at its lower median (strict >) and print bit 255 first. */
export function pdqHex(block) {
  const median = Float64Array.from(block).sort()[127];
  let hex = '';
  for (let byte = 31; byte >= 0; byte--) {
    let v = 0;
    for (let b = 7; b >= 0; b--) v = (v << 1) | (block[byte * 8 + b] > median ? 1 : 0);
    hex += v.toString(16).padStart(2, '0');
  }
  return hex;
}

/** The DCT blocks of the 8 rotations and mirrors (`pdq.dihedral_blocks`), in variant order. */
export function dihedralBlocks(block) {
  const sign = (i) => (i % 2 === 0 ? -1 : 1);
  const make = (fn) => {
    const out = new Float64Array(256);
    for (let r = 0; r < 16; r++) for (let c = 0; c < 16; c++) out[r * 16 + c] = fn(r, c);
    return out;
  };
  const b = (r, c) => block[r * 16 + c];
  const t = (r, c) => block[c * 16 + r];
  return {
    original: block,
    rot90: make((r, c) => sign(r) * t(r, c)),
    rot180: make((r, c) => sign(r) * sign(c) * b(r, c)),
    rot270: make((r, c) => sign(c) * t(r, c)),
    flip_h: make((r, c) => sign(c) * b(r, c)),
    flip_v: make((r, c) => sign(r) * b(r, c)),
    transpose: make((r, c) => t(r, c)),
    transverse: make((r, c) => sign(r) * sign(c) * t(r, c)),
  };
}

/** The 8 dihedral hashes of a canonical image: [{variant, hex, quality}] in variant order. */
export function pdqDihedralFromCanonical(canon) {
  const { block, quality } = pdqDctFromCanonical(canon);
  const blocks = dihedralBlocks(block);
  return DIHEDRAL_VARIANTS.map((variant) => ({ variant, hex: pdqHex(blocks[variant]), quality }));
}

/** PDQ of the whole canonical image (`pdq.pdq_from_canonical`). */
export function pdqFromCanonical(canon) {
  const { block, quality } = pdqDctFromCanonical(canon);
  return { hex: pdqHex(block), quality };
}
