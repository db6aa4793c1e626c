// A small ISO-BMFF (MP4, MOV, 3GP, M4V) demuxer: enough to feed the first video track's
// samples to WebCodecs' VideoDecoder in decode order, with presentation times as FFmpeg's
// mov demuxer reports them (composition offsets, edit-list start), and the display rotation.

export class BadMp4 extends Error {}

const TOP_LEVEL = new Set(['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'pnot', 'uuid', 'meta']);

const type4 = (b, at) => String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);

/** True when the bytes start like an ISO-BMFF file (ftyp, or a QuickTime top-level box). */
export function looksLikeMp4(b) {
  return b.length >= 8 && TOP_LEVEL.has(type4(b, 4));
}

/** Iterate the boxes of `b` in [start, end): yields {type, start (payload), end}. */
function* boxes(b, start, end) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = start;
  while (pos + 8 <= end) {
    let size = v.getUint32(pos);
    const type = type4(b, pos + 4);
    let header = 8;
    if (size === 1) {
      if (pos + 16 > end) throw new BadMp4('truncated box');
      size = Number(v.getBigUint64(pos + 8));
      header = 16;
    } else if (size === 0) size = end - pos;
    if (size < header || pos + size > end) throw new BadMp4(`bad box size (${type})`);
    yield { type, start: pos + header, end: pos + size };
    pos += size;
  }
}

function child(b, box, type) {
  for (const c of boxes(b, box.start, box.end)) if (c.type === type) return c;
  return null;
}

/** Read the top-level box headers from a Blob and return the moov box's bytes. */
async function readMoov(blob) {
  let pos = 0;
  while (pos + 8 <= blob.size) {
    const head = new Uint8Array(await blob.slice(pos, pos + 16).arrayBuffer());
    const v = new DataView(head.buffer);
    let size = v.getUint32(0);
    const type = type4(head, 4);
    if (size === 1) size = Number(v.getBigUint64(8));
    else if (size === 0) size = blob.size - pos;
    if (size < 8) throw new BadMp4('bad top-level box');
    if (type === 'moov') {
      if (pos + size > blob.size) throw new BadMp4('the movie header is truncated');
      return new Uint8Array(await blob.slice(pos, pos + size).arrayBuffer());
    }
    pos += size;
  }
  throw new BadMp4('no movie header (moov)');
}

/**
 * The first video track: {codec, description, codedWidth, codedHeight, timescale, rotation,
 * samples: [{offset, size, dts, pts, duration, key}] in decode order, duration}.
 * Throws BadMp4; returns {unsupported: fourcc} for a codec other than H.264.
 */
export async function demuxVideoTrack(blob) {
  const moovBytes = await readMoov(blob);
  const b = moovBytes;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const moov = { start: 8, end: b.length };
  for (const trak of boxes(b, moov.start, moov.end)) {
    if (trak.type !== 'trak') continue;
    const mdia = child(b, trak, 'mdia');
    const hdlr = mdia && child(b, mdia, 'hdlr');
    if (!hdlr || type4(b, hdlr.start + 8) !== 'vide') continue;
    return readTrack(b, v, trak, mdia);
  }
  throw new BadMp4('the file has no video track');
}

