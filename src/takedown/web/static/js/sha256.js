// SHA-256 (FIPS 180-4) in plain JavaScript: the one implementation of the page, used by the
// proof of work (pow.js, which calls `compress` directly to hash a fixed prefix only once) and
// by the hasher for files too large to digest in one piece (hasher/exact.js).
//
// Web Crypto's digest is asynchronous and has no streaming form: one promise per hash makes
// it far slower than this loop for the hundreds of thousands of tiny hashes the proof of work
// needs (docs/web.md has the measurements), and it needs the whole file in memory.

import { BlockHash } from './hasher/blockhash.js';

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

/** Compress the 64-byte block of `bytes` at `offset` into `state` (8 words, updated in place);
 * `w` is scratch space for the message schedule (64 words). */
export function compress(state, bytes, offset, w) {
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

/** Streaming SHA-256: `update(bytes)` as often as needed, then `digest()` or `hex()` once. */
export class Sha256 extends BlockHash {
  constructor() {
    super(false);
    this.state = new Int32Array(INITIAL);
    this.w = new Int32Array(64);
  }

  block(bytes, at) {
    compress(this.state, bytes, at, this.w);
  }

  /** The 32-byte digest. */
  digest() {
    this.finish();
    const digest = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      digest[i * 4] = this.state[i] >>> 24;
      digest[i * 4 + 1] = (this.state[i] >>> 16) & 0xff;
      digest[i * 4 + 2] = (this.state[i] >>> 8) & 0xff;
      digest[i * 4 + 3] = this.state[i] & 0xff;
    }
    return digest;
  }

  /** The digest as 64 lowercase hex characters. */
  hex() {
    this.finish();
    let out = '';
    for (const word of this.state) out += (word >>> 0).toString(16).padStart(8, '0');
    return out;
  }
}

/** SHA-256 of `bytes` (a Uint8Array); returns the 32-byte digest. */
export function sha256(bytes) {
  return new Sha256().update(bytes).digest();
}
