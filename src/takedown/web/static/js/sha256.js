// SHA-256 in plain JavaScript (FIPS 180-4), for the proof of work.
//
// Web Crypto's digest is asynchronous: one promise per hash makes it far slower than this
// loop for the hundreds of thousands of tiny hashes the proof of work needs (docs/web.md has
// the measurements). `powSearch` hashes the fixed prefix "<challenge>:" once and then only
// the last block or two per candidate.

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const INITIAL = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/** Compress one 64-byte block of `bytes` at `offset` into `state` (8 words, updated in place). */
function compress(state, bytes, offset, w) {
  for (let i = 0; i < 16; i++) {
    const j = offset + i * 4;
    w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
  }
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15];
    const b = w[i - 2];
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
  }
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  let e = state[4];
  let f = state[5];
  let g = state[6];
  let h = state[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i] + w[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0;
  state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0;
  state[7] = (state[7] + h) | 0;
}

/** Pad `tail` (the bytes after the last full block) of a `totalLength`-byte message into
 * `out` (128 bytes); returns how many blocks (1 or 2) `out` now holds. */
function pad(tail, tailLength, totalLength, out) {
  out.fill(0);
  out.set(tail.subarray(0, tailLength));
  out[tailLength] = 0x80;
  const blocks = tailLength + 9 <= 64 ? 1 : 2;
  const end = blocks * 64;
  const bits = totalLength * 8;
  // Messages here are far below 2**32 bits' worth of high word; write the low 53 bits.
  const high = Math.floor(bits / 0x100000000);
  out[end - 8] = (high >>> 24) & 0xff;
  out[end - 7] = (high >>> 16) & 0xff;
  out[end - 6] = (high >>> 8) & 0xff;
  out[end - 5] = high & 0xff;
  out[end - 4] = (bits >>> 24) & 0xff;
  out[end - 3] = (bits >>> 16) & 0xff;
  out[end - 2] = (bits >>> 8) & 0xff;
  out[end - 1] = bits & 0xff;
  return blocks;
}

/** SHA-256 of `bytes` (a Uint8Array); returns the 32-byte digest. */
export function sha256(bytes) {
  const state = new Int32Array(INITIAL);
  const w = new Int32Array(64);
  const full = bytes.length - (bytes.length % 64);
  for (let offset = 0; offset < full; offset += 64) compress(state, bytes, offset, w);
  const last = new Uint8Array(128);
  const blocks = pad(bytes.subarray(full), bytes.length - full, bytes.length, last);
  for (let i = 0; i < blocks; i++) compress(state, last, i * 64, w);
  const digest = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    digest[i * 4] = state[i] >>> 24;
    digest[i * 4 + 1] = (state[i] >>> 16) & 0xff;
    digest[i * 4 + 2] = (state[i] >>> 8) & 0xff;
    digest[i * 4 + 3] = state[i] & 0xff;
  }
  return digest;
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
 */
export function powSearch(prefix, bits, start, count) {
  const encoded = new TextEncoder().encode(prefix);
  const full = encoded.length - (encoded.length % 64);
  const midstate = new Int32Array(INITIAL);
  const w = new Int32Array(64);
  for (let offset = 0; offset < full; offset += 64) compress(midstate, encoded, offset, w);
  const rest = encoded.length - full;
  const tail = new Uint8Array(rest + 24);
  tail.set(encoded.subarray(full));
  const block = new Uint8Array(128);
  const state = new Int32Array(8);
  let digitCount = -1;
  let blocks = 1;
  for (let counter = start; counter < start + count; counter++) {
    const digits = String(counter);
    if (digits.length !== digitCount) {
      // The padding depends only on the length: redo it when the counter gains a digit.
      digitCount = digits.length;
      blocks = pad(tail, rest + digitCount, full + rest + digitCount, block);
    }
    for (let i = 0; i < digitCount; i++) block[rest + i] = digits.charCodeAt(i);
    state.set(midstate);
    compress(state, block, 0, w);
    if (blocks === 2) compress(state, block, 64, w);
    if (hasLeadingZeros(state, bits)) return digits;
  }
  return null;
}
