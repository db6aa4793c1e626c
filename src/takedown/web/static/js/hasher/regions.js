// Region hashes (src/takedown/hashing/regions.py): PDQ of 96x96 patches around the strongest
// Harris corners of a level image. Integer arithmetic throughout (every value stays below
// 2^31 except the response, which stays below 2^53 in a double), one tie rule.

import { pdqFromRgb } from './pdq.js';
import { crop } from './trim.js';

export const LEVEL_MIN_SIDE = 256;
export const PATCH_SIZE = 96;
export const SUPPRESSION_RADIUS = PATCH_SIZE / 2;
export const WINDOW = 7;
export const MIN_PATCH_QUALITY = 50;

/** The largest power of two p with min(width, height) // p >= LEVEL_MIN_SIDE (at least 1). */
export function levelFactor(width, height) {
  const short = Math.min(width, height);
  let p = 1;
  while (Math.floor(short / (2 * p)) >= LEVEL_MIN_SIDE) p *= 2;
  return p;
}

function binomialRows(a, h, w) {
  const out = new Int32Array((h - 4) * w);
  for (let r = 0; r < h - 4; r++) {
    const o = r * w;
    const i = r * w;
    for (let c = 0; c < w; c++) {
      out[o + c] =
        a[i + c] + 4 * a[i + w + c] + 6 * a[i + 2 * w + c] + 4 * a[i + 3 * w + c] + a[i + 4 * w + c];
    }
  }
  return out;
}

function binomialCols(a, h, w) {
  const nw = w - 4;
  const out = new Int32Array(h * nw);
  for (let r = 0; r < h; r++) {
    const i = r * w;
    const o = r * nw;
    for (let c = 0; c < nw; c++) {
      const p = i + c;
      out[o + c] = a[p] + 4 * a[p + 1] + 6 * a[p + 2] + 4 * a[p + 3] + a[p + 4];
    }
  }
  return out;
}

/** Sum over every k x k window (valid part only); inputs and sums stay below 2^31. */
function boxSum(a, h, w, k) {
  const vh = h - k + 1;
  const vw = w - k + 1;
  const cols = new Int32Array(vh * w);
  for (let r = 0; r < k; r++) {
    const i = r * w;
    for (let c = 0; c < w; c++) cols[c] += a[i + c];
  }
  for (let r = 1; r < vh; r++) {
    const o = r * w;
    const add = (r + k - 1) * w;
    const sub = (r - 1) * w;
    for (let c = 0; c < w; c++) cols[o + c] = cols[o - w + c] + a[add + c] - a[sub + c];
  }
  const out = new Int32Array(vh * vw);
  for (let r = 0; r < vh; r++) {
    const i = r * w;
    const o = r * vw;
    let s = 0;
    for (let c = 0; c < k; c++) s += cols[i + c];
    out[o] = s;
    for (let c = 1; c < vw; c++) {
      s += cols[i + c + k - 1] - cols[i + c - 1];
      out[o + c] = s;
    }
  }
  return { sums: out, h: vh, w: vw };
}

/** Integer Harris response (k = 1/16) and the offset of its (0, 0) in the image. */
export function harrisResponse(image) {
  const { pixels, height: h0, width: w0 } = image;
  let g = new Int32Array(h0 * w0);
  for (let i = 0, p = 0; i < g.length; i++, p += 3) {
    g[i] = (77 * pixels[p] + 150 * pixels[p + 1] + 29 * pixels[p + 2] + 128) >> 8;
  }
  let h = h0;
  let w = w0;
  for (let pass = 0; pass < 2; pass++) {
    g = binomialRows(g, h, w);
    h -= 4;
    g = binomialCols(g, h, w);
    w -= 4;
  }
  // Gradients in units of 1/16 grey level (>> 12 is floor division, as numpy's >>).
  const gh = h - 2;
  const gw = w - 2;
  const xx = new Int32Array(gh * gw);
  const yy = new Int32Array(gh * gw);
  const xy = new Int32Array(gh * gw);
  for (let r = 0; r < gh; r++) {
    const mid = (r + 1) * w;
    const up = r * w;
    const down = (r + 2) * w;
    const o = r * gw;
    for (let c = 0; c < gw; c++) {
      const gx = (g[mid + c + 2] - g[mid + c]) >> 12;
      const gy = (g[down + c + 1] - g[up + c + 1]) >> 12;
      xx[o + c] = gx * gx;
      yy[o + c] = gy * gy;
      xy[o + c] = gx * gy;
    }
  }
  const sxx = boxSum(xx, gh, gw, WINDOW);
  const syy = boxSum(yy, gh, gw, WINDOW);
  const sxy = boxSum(xy, gh, gw, WINDOW).sums;
  const n = sxx.h * sxx.w;
  const response = new Float64Array(n);
  const ax = sxx.sums;
  const ay = syy.sums;
  for (let i = 0; i < n; i++) {
    const a = ax[i] >> 8;
    const b = ay[i] >> 8;
    const c = sxy[i] >> 8;
    response[i] = 16 * (a * b - c * c) - (a + b) * (a + b);
  }
  return { response, h: sxx.h, w: sxx.w, offset: 2 + 2 + 1 + Math.floor(WINDOW / 2) };
}

