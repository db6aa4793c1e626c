// A PNG decoder that yields exactly the pixels Pillow's PngImagePlugin yields, followed by
// the RGB rule of decode.py (16-bit -> high byte, transparency composited on white with
// integer arithmetic). Written here because a 2D canvas stores premultiplied 8-bit colour,
// which loses the exact colour of semi-transparent pixels, and because browsers apply gamma
// and 16-bit rounding differently. Inflate is the browser's own DecompressionStream.
// First frame only (the IDAT image, as Pillow shows for APNG). No CRC checks.

export class BadPng extends Error {}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

export function isPng(bytes) {
  return SIGNATURE.every((b, i) => bytes[i] === b);
}

async function inflate(chunks) {
  const stream = new Blob(chunks).stream().pipeThrough(new DecompressionStream('deflate'));
  try {
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    throw new BadPng('the image data is damaged (inflate failed)');
  }
}

function parse(bytes) {
  if (!isPng(bytes)) throw new BadPng('not a PNG');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  const png = { idat: [], palette: null, trns: null };
  while (pos + 8 <= bytes.length) {
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    const data = bytes.subarray(pos + 8, pos + 8 + length);
    if (pos + 12 + length > bytes.length && type !== 'IEND') {
      if (type !== 'IDAT') throw new BadPng('truncated chunk');
    }
    pos += 12 + length;
    if (type === 'IHDR') {
      const d = new DataView(data.buffer, data.byteOffset, data.byteLength);
      png.width = d.getUint32(0);
      png.height = d.getUint32(4);
      png.depth = data[8];
      png.colorType = data[9];
      png.interlace = data[12];
    } else if (type === 'PLTE') png.palette = data;
    else if (type === 'tRNS') png.trns = data;
    else if (type === 'IDAT') png.idat.push(data);
    else if (type === 'IEND') break;
  }
  if (!png.width || !png.height) throw new BadPng('the image has no pixels');
  if (!png.idat.length) throw new BadPng('no image data');
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[png.colorType];
  const depths = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
  if (!channels || !depths[png.colorType].includes(png.depth) || png.interlace > 1) {
    throw new BadPng('unsupported PNG header');
  }
  png.channels = channels;
  return png;
}

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Unfilter one (sub)image of w x h from `raw` at `pos`; returns [rows, next pos]. */
function unfilter(raw, pos, w, h, bpp, rowBytes) {
  const out = new Uint8Array(rowBytes * h);
  for (let y = 0; y < h; y++) {
    if (pos + 1 + rowBytes > raw.length) throw new BadPng('the image data is truncated');
    const filter = raw[pos++];
    const row = y * rowBytes;
    const prev = row - rowBytes;
    for (let x = 0; x < rowBytes; x++) {
      const v = raw[pos + x];
      const a = x >= bpp ? out[row + x - bpp] : 0;
      const b = y > 0 ? out[prev + x] : 0;
      const c = x >= bpp && y > 0 ? out[prev + x - bpp] : 0;
      let r;
      if (filter === 0) r = v;
      else if (filter === 1) r = v + a;
      else if (filter === 2) r = v + b;
      else if (filter === 3) r = v + ((a + b) >> 1);
      else if (filter === 4) r = v + paeth(a, b, c);
      else throw new BadPng('bad filter type');
      out[row + x] = r;
    }
    pos += rowBytes;
  }
  return [out, pos];
}

/** Sample s (0-based) of a row in the file's bit depth, as Pillow's unpacker reports it. */
function sampleReader(depth) {
  if (depth === 16) return (row, i) => row[2 * i]; // high byte
  if (depth === 8) return (row, i) => row[i];
  const perByte = 8 / depth;
  const mask = (1 << depth) - 1;
  return (row, i) => (row[Math.floor(i / perByte)] >> (8 - depth * ((i % perByte) + 1))) & mask;
}

/**
 * Decode to {pixels: RGB Uint8Array, width, height} by Pillow's modes and decode.RGB_RULE.
 */
