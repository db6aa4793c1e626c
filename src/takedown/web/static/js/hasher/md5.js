// MD5 (RFC 1321), streaming, written for takedown and tested against the RFC's vectors
// (tests/browser/test_hasher_units.py). Used for the file's exact hash only, never for security.

import { BlockHash } from './blockhash.js';

const S = [
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
  14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15,
  21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0;

export class Md5 extends BlockHash {
  constructor() {
    super(true);
    this.state = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
    this.words = new Int32Array(16);
  }

  block(bytes, at) {
    const x = this.words;
    for (let j = 0; j < 16; j++) {
      const p = at + 4 * j;
      x[j] = bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16) | (bytes[p + 3] << 24);
    }
    let [a, b, c, d] = this.state;
    for (let j = 0; j < 64; j++) {
      let f;
      let g;
      if (j < 16) {
        f = (b & c) | (~b & d);
        g = j;
      } else if (j < 32) {
        f = (d & b) | (~d & c);
        g = (5 * j + 1) & 15;
      } else if (j < 48) {
        f = b ^ c ^ d;
        g = (3 * j + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * j) & 15;
      }
      const t = (a + f + K[j] + x[g]) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((t << S[j]) | (t >>> (32 - S[j])))) | 0;
    }
    const s = this.state;
    s[0] = (s[0] + a) | 0;
    s[1] = (s[1] + b) | 0;
    s[2] = (s[2] + c) | 0;
    s[3] = (s[3] + d) | 0;
  }

  /** The digest as 32 lowercase hex characters. */
  hex() {
    this.finish();
    let out = '';
    for (const word of this.state) {
      for (let j = 0; j < 4; j++) out += ((word >>> (8 * j)) & 0xff).toString(16).padStart(2, '0');
    }
    return out;
  }
}

/** MD5 of one byte array, as hex. */
export function md5Hex(bytes) {
  return new Md5().update(bytes).hex();
}
