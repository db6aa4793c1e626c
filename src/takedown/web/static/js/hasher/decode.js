// From a file's bytes to the pixel sources `fingerprint.imageSignals` needs, following
// src/takedown/hashing/decode.py (RGB_RULE) and canonical.py:
//   JPEG: our libjpeg-turbo port (jpeg.js), DCT-scaled for the canonical pixels and levels;
//   PNG: our PNG decoder (png.js);
//   WebP, GIF, BMP, AVIF: the browser's decoder (createImageBitmap), accepted only when it
//     cannot differ from Pillow's (no semi-transparent pixels); see `browserPixels`;
//   TIFF, HEIC/HEIF and anything the browser cannot decode: not hashable here
//     (`NotHashable`, reported as exact_only by index.js).

import { boxFactor, jpegScale, reduceRgb } from './canonical.js';
import { BadJpeg, decodeJpeg, parseJpeg, UnsupportedJpeg } from './jpeg.js';
import { BadPng, decodePng, isPng } from './png.js';

export const MAX_FILE_BYTES = 200 * 1024 * 1024;
export const MAX_PIXELS = 100_000_000;

/** The pixels cannot be made identical to Python's here; only exact hashes can be sent. */
export class NotHashable extends Error {
  constructor(reason, message) {
    super(message);
    this.reason = reason;
  }
}

/** The file is an image but it is damaged or refused (Python raises DecodeError or a limit). */
export class ImageError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const ascii = (b, at, n) => String.fromCharCode(...b.subarray(at, at + n));

/** The image format by its magic bytes (Pillow's formats), or null. */
export function sniffImage(b) {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (isPng(b)) return 'png';
  if (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return 'webp';
  if (ascii(b, 0, 2) === 'BM') return 'bmp';
  if (ascii(b, 0, 4) === 'II*\0' || ascii(b, 0, 4) === 'MM\0*') return 'tiff';
  if (ascii(b, 0, 4) === 'II+\0' || ascii(b, 0, 4) === 'MM\0+') return 'tiff';
  if (ascii(b, 4, 4) === 'ftyp') {
    const brand = ascii(b, 8, 4);
    if (['avif', 'avis'].includes(brand)) return 'avif';
    if (['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'].includes(brand)) {
      return 'heif';
    }
  }
  return null;
}

// ---------------------------------------------------------------- EXIF orientation

/** Value of tag `tag` in IFD0 of a TIFF structure (little or big endian), or undefined. */
export function tiffTag(t, tag) {
  if (t.length < 8) return undefined;
  const le = t[0] === 0x49 && t[1] === 0x49;
  if (!le && !(t[0] === 0x4d && t[1] === 0x4d)) return undefined;
  const v = new DataView(t.buffer, t.byteOffset, t.byteLength);
  const u16 = (o) => v.getUint16(o, le);
  const u32 = (o) => v.getUint32(o, le);
  const ifd = u32(4);
  if (ifd + 2 > t.length) return undefined;
  const n = u16(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > t.length) return undefined;
    if (u16(e) !== tag) continue;
    const type = u16(e + 2);
    if (type === 3) return u16(e + 8); // SHORT
    if (type === 4) return u32(e + 8); // LONG
    if (type === 1 || type === 7) return t[e + 8]; // BYTE, UNDEFINED
    if (type === 8) return v.getInt16(e + 8, le);
    if (type === 9) return v.getInt32(e + 8, le);
    return undefined;
  }
  return undefined;
}

function stripExifHeader(exif) {
  let e = exif;
  // Pillow strips one or two leading "Exif\0\0".
  for (let k = 0; k < 2 && ascii(e, 0, 6) === 'Exif\0\0'; k++) e = e.subarray(6);
  return e;
}

function xmpOrientation(xmp) {
  if (!xmp) return undefined;
  const text = new TextDecoder('latin1').decode(xmp);
  const m = /tiff:Orientation(="|>)([0-9])/.exec(text);
  return m ? Number(m[2]) : undefined;
}

/** EXIF orientation as `decode.exif_orientation` reads it: 1-8, else 1. */
export function orientationOf(exif, xmp) {
  let value;
  try {
    if (exif) value = tiffTag(stripExifHeader(exif), 0x0112);
  } catch {
    return 1;
  }
  if (value === undefined) value = xmpOrientation(xmp);
  return Number.isInteger(value) && value >= 1 && value <= 8 ? value : 1;
}

/** Apply an EXIF orientation (the table of ImageOps.exif_transpose) to an RGB image. */
export function orient(image, orientation) {
  if (orientation === 1) return image;
  const { pixels, height: h, width: w } = image;
  const swap = orientation >= 5;
  const oh = swap ? w : h;
  const ow = swap ? h : w;
  const out = new Uint8Array(pixels.length);
  // Source (r, c) of destination (y, x) for each orientation.
  const src = {
    2: (y, x) => [y, w - 1 - x],
    3: (y, x) => [h - 1 - y, w - 1 - x],
    4: (y, x) => [h - 1 - y, x],
    5: (y, x) => [x, y],
    6: (y, x) => [h - 1 - x, y],
    7: (y, x) => [h - 1 - x, w - 1 - y],
    8: (y, x) => [x, w - 1 - y],
  }[orientation];
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const [r, c] = src(y, x);
      const s = (r * w + c) * 3;
      const d = (y * ow + x) * 3;
      out[d] = pixels[s];
      out[d + 1] = pixels[s + 1];
      out[d + 2] = pixels[s + 2];
    }
  }
  return { pixels: out, height: oh, width: ow };
}

// ---------------------------------------------------------------- PNG metadata

