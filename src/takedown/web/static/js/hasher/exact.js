// Exact hashes of a file's bytes: MD5 (md5.js) and SHA-256. SHA-256 comes from Web Crypto
// (crypto.subtle.digest) when the whole file is in memory; files larger than
// WHOLE_FILE_LIMIT are streamed in CHUNK_BYTES pieces through the page's own Sha256
// (../sha256.js; Web Crypto has no streaming digest), so memory stays bounded for long videos.

import { Sha256 } from '../sha256.js';
import { Md5 } from './md5.js';

export { Sha256 };

export const CHUNK_BYTES = 4 << 20;
export const WHOLE_FILE_LIMIT = 256 << 20;

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
