// What MD5 (md5.js) and SHA-256 (../sha256.js) share: both eat the message in 64-byte blocks
// and end it with the same padding, which differs only in the byte order of the length.

/** The padding after a `length`-byte message: 0x80, zeros up to 56 mod 64, then the length
 * in bits as 8 bytes, little-endian (MD5) or big-endian (SHA-256). */
export function padding(length, littleEndian) {
  const used = length % 64;
  const out = new Uint8Array((used < 56 ? 56 : 120) - used + 8);
  out[0] = 0x80;
  const bits = length * 8;
  const n = out.length;
  for (let j = 0; j < 8; j++) {
    out[littleEndian ? n - 8 + j : n - 1 - j] = Math.floor(bits / 2 ** (8 * j)) & 0xff;
  }
  return out;
}

/**
 * A streaming hash over 64-byte blocks. A subclass defines `block(bytes, at)`, which folds the
 * 64 bytes of `bytes` from `at` into its state. `buffer` holds the `buffered` bytes that do
 * not fill a block yet; `length` counts every byte given to `update`.
 */
export class BlockHash {
  /** `littleEndian`: the byte order of the length in the padding. */
  constructor(littleEndian) {
    this.littleEndian = littleEndian;
    this.buffer = new Uint8Array(64);
    this.buffered = 0;
    this.length = 0;
  }

  /** Add bytes (a Uint8Array). */
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

  /** Pad the message; the subclass's state then holds the digest. Call once, at the end. */
  finish() {
    const length = this.length;
    this.update(padding(length, this.littleEndian));
    this.length = length;
  }
}