function readTrack(b, v, trak, mdia) {
  const tkhd = child(b, trak, 'tkhd');
  const mdhd = child(b, mdia, 'mdhd');
  const minf = child(b, mdia, 'minf');
  const stbl = minf && child(b, minf, 'stbl');
  if (!tkhd || !mdhd || !stbl) throw new BadMp4('incomplete track header');
  const mdhdV1 = b[mdhd.start] === 1;
  const timescale = v.getUint32(mdhd.start + (mdhdV1 ? 20 : 12));
  const duration = mdhdV1
    ? Number(v.getBigUint64(mdhd.start + 24))
    : v.getUint32(mdhd.start + 16);
  if (!timescale) throw new BadMp4('track timescale is 0');

  // Display matrix (a, b / c, d in 16.16) -> FFmpeg's av_display_rotation_get.
  const m = tkhd.start + (b[tkhd.start] === 1 ? 52 : 40);
  const ma = v.getInt32(m) / 65536;
  const mb = v.getInt32(m + 4) / 65536;
  const mc = v.getInt32(m + 12) / 65536;
  const md = v.getInt32(m + 16) / 65536;
  const s0 = Math.hypot(ma, mc);
  const s1 = Math.hypot(mb, md);
  const rotation = s0 && s1 ? (-Math.atan2(mb / s1, ma / s0) * 180) / Math.PI : 0;

  // Edit list: FFmpeg starts presentation at the first edit's media time.
  let mediaStart = 0;
  const edts = child(b, trak, 'edts');
  const elst = edts && child(b, edts, 'elst');
  if (elst) {
    const ver = b[elst.start];
    const count = v.getUint32(elst.start + 4);
    let p = elst.start + 8;
    for (let i = 0; i < count; i++) {
      const mediaTime = ver === 1 ? Number(v.getBigInt64(p + 8)) : v.getInt32(p + 4);
      p += ver === 1 ? 20 : 12;
      if (mediaTime >= 0) {
        mediaStart = mediaTime;
        break;
      }
    }
  }

  const stsd = child(b, stbl, 'stsd');
  if (!stsd) throw new BadMp4('no sample description');
  const entry = { start: stsd.start + 8 + 8, type: type4(b, stsd.start + 12) };
  const entrySize = v.getUint32(stsd.start + 8);
  entry.end = stsd.start + 8 + entrySize;
  if (entry.type !== 'avc1' && entry.type !== 'avc3') return { unsupported: entry.type };
  const codedWidth = v.getUint16(entry.start + 24);
  const codedHeight = v.getUint16(entry.start + 26);
  const avcC = child(b, { start: entry.start + 78, end: entry.end }, 'avcC');
  if (!avcC) throw new BadMp4('no avcC');
  const description = b.slice(avcC.start, avcC.end);
  const hex = (x) => x.toString(16).padStart(2, '0');
  const codec = `avc1.${hex(description[1])}${hex(description[2])}${hex(description[3])}`;

  const table = (name) => child(b, stbl, name);
  const sizes = [];
  const stsz = table('stsz');
  const stz2 = table('stz2');
  if (stsz) {
    const fixed = v.getUint32(stsz.start + 4);
    const count = v.getUint32(stsz.start + 8);
    for (let i = 0; i < count; i++) sizes.push(fixed || v.getUint32(stsz.start + 12 + 4 * i));
  } else if (stz2) {
    const field = b[stz2.start + 7];
    const count = v.getUint32(stz2.start + 8);
    for (let i = 0; i < count; i++) {
      const p = stz2.start + 12;
      if (field === 16) sizes.push(v.getUint16(p + 2 * i));
      else if (field === 8) sizes.push(b[p + i]);
      else sizes.push((b[p + (i >> 1)] >> (i & 1 ? 0 : 4)) & 15);
    }
  } else throw new BadMp4('no sample sizes');
  const n = sizes.length;

  const chunkOffsets = [];
  const stco = table('stco');
  const co64 = table('co64');
  if (stco) {
    const count = v.getUint32(stco.start + 4);
    for (let i = 0; i < count; i++) chunkOffsets.push(v.getUint32(stco.start + 8 + 4 * i));
  } else if (co64) {
    const count = v.getUint32(co64.start + 4);
    for (let i = 0; i < count; i++) chunkOffsets.push(Number(v.getBigUint64(co64.start + 8 + 8 * i)));
  } else throw new BadMp4('no chunk offsets');

  const stsc = table('stsc');
  if (!stsc) throw new BadMp4('no sample-to-chunk table');
  const stscCount = v.getUint32(stsc.start + 4);
  const runs = [];
  for (let i = 0; i < stscCount; i++) {
    const p = stsc.start + 8 + 12 * i;
    runs.push([v.getUint32(p) - 1, v.getUint32(p + 4)]);
  }

  const offsets = new Array(n);
  let sample = 0;
  for (let r = 0; r < runs.length && sample < n; r++) {
    const [firstChunk, perChunk] = runs[r];
    const lastChunk = r + 1 < runs.length ? runs[r + 1][0] : chunkOffsets.length;
    for (let c = firstChunk; c < lastChunk && sample < n; c++) {
      let off = chunkOffsets[c];
      for (let k = 0; k < perChunk && sample < n; k++) {
        offsets[sample] = off;
        off += sizes[sample++];
      }
    }
  }
  if (sample < n) throw new BadMp4('sample table is inconsistent');

  const stts = table('stts');
  if (!stts) throw new BadMp4('no time-to-sample table');
  const dts = new Array(n);
  const durations = new Array(n);
  let t = 0;
  let i = 0;
  const sttsCount = v.getUint32(stts.start + 4);
  for (let e = 0; e < sttsCount && i < n; e++) {
    const count = v.getUint32(stts.start + 8 + 8 * e);
    const delta = v.getUint32(stts.start + 12 + 8 * e);
    for (let k = 0; k < count && i < n; k++, i++) {
      dts[i] = t;
      durations[i] = delta;
      t += delta;
    }
  }
  for (; i < n; i++) {
    dts[i] = t;
    durations[i] = 0;
  }

  const ctts = table('ctts');
  const cts = new Array(n).fill(0);
  if (ctts) {
    const ver = b[ctts.start];
    const count = v.getUint32(ctts.start + 4);
    let k = 0;
    for (let e = 0; e < count && k < n; e++) {
      const c = v.getUint32(ctts.start + 8 + 8 * e);
      const off = ver === 1 ? v.getInt32(ctts.start + 12 + 8 * e) : v.getUint32(ctts.start + 12 + 8 * e);
      for (let j = 0; j < c && k < n; j++) cts[k++] = off;
    }
  }

  const stss = table('stss');
  const key = new Array(n).fill(!stss);
  if (stss) {
    const count = v.getUint32(stss.start + 4);
    for (let e = 0; e < count; e++) {
      const s = v.getUint32(stss.start + 8 + 4 * e) - 1;
      if (s >= 0 && s < n) key[s] = true;
    }
  }

  const samples = [];
  for (let s = 0; s < n; s++) {
    samples.push({
      offset: offsets[s],
      size: sizes[s],
      dts: dts[s],
      pts: dts[s] + cts[s] - mediaStart,
      duration: durations[s],
      key: key[s],
    });
  }
  return { codec, description, codedWidth, codedHeight, timescale, rotation, samples, duration };
}
