// Video fingerprints: one PDQ hash per second, following src/takedown/hashing/video.py.
//
// Frames come from WebCodecs' VideoDecoder fed by mp4.js (H.264 in MP4/MOV; other codecs
// and containers raise NotHashable). H.264 decoding is bit-exact by the standard, so the YUV
// planes equal FFmpeg's; the YUV -> RGB step reproduces the conversion PyAV's swscale does on
// x86 (the SSSE3 yuv420 -> rgb24 path: 16-bit fixed point, nearest chroma) so most frames
// are bit-identical; the browser tests report how many.
//
// The frame rule: the frame shown at t = 0, 1, 2, ... s from the first decoded frame's
// presentation time (the last frame with pts <= t), decoded once in order, at most 3600
// hashes; the last frame's interval runs to its own end (pts + duration).

import { canonicalFromRgb } from './canonical.js';
import { NotHashable } from './decode.js';
import { BadMp4, demuxVideoTrack, looksLikeMp4 } from './mp4.js';
import { pdqFromCanonical } from './pdq.js';

export const MAX_VIDEO_FRAMES = 3600;
export const MAX_VIDEO_BYTES = 4 * 1024 ** 3;
const TRUNCATION_TOLERANCE_SECONDS = 1;

export class VideoError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Magic numbers of video containers FFmpeg reads but this demuxer does not. */
export function otherVideoContainer(b) {
  const s = (at, n) => String.fromCharCode(...b.subarray(at, at + n));
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return 'matroska';
  if (s(0, 4) === 'RIFF' && s(8, 4) === 'AVI ') return 'avi';
  if (s(0, 3) === 'FLV') return 'flv';
  if (s(0, 4) === 'OggS') return 'ogg';
  if (b[0] === 0x30 && b[1] === 0x26 && b[2] === 0xb2 && b[3] === 0x75) return 'asf';
  if (b[0] === 0 && b[1] === 0 && b[2] === 1 && (b[3] === 0xba || b[3] === 0xb3)) return 'mpeg';
  if (b[0] === 0x47 && b.length > 376 && b[188] === 0x47 && b[376] === 0x47) return 'mpegts';
  return null;
}

export function isVideo(b) {
  return looksLikeMp4(b) || otherVideoContainer(b) !== null;
}

// ---------------------------------------------------------------- YUV -> RGB (swscale)

const r16 = (x) => Math.floor((x + 32768) / 65536);
const CY = Math.floor((65536 * 255) / 219);
// BT.601 (swscale's default table), limited range: SIMD coefficients (x86 yuv_2_rgb.asm).
const Y_COEFF = r16(CY * 8192);
const U2G = r16(-25675 * 8192);
const V2G = r16(-53279 * 8192);
const V2R = r16(104597 * 8192);
const U2B = r16(132201 * 8192);
const mulhi = (a, b) => (a * b) >> 16;
const clamp = (v) => (v < 0 ? 0 : v > 255 ? 255 : v);

/** I420 planes to RGB as swscale's x86 yuv420 -> rgb24 converter computes it. */
export function yuv420ToRgb(y, u, v, width, height, yStride, cStride) {
  const out = new Uint8Array(width * height * 3);
  const ug = new Int32Array(256);
  const vg = new Int32Array(256);
  const ub = new Int32Array(256);
  const vr = new Int32Array(256);
  const yy = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const c = (i << 3) - 1024;
    ug[i] = mulhi(c, U2G);
    vg[i] = mulhi(c, V2G);
    ub[i] = mulhi(c, U2B);
    vr[i] = mulhi(c, V2R);
    yy[i] = mulhi((i << 3) - 128, Y_COEFF);
  }
  let o = 0;
  for (let r = 0; r < height; r++) {
    const yRow = r * yStride;
    const cRow = (r >> 1) * cStride;
    for (let c = 0; c < width; c++) {
      const Y = yy[y[yRow + c]];
      const U = u[cRow + (c >> 1)];
      const V = v[cRow + (c >> 1)];
      out[o++] = clamp(Y + vr[V]);
      out[o++] = clamp(Y + ug[U] + vg[V]);
      out[o++] = clamp(Y + ub[U]);
    }
  }
  return out;
}

