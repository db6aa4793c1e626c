// The reporter's fingerprint set for one photo (`fingerprint.image_signals`): PDQ of the
// canonical pixels and its 7 rotations/mirrors, PDQ of the picture inside plain borders (if
// any), and patch hashes at the photo's level and its two neighbouring levels.

import { pdqDihedralFromCanonical, pdqFromRgb } from './pdq.js';
import { levelFactor, patchHashes, PATCH_SIZE, WINDOW } from './regions.js';
import { crop, trimBox } from './trim.js';

export const REPORTER_PATCHES_PER_LEVEL = 18;
export const MAX_REPORTER_SIGNALS = 64;
const MIN_LEVEL_SIDE = PATCH_SIZE + 2 * WINDOW;

const signal = (hash, variant) => ({
  type: 'pdq',
  value: hash.hex,
  quality: hash.quality,
  variant,
});

/**
 * `source` knows the photo's pixels: `canonical()` -> {pixels, height, width, fullHeight,
 * fullWidth, factor} and `level(factor)` -> {pixels, height, width} (both may be async).
 * `step()` (optional) is called after each stage, for progress.
 */
export async function imageSignals(source, step = () => {}) {
  const canon = await source.canonical();
  step('canonical');
  const signals = pdqDihedralFromCanonical(canon).map((h) => signal(h, h.variant));
  const box = trimBox(canon);
  if (box) {
    const inner = crop(canon, box.top, box.left, box.bottom, box.right);
    signals.push(signal(pdqFromRgb(inner.pixels, inner.height, inner.width), 'trimmed'));
  }
  step('whole');
  const base = levelFactor(canon.fullWidth, canon.fullHeight);
  for (const factor of [Math.floor(base / 2), base, base * 2]) {
    if (factor >= 1 && Math.floor(Math.min(canon.fullWidth, canon.fullHeight) / factor) >= MIN_LEVEL_SIDE) {
      const level = canon.factor === factor ? canon : await source.level(factor);
      for (const patch of patchHashes(level, REPORTER_PATCHES_PER_LEVEL)) {
        signals.push(signal(patch.hash, 'patch'));
      }
    }
    step(`level-${factor}`);
  }
  return unique(signals).slice(0, MAX_REPORTER_SIGNALS);
}

function unique(signals) {
  const seen = new Set();
  return signals.filter((s) => {
    const key = `${s.value}/${s.variant}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
