// Exact hashes of a file's bytes: MD5 (md5.js) and SHA-256. SHA-256 comes from Web Crypto
// (crypto.subtle.digest) when the whole file is in memory; files larger than
// WHOLE_FILE_LIMIT are streamed in CHUNK_BYTES pieces through Sha256 below (Web Crypto has no
// streaming digest), so memory stays bounded for long videos.

import { Md5 } from './md5.js';

export const CHUNK_BYTES = 4 << 20;
export const WHOLE_FILE_LIMIT = 256 << 20;

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

/** Streaming SHA-256 (FIPS 180-4), for files too large to digest in one piece. */
export class Sha256 {
  constructor() {
    this.h = new Int32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    this.w = new Int32Array(64);
    this.buffer = new Uint8Array(64);
    this.buffered = 0;
    this.length = 0;
  }

  update(bytes) {
    let i = 0;
    this.length += bytes.length;
    if (this.buffered) {
      const take = Math.min(64 - this.buffered, bytes.length);
      this.buffer.set(bytes.subarray(0, take), this.buffered);
      this.buffered += take;
      i = take;
      if (this.buffered < 64) return this;
      this.block(this.buffer, 0);
      this.buffered = 0;
    }
    for (; i + 64 <= bytes.length; i += 64) this.block(bytes, i);
    if (i < bytes.length) {
      this.buffer.set(bytes.subarray(i), 0);
      this.buffered = bytes.length - i;
    }
    return this;
  }

  block(b, at) {
    const w = this.w;
    for (let j = 0; j < 16; j++) {
      const p = at + 4 * j;
      w[j] = (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
    }
    for (let j = 16; j < 64; j++) {
      const x = w[j - 15];
      const y = w[j - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[j] = (w[j - 16] + s0 + w[j - 7] + s1) | 0;
    }
    let [a, b2, c, d, e, f, g, h] = this.h;
    for (let j = 0; j < 64; j++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + K[j] + w[j]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b2) ^ (a & c) ^ (b2 & c);
      const t2 = (S0 + maj) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b2;
      b2 = a;
      a = (t1 + t2) | 0;
    }
    const s = this.h;
    s[0] = (s[0] + a) | 0;
    s[1] = (s[1] + b2) | 0;
    s[2] = (s[2] + c) | 0;
    s[3] = (s[3] + d) | 0;
    s[4] = (s[4] + e) | 0;
    s[5] = (s[5] + f) | 0;
    s[6] = (s[6] + g) | 0;
    s[7] = (s[7] + h) | 0;
  }

  hex() {
    const bits = this.length * 8;
    const pad = new Uint8Array((this.buffered < 56 ? 56 : 120) - this.buffered + 8);
    pad[0] = 0x80;
    const n = pad.length;
    for (let j = 0; j < 8; j++) pad[n - 1 - j] = Math.floor(bits / 2 ** (8 * j)) & 0xff;
    this.update(pad);
    let out = '';
    for (const word of this.h) out += (word >>> 0).toString(16).padStart(8, '0');
    return out;
  }
}

const toHex = (buffer) =>
  Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');

/** MD5 and SHA-256 of bytes already in memory. */
export async function exactOfBytes(bytes) {
  const md5 = new Md5().update(bytes).hex();
  const sha256 = toHex(await crypto.subtle.digest('SHA-256', bytes));
  return { md5, sha256 };
}

/** MD5 and SHA-256 of a Blob read in chunks; `onChunk(doneBytes)` after each. */
export async function exactOfBlob(blob, onChunk = () => {}) {
  if (blob.size <= WHOLE_FILE_LIMIT) {
    return exactOfBytes(new Uint8Array(await blob.arrayBuffer()));
  }
  const md5 = new Md5();
  const sha = new Sha256();
  for (let at = 0; at < blob.size; at += CHUNK_BYTES) {
    const chunk = new Uint8Array(await blob.slice(at, at + CHUNK_BYTES).arrayBuffer());
    md5.update(chunk);
    sha.update(chunk);
    onChunk(Math.min(blob.size, at + CHUNK_BYTES));
  }
  return { md5: md5.hex(), sha256: sha.hex() };
}