/** Rotate an RGB image counter-clockwise by k quarter turns (numpy's rot90). */
function rot90(image, k) {
  let { pixels, height: h, width: w } = image;
  for (let t = 0; t < k; t++) {
    const out = new Uint8Array(pixels.length);
    // rot90 (counter-clockwise): new[y][x] = old[x][w - 1 - y]; new is w x h.
    for (let y = 0; y < w; y++) {
      for (let x = 0; x < h; x++) {
        const s = (x * w + (w - 1 - y)) * 3;
        const d = (y * h + x) * 3;
        out[d] = pixels[s];
        out[d + 1] = pixels[s + 1];
        out[d + 2] = pixels[s + 2];
      }
    }
    pixels = out;
    [h, w] = [w, h];
  }
  return { pixels, height: h, width: w };
}

async function framePixels(frame, quarterTurns) {
  const rect = frame.visibleRect;
  const width = rect.width;
  const height = rect.height;
  const format = frame.format;
  let y;
  let u;
  let v;
  let cStride;
  if (format === 'I420' || format === 'I420A') {
    const cw = Math.ceil(width / 2);
    const ch = Math.ceil(height / 2);
    const buf = new Uint8Array(width * height + 2 * cw * ch + (format === 'I420A' ? width * height : 0));
    const layout = await frame.copyTo(buf, { rect });
    y = buf.subarray(layout[0].offset);
    u = buf.subarray(layout[1].offset);
    v = buf.subarray(layout[2].offset);
    cStride = layout[1].stride;
    return rot90({ pixels: yuv420ToRgb(y, u, v, width, height, layout[0].stride, cStride), height, width }, quarterTurns);
  }
  if (format === 'NV12') {
    const cw = Math.ceil(width / 2);
    const ch = Math.ceil(height / 2);
    const buf = new Uint8Array(width * height + 2 * cw * ch);
    const layout = await frame.copyTo(buf, { rect });
    const uv = buf.subarray(layout[1].offset);
    u = new Uint8Array(cw * ch);
    v = new Uint8Array(cw * ch);
    for (let r = 0; r < ch; r++) {
      for (let c = 0; c < cw; c++) {
        u[r * cw + c] = uv[r * layout[1].stride + 2 * c];
        v[r * cw + c] = uv[r * layout[1].stride + 2 * c + 1];
      }
    }
    y = buf.subarray(layout[0].offset);
    return rot90({ pixels: yuv420ToRgb(y, u, v, width, height, layout[0].stride, cw), height, width }, quarterTurns);
  }
  throw new NotHashable('video_pixel_format', `video frames in ${format} cannot be converted identically`);
}

// ---------------------------------------------------------------- the frame rule

class Sampler {
  constructor(timescale, period, quarterTurns) {
    this.timescale = timescale;
    this.period = period; // in timescale units
    this.quarterTurns = quarterTurns;
    this.origin = null;
    this.pending = null;
    this.pendingTime = 0;
    this.pendingDuration = 0;
    this.pendingHash = null;
    this.nextT = 0;
    this.hashes = [];
  }

  get full() {
    return this.hashes.length >= MAX_VIDEO_FRAMES;
  }

  async emitUntil(end, inclusive = false) {
    // Sample time t (seconds) is covered while t * timescale < end (or == end when inclusive).
    while (!this.full) {
      const t = this.nextT * this.timescale;
      if (!(t < end || (inclusive && t === end))) break;
      if (!this.pendingHash) {
        const pixels = await framePixels(this.pending, this.quarterTurns);
        this.pendingHash = pdqFromCanonical(canonicalFromRgb(pixels));
      }
      const h = this.pendingHash;
      this.hashes.push(`${h.hex},${h.quality},${this.nextT.toFixed(3)}`);
      this.nextT += 1;
    }
  }

  async add(frame, pts, duration) {
    if (this.origin === null) this.origin = pts;
    const time = pts - this.origin;
    if (this.pending) {
      await this.emitUntil(time);
      this.pending.close();
    }
    this.pending = frame;
    this.pendingTime = time;
    this.pendingDuration = duration;
    this.pendingHash = null;
  }

  async finish() {
    if (!this.pending) return null;
    const duration = this.pendingDuration || this.period;
    const end = this.pendingTime + duration;
    await this.emitUntil(end, duration === 0);
    this.pending.close();
    this.pending = null;
    return end;
  }

  discard() {
    if (this.pending) this.pending.close();
    this.pending = null;
  }
}