export async function decodePng(bytes) {
  const png = parse(bytes);
  const { width, height, depth, colorType, channels } = png;
  const raw = await inflate(png.idat);
  const bitsPerPixel = depth * channels;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  // samples[i * channels + ch] in Pillow's 8-bit mode values, plus the raw 16-bit ones for tRNS
  const samples = new Uint8Array(width * height * channels);
  const read = sampleReader(depth);
  const place = (rows, w, h, rowBytes, x0, dx, y0, dy) => {
    for (let y = 0; y < h; y++) {
      const row = rows.subarray(y * rowBytes, (y + 1) * rowBytes);
      for (let x = 0; x < w; x++) {
        const o = ((y0 + y * dy) * width + x0 + x * dx) * channels;
        for (let ch = 0; ch < channels; ch++) samples[o + ch] = read(row, x * channels + ch);
      }
    }
  };
  if (png.interlace === 0) {
    const rowBytes = Math.ceil((width * bitsPerPixel) / 8);
    const [rows] = unfilter(raw, 0, width, height, bpp, rowBytes);
    place(rows, width, height, rowBytes, 0, 1, 0, 1);
  } else {
    const passes = [
      [0, 8, 0, 8],
      [4, 8, 0, 8],
      [0, 4, 4, 8],
      [2, 4, 0, 4],
      [0, 2, 2, 4],
      [1, 2, 0, 2],
      [0, 1, 1, 2],
    ];
    let pos = 0;
    for (const [x0, dx, y0, dy] of passes) {
      const w = Math.ceil((width - x0) / dx);
      const h = Math.ceil((height - y0) / dy);
      if (w <= 0 || h <= 0) continue;
      const rowBytes = Math.ceil((w * bitsPerPixel) / 8);
      let rows;
      [rows, pos] = unfilter(raw, pos, w, h, bpp, rowBytes);
      place(rows, w, h, rowBytes, x0, dx, y0, dy);
    }
  }
  return { pixels: toRgb(png, samples), width, height };
}

const u16 = (d, i) => (d[i] << 8) | d[i + 1];
const overWhite = (c, a) => Math.floor((c * a + 255 * (255 - a) + 127) / 255);

function toRgb(png, samples) {
  const { width, height, depth, colorType, trns } = png;
  const n = width * height;
  const rgb = new Uint8Array(n * 3);
  if (colorType === 0) {
    // Pillow: 1-bit -> "1" (0/255), 2/4-bit -> "L" scaled, 8 -> "L", 16 -> "I;16" (high byte,
    // transparency ignored). A tRNS grey value marks fully transparent pixels (compared with
    // the mode's values, as Pillow's convert_transparent does).
    const scale = depth === 1 ? 255 : depth === 2 ? 85 : depth === 4 ? 17 : 1;
    const key = trns && depth !== 16 && trns.length >= 2 ? u16(trns, 0) : -1;
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      let v = samples[i] * scale;
      if (v === key) v = 255;
      rgb[o] = rgb[o + 1] = rgb[o + 2] = v;
    }
  } else if (colorType === 2) {
    const key = trns && trns.length >= 6 ? [u16(trns, 0), u16(trns, 2), u16(trns, 4)] : null;
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      const r = samples[o];
      const g = samples[o + 1];
      const b = samples[o + 2];
      if (key && r === key[0] && g === key[1] && b === key[2]) {
        rgb[o] = rgb[o + 1] = rgb[o + 2] = 255;
      } else {
        rgb[o] = r;
        rgb[o + 1] = g;
        rgb[o + 2] = b;
      }
    }
  } else if (colorType === 3) {
    const pal = png.palette || new Uint8Array(0);
    const alpha = new Uint8Array(256).fill(255);
    if (trns) alpha.set(trns.subarray(0, 256));
    const hasAlpha = !!trns;
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      const idx = samples[i];
      const r = idx * 3 < pal.length ? pal[idx * 3] : 0;
      const g = idx * 3 + 1 < pal.length ? pal[idx * 3 + 1] : 0;
      const b = idx * 3 + 2 < pal.length ? pal[idx * 3 + 2] : 0;
      if (hasAlpha) {
        const a = alpha[idx];
        rgb[o] = overWhite(r, a);
        rgb[o + 1] = overWhite(g, a);
        rgb[o + 2] = overWhite(b, a);
      } else {
        rgb[o] = r;
        rgb[o + 1] = g;
        rgb[o + 2] = b;
      }
    }
  } else if (colorType === 4) {
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      const v = overWhite(samples[2 * i], samples[2 * i + 1]);
      rgb[o] = rgb[o + 1] = rgb[o + 2] = v;
    }
  } else {
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      const a = samples[4 * i + 3];
      rgb[o] = overWhite(samples[4 * i], a);
      rgb[o + 1] = overWhite(samples[4 * i + 1], a);
      rgb[o + 2] = overWhite(samples[4 * i + 2], a);
    }
  }
  return rgb;
}
