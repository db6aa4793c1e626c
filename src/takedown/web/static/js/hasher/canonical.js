// The canonical pixel rule (src/takedown/hashing/canonical.py, docs/canonical-pixels.md):
// JPEGs are decoded with libjpeg's DCT scaling (jpeg.js), everything else is averaged over
// integer k x k blocks with round-half-up; both keep the short side >= 256.

export const CANONICAL_MIN_SIDE = 256;
export const JPEG_SCALES = [8, 4, 2, 1];

/** The largest libjpeg reduction 1/s that keeps the short side >= CANONICAL_MIN_SIDE. */
export function jpegScale(width, height) {
  const short = Math.min(width, height);
  return JPEG_SCALES.find((s) => Math.floor(short / s) >= CANONICAL_MIN_SIDE || s === 1);
}

/** The integer block size k for non-JPEG images (1 means no reduction). */
export function boxFactor(width, height) {
  return Math.max(1, Math.floor(Math.min(width, height) / CANONICAL_MIN_SIDE));
}

/**
 * Average k x k blocks of an RGB image, dropping the last partial row and column of blocks
 * (`canonical.reduce_rgb`). Returns {pixels, height, width}.
 */
export function reduceRgb(image, k) {
  if (k === 1) return image;
  const { pixels, width } = image;
  const rows = Math.floor(image.height / k);
  const cols = Math.floor(width / k);
  const out = new Uint8Array(rows * cols * 3);
  const sums = new Uint32Array(cols * 3);
  const area = k * k;
  const half = Math.floor(area / 2);
  for (let r = 0; r < rows; r++) {
    sums.fill(0);
    for (let y = r * k; y < (r + 1) * k; y++) {
      let p = y * width * 3;
      for (let c = 0; c < cols; c++) {
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        for (let x = 0; x < k; x++, p += 3) {
          s0 += pixels[p];
          s1 += pixels[p + 1];
          s2 += pixels[p + 2];
        }
        sums[c * 3] += s0;
        sums[c * 3 + 1] += s1;
        sums[c * 3 + 2] += s2;
      }
    }
    const base = r * cols * 3;
    for (let i = 0; i < cols * 3; i++) out[base + i] = Math.floor((sums[i] + half) / area);
  }
  return { pixels: out, height: rows, width: cols };
}

/** The canonical form of decoded pixels (`canonical.canonical_from_rgb`). */
export function canonicalFromRgb(image) {
  const k = boxFactor(image.width, image.height);
  const reduced = reduceRgb(image, k);
  return { ...reduced, fullHeight: image.height, fullWidth: image.width, factor: k };
}