/**
 * vPDQ lines of a video file (Blob). `onProgress(done, total)` with total = the number of
 * samples. Throws NotHashable (codec/container this browser cannot decode identically) or
 * VideoError (damaged or refused).
 */
export async function videoHashes(blob, onProgress = () => {}) {
  if (blob.size > MAX_VIDEO_BYTES) {
    throw new VideoError('file_too_large', 'video files over 4 GiB are refused');
  }
  const head = new Uint8Array(await blob.slice(0, 1024).arrayBuffer());
  const other = otherVideoContainer(head);
  if (other) throw new NotHashable('video_container', `${other} videos cannot be decoded here`);
  let track;
  try {
    track = await demuxVideoTrack(blob);
  } catch (err) {
    if (err instanceof BadMp4) throw new VideoError('decode_failed', `not a readable video (${err.message})`);
    throw err;
  }
  if (track.unsupported) {
    throw new NotHashable('video_codec', `${track.unsupported} video cannot be decoded identically here`);
  }
  if (typeof VideoDecoder === 'undefined') {
    throw new NotHashable('video_codec', 'this browser has no video decoder (WebCodecs)');
  }
  const config = {
    codec: track.codec,
    description: track.description,
    codedWidth: track.codedWidth,
    codedHeight: track.codedHeight,
    hardwareAcceleration: 'prefer-software',
  };
  const support = await VideoDecoder.isConfigSupported(config).catch(() => ({ supported: false }));
  if (!support.supported) {
    throw new NotHashable('video_codec', `this browser cannot decode ${track.codec} video`);
  }
  const { samples, timescale } = track;
  if (!samples.length) throw new VideoError('decode_failed', 'no frame of the video could be decoded');
  const totalTicks = samples.reduce((s, x) => s + x.duration, 0);
  const period = totalTicks > 0 ? totalTicks / samples.length : 0;
  const quarterTurns = (((Math.round(track.rotation / 90) % 4) + 4) % 4);
  const sampler = new Sampler(timescale, period, quarterTurns);
  const durationOf = new Map(samples.map((s) => [s.pts, s.duration]));

  const ready = [];
  let failure = null;
  let wake = null;
  const decoder = new VideoDecoder({
    output: (frame) => {
      ready.push(frame);
      if (wake) wake();
    },
    error: (e) => {
      failure = e;
      if (wake) wake();
    },
  });
  decoder.configure(config);
  const drain = async () => {
    while (ready.length) {
      const frame = ready.shift();
      const pts = frame.timestamp;
      if (pts < 0 || sampler.full) {
        frame.close();
        continue;
      }
      await sampler.add(frame, pts, durationOf.get(pts) || 0);
    }
  };
  let decodedSamples = 0;
  try {
    for (let i = 0; i < samples.length && !sampler.full; i++) {
      const s = samples[i];
      if (s.offset + s.size > blob.size) break; // truncated: the rest is missing
      const data = new Uint8Array(await blob.slice(s.offset, s.offset + s.size).arrayBuffer());
      decoder.decode(new EncodedVideoChunk({ type: s.key ? 'key' : 'delta', timestamp: s.pts, duration: s.duration, data }));
      decodedSamples++;
      while (decoder.decodeQueueSize > 8 && !failure) {
        await new Promise((resolve) => {
          wake = resolve;
          decoder.addEventListener('dequeue', resolve, { once: true });
        });
        wake = null;
        await drain();
      }
      await drain();
      if (failure) break;
      if (i % 15 === 0) onProgress(i, samples.length);
    }
    if (!failure && decoder.state === 'configured') await decoder.flush().catch((e) => (failure = e));
    await drain();
  } finally {
    for (const f of ready) f.close();
    if (decoder.state !== 'closed') decoder.close();
  }
  if (failure && sampler.origin === null) {
    sampler.discard();
    throw new VideoError('decode_failed', `the video could not be decoded (${failure.message || failure})`);
  }
  if (sampler.full) {
    sampler.discard();
  } else {
    const end = await sampler.finish();
    if (end === null) throw new VideoError('decode_failed', 'no frame of the video could be decoded');
    if (end / timescale + TRUNCATION_TOLERANCE_SECONDS < track.duration / timescale && decodedSamples < samples.length) {
      throw new VideoError('truncated', `the video is truncated: decoded ${(end / timescale).toFixed(1)} s`);
    }
  }
  onProgress(samples.length, samples.length);
  return sampler.hashes;
}
