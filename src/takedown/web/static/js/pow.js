// The proof of work the registry asks for before it accepts new hashes (docs/api.md).
// `solve` runs `powSearch` in a Web Worker (pow-worker.js), with the plain-JavaScript SHA-256
// of sha256.js: Web Crypto's digest, one promise per hash, is far slower (docs/web.md).

import { padding } from './hasher/blockhash.js';
import { Sha256, compress } from './sha256.js';

/**
 * Find a decimal solution such that SHA-256("<challenge>:<solution>") starts with
 * `difficulty` zero bits. Resolves to {solution, hashes, ms}.
 */
export function solve(challenge, difficulty) {
  if (difficulty === 0) return Promise.resolve({ solution: '0', hashes: 0, ms: 0 });
  return new Promise((resolve, reject) => {
    const worker = new Worker('/static/js/pow-worker.js', { type: 'module' });
    worker.onmessage = (event) => {
      worker.terminate();
      if (event.data.error) reject(new Error(event.data.error));
      else resolve(event.data);
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message || 'the proof-of-work worker failed'));
    };
    worker.postMessage({ challenge, difficulty });
  });
}

/** Whether the first `bits` bits of the state's digest are zero. */
function hasLeadingZeros(state, bits) {
  let word = 0;
  while (bits >= 32) {
    if (state[word] !== 0) return false;
    word += 1;
    bits -= 32;
  }
  return bits === 0 || state[word] >>> (32 - bits) === 0;
}

/**
 * Search counters `start`, `start + 1`, ... (at most `count` of them) for one whose
 * SHA-256("<prefix><counter in decimal>") starts with `bits` zero bits.
 * Returns the counter as a decimal string, or null if none of them does.
 *
 * The prefix's whole blocks are hashed once; each candidate then costs only the last block or
 * two: the prefix's remaining bytes, the digits and the padding.
 */
export function powSearch(prefix, bits, start, count) {
  const encoded = new TextEncoder().encode(prefix);
  const head = new Sha256().update(encoded);
  const rest = head.buffered;
  const block = new Uint8Array(128);
  block.set(head.buffer.subarray(0, rest));
  const state = new Int32Array(8);
  const w = new Int32Array(64);
  let digitCount = -1;
  let blocks = 1;
  for (let counter = start; counter < start + count; counter++) {
    const digits = String(counter);
    if (digits.length !== digitCount) {
      // The padding depends only on the length: redo it when the counter gains a digit.
      digitCount = digits.length;
      const end = padding(encoded.length + digitCount, false);
      block.set(end, rest + digitCount);
      blocks = (rest + digitCount + end.length) / 64;
    }
    for (let i = 0; i < digitCount; i++) block[rest + i] = digits.charCodeAt(i);
    state.set(head.state);
    compress(state, block, 0, w);
    if (blocks === 2) compress(state, block, 64, w);
    if (hasLeadingZeros(state, bits)) return digits;
  }
  return null;
}
