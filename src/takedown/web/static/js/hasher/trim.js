// Border trimming (src/takedown/hashing/trim.py): the picture inside plain bars, in integers.

export const TOLERANCE = 12;
const PLAIN_SHARE_PERMILLE = 980;
const MIN_KEPT_PERMILLE = 250;
const MIN_CUT_PERMILLE = 20;

/** Which of `count` lines are plain; pixel j of line i is at first + i * lineStep + j * step. */
function plainLines(pixels, count, length, first, lineStep, step) {
  const plain = new Uint8Array(count);
  const hist = new Uint32Array(3 * 256);
  const rank = Math.floor((length - 1) / 2);
  const median = [0, 0, 0];
  for (let i = 0; i < count; i++) {
    hist.fill(0);
    const base = first + i * lineStep;
    for (let j = 0, p = base; j < length; j++, p += step) {
      hist[pixels[p]]++;
      hist[256 + pixels[p + 1]]++;
      hist[512 + pixels[p + 2]]++;
    }
    for (let ch = 0; ch < 3; ch++) {
      let seen = 0;
      let v = 0;
      for (; v < 256; v++) {
        seen += hist[ch * 256 + v];
        if (seen > rank) break;
      }
      median[ch] = v;
    }
    let close = 0;
    for (let j = 0, p = base; j < length; j++, p += step) {
      if (
        Math.abs(pixels[p] - median[0]) <= TOLERANCE &&
        Math.abs(pixels[p + 1] - median[1]) <= TOLERANCE &&
        Math.abs(pixels[p + 2] - median[2]) <= TOLERANCE
      ) {
        close++;
      }
    }
    plain[i] = close * 1000 >= PLAIN_SHARE_PERMILLE * length ? 1 : 0;
  }
  return plain;
}

function cuts(plain) {
  const n = plain.length;
  let bestStart = 0;
  let bestEnd = 0;
  let runStart = 0;
  for (let i = 0; i <= n; i++) {
    if (i === n || plain[i]) {
      if (i - runStart > bestEnd - bestStart) {
        bestStart = runStart;
        bestEnd = i;
      }
      runStart = i + 1;
    }
  }
  const minimum = Math.floor((n * MIN_CUT_PERMILLE) / 1000);
  if (bestStart < minimum) bestStart = 0;
  if (n - bestEnd < minimum) bestEnd = n;
  return [bestStart, bestEnd];
}

/** {top, left, bottom, right} of the picture inside plain borders, or null (`trim.trim_box`). */
export function trimBox(image) {
  const { pixels, height, width } = image;
  const rows = plainLines(pixels, height, width, 0, width * 3, 3);
  const [top, bottom] = cuts(rows);
  if (bottom - top < Math.max(1, Math.floor((height * MIN_KEPT_PERMILLE) / 1000))) return null;
  const innerHeight = bottom - top;
  const cols = plainLines(pixels, width, innerHeight, top * width * 3, 3, width * 3);
  const [left, right] = cuts(cols);
  if (right - left < Math.max(1, Math.floor((width * MIN_KEPT_PERMILLE) / 1000))) return null;
  if (top === 0 && left === 0 && bottom === height && right === width) return null;
  return { top, left, bottom, right };
}

/** The pixels of a sub-rectangle as a new RGB image. */
export function crop(image, top, left, bottom, right) {
  const w = right - left;
  const out = new Uint8Array((bottom - top) * w * 3);
  for (let r = top; r < bottom; r++) {
    out.set(
      image.pixels.subarray((r * image.width + left) * 3, (r * image.width + right) * 3),
      (r - top) * w * 3,
    );
  }
  return { pixels: out, height: bottom - top, width: w };
}
