// The in-browser hasher: the same fingerprint set as `takedown hash --json` for one file.
//
//   fingerprintFile(file, {onProgress}) -> item
//
// `item` is one element of `takedown hash --json` without `path`:
//   photo: {kind: 'image', md5, sha256, signals: [{type, value, quality, variant}, ...]}
//   video: {kind: 'video', md5, sha256, signals: [], vpdq: ['<hex>,<quality>,<t.000>', ...]}
// When the pixels cannot be hashed identically to Python here (HEIC, TIFF, AVIF, a video
// codec or container this browser cannot decode, semi-transparent WebP/GIF/BMP, arithmetic-
// coded JPEG), the item carries the exact hashes only:
//   {kind, md5, sha256, signals: [], (vpdq: [],) exact_only: true, reason: '<code>'}
// `exact_only` and `reason` are for the page; the registry does not accept them (strip them).
// Failures throw HashError {code, message}: empty_file, file_too_large, image_too_large,
// decode_failed, truncated, not_media.
// onProgress(done, total): total is always PROGRESS_TOTAL; done only grows.
//
// Everything is plain ES modules, no eval, no network: it runs under the site's CSP in a
// module Web Worker (../hash-worker.js). See docs/web.md, "The in-browser hasher".

import { ImageError, imageSource, MAX_FILE_BYTES, NotHashable, sniffImage } from './decode.js';
import { exactOfBlob, exactOfBytes } from './exact.js';
import { imageSignals } from './fingerprint.js';
import { isVideo, VideoError, videoHashes } from './video.js';

export const PROGRESS_TOTAL = 100;

export class HashError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'HashError';
    this.code = code;
  }
}

const IMAGE_STAGES = { canonical: 40, whole: 55, 'level-0': 65 };

export async function fingerprintFile(file, { onProgress } = {}) {
  let done = 0;
  const progress = (value) => {
    const v = Math.min(PROGRESS_TOTAL, Math.max(done, Math.floor(value)));
    if (v > done || value === 0) {
      done = v;
      if (onProgress) onProgress(done, PROGRESS_TOTAL);
    }
  };
  progress(0);
  if (file.size === 0) throw new HashError('empty_file', 'the file is empty (0 bytes)');
  const head = new Uint8Array(await file.slice(0, 4096).arrayBuffer());

  let source = null;
  let bytes = null;
  if (sniffImage(head) !== null) {
    if (file.size > MAX_FILE_BYTES) {
      throw new HashError('file_too_large', 'image files over 200 MiB are refused; export a smaller copy');
    }
    // Images are read whole: the decoders need every byte.
    bytes = new Uint8Array(await file.arrayBuffer());
    try {
      source = imageSource(bytes, file);
    } catch (err) {
      source = err;
    }
  }
  progress(5);

  if (source !== null) {
    const exact = await exactOfBytes(bytes);
    progress(15);
    if (source instanceof Error) return imageFailure(source, exact);
    try {
      let levels = 0;
      const signals = await imageSignals(source, (stage) => {
        if (stage.startsWith('level-')) progress(65 + 10 * ++levels);
        else progress(IMAGE_STAGES[stage] || done);
      });
      progress(PROGRESS_TOTAL);
      return { kind: 'image', md5: exact.md5, sha256: exact.sha256, signals };
    } catch (err) {
      return imageFailure(err, exact);
    }
  }

  if (!isVideo(head)) {
    throw new HashError(
      'not_media',
      'not an image or video we can read (images: JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/HEIF, AVIF; videos: MP4, MOV, MKV, WebM, AVI, MPEG, FLV, WMV, Ogg)',
    );
  }
  const exact = await exactOfBlob(file, (n) => progress(5 + (10 * n) / file.size));
  progress(15);
  try {
    const vpdq = await videoHashes(file, (i, n) => progress(15 + (84 * i) / Math.max(1, n)));
    progress(PROGRESS_TOTAL);
    return { kind: 'video', md5: exact.md5, sha256: exact.sha256, signals: [], vpdq };
  } catch (err) {
    if (err instanceof NotHashable) {
      progress(PROGRESS_TOTAL);
      return { kind: 'video', md5: exact.md5, sha256: exact.sha256, signals: [], vpdq: [], exact_only: true, reason: err.reason };
    }
    if (err instanceof VideoError) throw new HashError(err.code, err.message);
    throw err;
  }
}

function imageFailure(err, exact) {
  if (err instanceof NotHashable) {
    return { kind: 'image', md5: exact.md5, sha256: exact.sha256, signals: [], exact_only: true, reason: err.reason };
  }
  if (err instanceof ImageError) throw new HashError(err.code, err.message);
  throw err;
}