function pngExif(b) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 8;
  let exif = null;
  let xmp = null;
  while (pos + 8 <= b.length) {
    const length = v.getUint32(pos);
    const type = ascii(b, pos + 4, 4);
    const data = b.subarray(pos + 8, Math.min(b.length, pos + 8 + length));
    if (type === 'eXIf') exif = data;
    if (type === 'iTXt' && ascii(data, 0, 18) === 'XML:com.adobe.xmp\0' && data[18] === 0) xmp = data;
    if (type === 'IDAT' || type === 'IEND') break; // Pillow reads metadata before the pixels
    pos += 12 + length;
  }
  return { exif, xmp };
}

// ---------------------------------------------------------------- sources

function checkPixels(width, height) {
  if (width < 1 || height < 1) throw new ImageError('decode_failed', 'the image has no pixels');
  if (width * height > MAX_PIXELS) {
    throw new ImageError('image_too_large', `the image is ${width} x ${height} pixels, more than ${MAX_PIXELS}`);
  }
}

/** Multi-picture JPEGs (MPO) are decoded by Pillow as a non-JPEG format: full size, then blocks. */
function isMpo(jpeg) {
  if (!jpeg.mp || jpeg.hdrgm) return false;
  try {
    const count = tiffTag(jpeg.mp, 0xb001);
    return Number.isInteger(count) && count > 1;
  } catch {
    return false;
  }
}

function jpegSource(bytes) {
  let jpeg;
  try {
    jpeg = parseJpeg(bytes);
  } catch (err) {
    if (err instanceof UnsupportedJpeg) throw new NotHashable('jpeg_unsupported', err.message);
    if (err instanceof BadJpeg) throw new ImageError('decode_failed', `cannot decode the JPEG (${err.message})`);
    throw err;
  }
  const { width, height } = jpeg.frame;
  checkPixels(width, height);
  const orientation = orientationOf(jpeg.exif, jpeg.xmp);
  const swaps = orientation >= 5;
  const fullWidth = swaps ? height : width;
  const fullHeight = swaps ? width : height;
  const decode = (scale) => {
    try {
      return orient(decodeJpeg(jpeg, scale), orientation);
    } catch (err) {
      if (err instanceof UnsupportedJpeg) throw new NotHashable('jpeg_unsupported', err.message);
      throw err;
    }
  };
  if (isMpo(jpeg)) return pixelSource(() => decode(1));
  let full = null;
  return {
    canonical() {
      const scale = jpegScale(width, height);
      return { ...decode(scale), fullHeight, fullWidth, factor: scale };
    },
    level(factor) {
      const scale = Math.min(factor, 8);
      if (scale === 1) full = full || decode(1);
      return reduceRgb(scale === 1 ? full : decode(scale), factor / scale);
    },
  };
}

/** A source for formats decoded at full size: canonical and levels by integer blocks. */
function pixelSource(load) {
  let full = null;
  const get = async () => (full = full || (await load()));
  return {
    async canonical() {
      const image = await get();
      const k = boxFactor(image.width, image.height);
      return { ...reduceRgb(image, k), fullHeight: image.height, fullWidth: image.width, factor: k };
    },
    async level(factor) {
      return reduceRgb(await get(), factor);
    },
  };
}

/**
 * Decode with the browser. The canvas keeps premultiplied colour, so the result equals
 * Pillow's only when every pixel is opaque or fully transparent (composited on white either
 * way); otherwise the image is NotHashable.
 */
async function browserPixels(blob, format) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, {
      imageOrientation: 'from-image',
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
    });
  } catch {
    throw new NotHashable('browser_cannot_decode', `this browser cannot decode this ${format} file`);
  }
  const { width, height } = bitmap;
  checkPixels(width, height);
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height, { colorSpace: 'srgb' }).data;
  const n = width * height;
  const rgb = new Uint8Array(n * 3);
  for (let i = 0, o = 0; i < n; i++, o += 3) {
    const a = rgba[4 * i + 3];
    if (a === 255) {
      rgb[o] = rgba[4 * i];
      rgb[o + 1] = rgba[4 * i + 1];
      rgb[o + 2] = rgba[4 * i + 2];
    } else if (a === 0) {
      rgb[o] = rgb[o + 1] = rgb[o + 2] = 255;
    } else {
      throw new NotHashable('semi_transparent', 'semi-transparent pixels cannot be read exactly here');
    }
  }
  return { pixels: rgb, width, height };
}

/** Formats whose browser decode equals Pillow's (checked by tests/browser/test_hasher_identity.py). */
const BROWSER_FORMATS = new Set(['webp', 'gif', 'bmp', 'avif']);

/**
 * The pixel source of an image file, or null when the bytes are not an image format we
 * know (then the caller tries video). Throws NotHashable or ImageError.
 */
export function imageSource(bytes, blob) {
  const format = sniffImage(bytes);
  if (format === null) return null;
  if (bytes.length > MAX_FILE_BYTES) {
    throw new ImageError('file_too_large', 'image files over 200 MiB are refused');
  }
  if (format === 'jpeg') return jpegSource(bytes);
  if (format === 'png') {
    const { exif, xmp } = pngExif(bytes);
    const orientation = orientationOf(exif, xmp);
    return pixelSource(async () => {
      try {
        return orient(await decodePng(bytes), orientation);
      } catch (err) {
        if (err instanceof BadPng) throw new ImageError('decode_failed', `cannot decode the PNG (${err.message})`);
        throw err;
      }
    });
  }
  if (BROWSER_FORMATS.has(format)) return pixelSource(() => browserPixels(blob, format));
  throw new NotHashable('format_not_reproducible', `${format.toUpperCase()} images cannot be hashed identically in the browser`);
}