/**
 * Maximum over the window of 2 * radius + 1 around each element of a line (van Herk /
 * Gil-Werman: prefix and suffix maxima of blocks of the window's size), clipped to the line.
 */
function lineMax(src, dst, start, stride, n, radius, g, hbuf) {
  const size = 2 * radius + 1;
  const padded = n + 2 * radius;
  // Padded line: -Infinity outside [radius, radius + n).
  for (let i = 0; i < padded; i++) {
    const j = i - radius;
    const v = j >= 0 && j < n ? src[start + j * stride] : -Infinity;
    if (i % size === 0) g[i] = v;
    else g[i] = v > g[i - 1] ? v : g[i - 1];
  }
  for (let i = padded - 1; i >= 0; i--) {
    const j = i - radius;
    const v = j >= 0 && j < n ? src[start + j * stride] : -Infinity;
    if (i === padded - 1 || (i + 1) % size === 0) hbuf[i] = v;
    else hbuf[i] = v > hbuf[i + 1] ? v : hbuf[i + 1];
  }
  for (let j = 0; j < n; j++) {
    // Window [j, j + size) in padded coordinates.
    const a = hbuf[j];
    const b = g[j + size - 1];
    dst[start + j * stride] = a > b ? a : b;
  }
}

function windowMax(a, h, w, radius) {
  const tmp = new Float64Array(h * w);
  const out = new Float64Array(h * w);
  const len = Math.max(h, w) + 2 * radius;
  const g = new Float64Array(len);
  const hb = new Float64Array(len);
  for (let r = 0; r < h; r++) lineMax(a, tmp, r * w, 1, w, radius, g, hb);
  for (let c = 0; c < w; c++) lineMax(tmp, out, c, w, h, radius, g, hb);
  return out;
}

/** Local maxima of the response at least `margin` inside, strongest first (`regions.corners`). */
export function corners(image, margin) {
  const { height, width } = image;
  if (Math.min(height, width) < 2 * margin || Math.min(height, width) < 2 * (WINDOW + 8)) return [];
  const { response, h, w, offset } = harrisResponse(image);
  const peak = windowMax(response, h, w, SUPPRESSION_RADIUS);
  const found = [];
  for (let r = 0; r < h; r++) {
    const row = r + offset;
    if (row < margin || row + margin > height) continue;
    for (let c = 0; c < w; c++) {
      const v = response[r * w + c];
      if (v > 0 && v === peak[r * w + c]) {
        const col = c + offset;
        if (col >= margin && col + margin <= width) found.push({ row, col, response: v });
      }
    }
  }
  found.sort((a, b) => b.response - a.response || a.row - b.row || a.col - b.col);
  const kept = [];
  const ties = new Map();
  for (const corner of found) {
    let same = ties.get(corner.response);
    if (!same) {
      same = [];
      ties.set(corner.response, same);
    }
    if (
      same.some(
        (c) =>
          Math.abs(c.row - corner.row) <= SUPPRESSION_RADIUS &&
          Math.abs(c.col - corner.col) <= SUPPRESSION_RADIUS,
      )
    ) {
      continue;
    }
    same.push(corner);
    kept.push(corner);
  }
  return kept;
}

/** PDQ of the 96x96 patch around each strongest corner, quality >= 50, at most `count`. */
export function patchHashes(image, count) {
  const half = PATCH_SIZE / 2;
  const out = [];
  for (const corner of corners(image, half)) {
    if (out.length === count) break;
    const top = corner.row - half;
    const left = corner.col - half;
    const block = crop(image, top, left, top + PATCH_SIZE, left + PATCH_SIZE);
    const digest = pdqFromRgb(block.pixels, PATCH_SIZE, PATCH_SIZE);
    if (digest.quality >= MIN_PATCH_QUALITY) out.push({ corner, hash: digest });
  }
  return out;
}
