// A JPEG decoder that reproduces libjpeg-turbo (what Pillow links) bit for bit, including
// its DCT-domain scaling (1/2, 1/4, 1/8), so the browser sees the same canonical pixels as
// `canonical.canonical_image`. Browsers do not expose a scaled libjpeg decode, hence this file.
//
// Follows libjpeg-turbo 3.x with Pillow's settings (JDCT_ISLOW, fancy upsampling on):
// Huffman baseline/extended (SOF0/SOF1) and progressive (SOF2) entropy decoding;
// jidctint.c's jpeg_idct_islow and jidctred.c's 4x4/2x2/1x1 reduced IDCTs; jdmaster.c's
// choice of a larger IDCT for subsampled components; jdsample.c's upsamplers (fancy only when
// the luma IDCT is larger than 1x1); jdcolor.c's YCbCr tables; Pillow's CMYK handling.
// Arithmetic-coded, lossless, hierarchical and 12/16-bit JPEGs raise `UnsupportedJpeg`.

export class UnsupportedJpeg extends Error {}
export class BadJpeg extends Error {}

const NATURAL = new Int32Array(64 + 16);
{
  const zigzag = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27,
    20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58,
    59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
  ];
  zigzag.forEach((v, i) => (NATURAL[i] = v));
  for (let i = 64; i < 80; i++) NATURAL[i] = 63; // corrupt data never writes out of the block
}

// ---------------------------------------------------------------- markers and headers

/** Parse the headers and decode every scan's coefficients. */
export function parseJpeg(bytes) {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (data[0] !== 0xff || data[1] !== 0xd8) throw new BadJpeg('not a JPEG (no SOI marker)');
  const jpeg = {
    data,
    frame: null,
    quant: [],
    dcTables: [],
    acTables: [],
    restartInterval: 0,
    exif: null,
    xmp: null,
    mp: null,
    adobe: null,
    jfif: false,
    hdrgm: false,
    progressive: false,
    sawEoi: false,
  };
  let pos = 2;
  while (pos < data.length) {
    if (data[pos] !== 0xff) {
      pos++; // junk between markers (libjpeg warns and skips)
      continue;
    }
    while (pos < data.length && data[pos] === 0xff) pos++;
    if (pos >= data.length) break;
    const marker = data[pos++];
    if (marker === 0xd9) {
      jpeg.sawEoi = true;
      break;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue;
    if (pos + 2 > data.length) throw new BadJpeg('truncated marker');
    const length = (data[pos] << 8) | data[pos + 1];
    if (length < 2 || pos + length > data.length) throw new BadJpeg('truncated marker segment');
    const seg = data.subarray(pos + 2, pos + length);
    pos += length;
    if (marker === 0xda) {
      pos = readScan(jpeg, seg, pos);
      continue;
    }
    readSegment(jpeg, marker, seg);
  }
  if (!jpeg.frame) throw new BadJpeg('no frame header');
  if (!jpeg.frame.scans) throw new BadJpeg('no image data');
  return jpeg;
}

const startsWith = (seg, text) => {
  if (seg.length < text.length) return false;
  for (let i = 0; i < text.length; i++) if (seg[i] !== text.charCodeAt(i)) return false;
  return true;
};

function readSegment(jpeg, marker, seg) {
  if (marker === 0xe0 && startsWith(seg, 'JFIF\0')) jpeg.jfif = true;
  else if (marker === 0xe1 && startsWith(seg, 'Exif\0\0')) {
    // Pillow appends later Exif segments (without their 6-byte header) to the first.
    if (jpeg.exif) {
      const joined = new Uint8Array(jpeg.exif.length + seg.length - 6);
      joined.set(jpeg.exif);
      joined.set(seg.subarray(6), jpeg.exif.length);
      jpeg.exif = joined;
    } else jpeg.exif = seg.slice();
  } else if (marker === 0xe1 && startsWith(seg, 'http://ns.adobe.com/xap/1.0/\0')) {
    jpeg.xmp = seg.slice(29);
  } else if (marker === 0xe2 && startsWith(seg, 'MPF\0')) jpeg.mp = seg.slice(4);
  else if (marker === 0xee && startsWith(seg, 'Adobe') && seg.length >= 12) {
    jpeg.adobe = { transform: seg[11] };
  } else if (marker === 0xdb) readQuant(jpeg, seg);
  else if (marker === 0xc4) readHuffman(jpeg, seg);
  else if (marker === 0xdd) {
    if (seg.length < 2) throw new BadJpeg('bad DRI');
    jpeg.restartInterval = (seg[0] << 8) | seg[1];
  } else if (marker === 0xc0 || marker === 0xc1 || marker === 0xc2) readFrame(jpeg, marker, seg);
  else if (marker >= 0xc3 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
    throw new UnsupportedJpeg('arithmetic-coded, lossless or hierarchical JPEG');
  }
  if (marker === 0xe1 && indexOfText(seg, ' hdrgm:Version="') >= 0) jpeg.hdrgm = true;
}

function indexOfText(seg, text) {
  outer: for (let i = 0; i + text.length <= seg.length; i++) {
    for (let j = 0; j < text.length; j++) if (seg[i + j] !== text.charCodeAt(j)) continue outer;
    return i;
  }
  return -1;
}

function readQuant(jpeg, seg) {
  let p = 0;
  while (p < seg.length) {
    const pq = seg[p] >> 4;
    const tq = seg[p] & 15;
    p++;
    if (tq > 3) throw new BadJpeg('bad DQT');
    const table = new Int32Array(64);
    for (let i = 0; i < 64; i++) {
      if (pq) {
        table[NATURAL[i]] = (seg[p] << 8) | seg[p + 1];
        p += 2;
      } else table[NATURAL[i]] = seg[p++];
    }
    if (p > seg.length) throw new BadJpeg('truncated DQT');
    jpeg.quant[tq] = table;
  }
}

function readHuffman(jpeg, seg) {
  let p = 0;
  while (p < seg.length) {
    const tc = seg[p] >> 4;
    const th = seg[p] & 15;
    p++;
    if (th > 3 || tc > 1) throw new BadJpeg('bad DHT');
    const counts = seg.subarray(p, p + 16);
    p += 16;
    let total = 0;
    for (const c of counts) total += c;
    if (total > 256 || p + total > seg.length) throw new BadJpeg('bad DHT');
    const symbols = seg.subarray(p, p + total);
    p += total;
    (tc === 0 ? jpeg.dcTables : jpeg.acTables)[th] = buildHuffman(counts, symbols);
  }
}

const LOOKAHEAD = 9;

function buildHuffman(counts, symbols) {
  const lookup = new Int32Array(1 << LOOKAHEAD); // (length << 8) | symbol, 0 = longer code
  const maxcode = new Int32Array(18).fill(-1);
  const valptr = new Int32Array(17);
  const mincode = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    valptr[len] = k;
    mincode[len] = code;
    for (let i = 0; i < counts[len - 1]; i++, k++, code++) {
      if (len <= LOOKAHEAD) {
        const shift = LOOKAHEAD - len;
        for (let j = 0; j < 1 << shift; j++) lookup[(code << shift) | j] = (len << 8) | symbols[k];
      }
    }
    maxcode[len] = counts[len - 1] ? code - 1 : -1;
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff;
  return { lookup, maxcode, valptr, mincode, symbols: Uint8Array.from(symbols) };
}

function readFrame(jpeg, marker, seg) {
  if (jpeg.frame) throw new BadJpeg('two frame headers');
  const precision = seg[0];
  if (precision !== 8) throw new UnsupportedJpeg(`${precision}-bit JPEG`);
  const height = (seg[1] << 8) | seg[2];
  const width = (seg[3] << 8) | seg[4];
  const count = seg[5];
  if (!width || !height) throw new BadJpeg('image has no pixels (or DNL height, unsupported)');
  if (count < 1 || count > 4 || seg.length < 6 + 3 * count) throw new BadJpeg('bad SOF');
  const components = [];
  let hmax = 1;
  let vmax = 1;
  for (let i = 0; i < count; i++) {
    const id = seg[6 + 3 * i];
    const h = seg[7 + 3 * i] >> 4;
    const v = seg[7 + 3 * i] & 15;
    const tq = seg[8 + 3 * i];
    if (h < 1 || h > 4 || v < 1 || v > 4 || tq > 3) throw new BadJpeg('bad sampling factors');
    components.push({ id, h, v, tq, quant: null, pred: 0 });
    hmax = Math.max(hmax, h);
    vmax = Math.max(vmax, v);
  }
  const mcusPerLine = Math.ceil(width / (8 * hmax));
  const mcusPerColumn = Math.ceil(height / (8 * vmax));
  for (const c of components) {
    c.width = Math.ceil((width * c.h) / hmax);
    c.height = Math.ceil((height * c.v) / vmax);
    c.blocksPerLine = Math.ceil(c.width / 8);
    c.blocksPerColumn = Math.ceil(c.height / 8);
    c.blocksPerLineAlloc = mcusPerLine * c.h;
    c.blocksPerColumnAlloc = mcusPerColumn * c.v;
    c.coefs = new Int16Array(c.blocksPerLineAlloc * c.blocksPerColumnAlloc * 64);
  }
  jpeg.progressive = marker === 0xc2;
  jpeg.frame = { width, height, components, hmax, vmax, mcusPerLine, mcusPerColumn, scans: 0 };
}

// ---------------------------------------------------------------- entropy decoding

function readScan(jpeg, seg, pos) {
  const frame = jpeg.frame;
  if (!frame) throw new BadJpeg('scan before frame header');
  const n = seg[0];
  if (n < 1 || n > 4 || seg.length < 1 + 2 * n + 3) throw new BadJpeg('bad SOS');
  const comps = [];
  for (let i = 0; i < n; i++) {
    const id = seg[1 + 2 * i];
    const c = frame.components.find((x) => x.id === id);
    if (!c) throw new BadJpeg('scan names an unknown component');
    c.dc = jpeg.dcTables[seg[2 + 2 * i] >> 4];
    c.ac = jpeg.acTables[seg[2 + 2 * i] & 15];
    comps.push(c);
  }
  const ss = seg[1 + 2 * n];
  const se = seg[2 + 2 * n];
  const ah = seg[3 + 2 * n] >> 4;
  const al = seg[3 + 2 * n] & 15;
  for (const c of comps) {
    // libjpeg latches a component's quantisation table at its first scan.
    if (!c.quant) {
      if (!jpeg.quant[c.tq]) throw new BadJpeg('missing quantisation table');
      c.quant = Int32Array.from(jpeg.quant[c.tq]);
    }
  }
  if (jpeg.progressive) {
    if (ss > 63 || se > 63 || ss > se || (ss === 0 && se !== 0) || (ss > 0 && n !== 1) || al > 13) {
      throw new BadJpeg('bad progressive scan parameters');
    }
  }
  frame.scans++;
  const reader = new BitReader(jpeg.data, pos);
  decodeScan(jpeg, comps, ss, se, ah, al, reader);
  return reader.end();
}

class BitReader {
  constructor(data, pos) {
    this.data = data;
    this.pos = pos;
    this.buf = 0;
    this.bits = 0;
    this.marker = false;
  }

  fill() {
    const data = this.data;
    while (this.bits <= 24) {
      let byte = 0;
      if (!this.marker && this.pos < data.length) {
        byte = data[this.pos];
        if (byte === 0xff) {
          const next = data[this.pos + 1];
          if (next === 0) this.pos += 2;
          else {
            this.marker = true; // a marker: feed zeros from here on, as libjpeg does
            byte = 0;
          }
        } else this.pos++;
      } else if (!this.marker) {
        this.marker = true;
      }
      this.buf = (this.buf << 8) | byte;
      this.bits += 8;
    }
  }

  bit() {
    if (this.bits < 1) this.fill();
    this.bits--;
    return (this.buf >>> this.bits) & 1;
  }

  get(n) {
    if (n === 0) return 0;
    if (this.bits < n) this.fill();
    this.bits -= n;
    return (this.buf >>> this.bits) & ((1 << n) - 1);
  }

  receiveExtend(s) {
    if (s === 0) return 0;
    const v = this.get(s);
    return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
  }

  decode(table) {
    if (!table) throw new BadJpeg('missing Huffman table');
    if (this.bits < 16) this.fill();
    const peek = (this.buf >>> (this.bits - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1);
    const hit = table.lookup[peek];
    if (hit) {
      this.bits -= hit >> 8;
      return hit & 255;
    }
    let len = LOOKAHEAD + 1;
    let code = (this.buf >>> (this.bits - len)) & ((1 << len) - 1);
    while (code > table.maxcode[len]) {
      len++;
      if (len > 16) {
        this.bits -= 16;
        return 0; // corrupt data: libjpeg warns and uses 0
      }
      code = (this.buf >>> (this.bits - len)) & ((1 << len) - 1);
    }
    this.bits -= len;
    return table.symbols[table.valptr[len] + code - table.mincode[len]];
  }

  /** Discard buffered bits and move past a restart marker, if one is next. */
  restart() {
    this.bits = 0;
    this.buf = 0;
    // Put back whole bytes that were read ahead.
    const data = this.data;
    let p = this.pos;
    while (p < data.length && !(data[p] === 0xff && data[p + 1] >= 0xd0 && data[p + 1] <= 0xd7)) {
      if (data[p] === 0xff && data[p + 1] !== 0 && data[p + 1] !== 0xff) break;
      p++;
    }
    if (data[p] === 0xff && data[p + 1] >= 0xd0 && data[p + 1] <= 0xd7) p += 2;
    this.pos = p;
    this.marker = false;
  }

  /** Where the next marker after this scan begins. */
  end() {
    const data = this.data;
    let p = this.pos;
    while (p < data.length) {
      if (data[p] === 0xff && data[p + 1] !== 0 && !(data[p + 1] >= 0xd0 && data[p + 1] <= 0xd7)) {
        return p;
      }
      p++;
    }
    return p;
  }
}

function decodeScan(jpeg, comps, ss, se, ah, al, reader) {
  const frame = jpeg.frame;
  if (!jpeg.progressive) {
    decodeBaseline(jpeg, comps, reader);
    return;
  }
  let eobrun = 0;
  let decodeBlock;
  if (!jpeg.progressive) {
    decodeBlock = (c, coefs, off) => {
      const t = reader.receiveExtend(reader.decode(c.dc));
      c.pred += t;
      coefs[off] = c.pred;
      const ac = c.ac;
      for (let k = 1; k < 64; k++) {
        const rs = reader.decode(ac);
        const r = rs >> 4;
        const s = rs & 15;
        if (s) {
          k += r;
          coefs[off + NATURAL[k]] = reader.receiveExtend(s);
        } else {
          if (r !== 15) break;
          k += 15;
        }
      }
    };
  } else if (ss === 0 && ah === 0) {
    decodeBlock = (c, coefs, off) => {
      const t = reader.receiveExtend(reader.decode(c.dc));
      c.pred += t;
      coefs[off] = c.pred * (1 << al);
    };
  } else if (ss === 0) {
    decodeBlock = (c, coefs, off) => {
      if (reader.bit()) coefs[off] |= 1 << al;
    };
  } else if (ah === 0) {
    decodeBlock = (c, coefs, off) => {
      if (eobrun > 0) {
        eobrun--;
        return;
      }
      const ac = c.ac;
      for (let k = ss; k <= se; k++) {
        const rs = reader.decode(ac);
        const r = rs >> 4;
        const s = rs & 15;
        if (s) {
          k += r;
          coefs[off + NATURAL[k]] = reader.receiveExtend(s) * (1 << al);
        } else if (r === 15) {
          k += 15;
        } else {
          eobrun = (1 << r) - 1;
          if (r) eobrun += reader.get(r);
          break;
        }
      }
    };
  } else {
    const p1 = 1 << al;
    const m1 = -1 << al;
    decodeBlock = (c, coefs, off) => {
      let k = ss;
      if (eobrun === 0) {
        const ac = c.ac;
        for (; k <= se; k++) {
          const rs = reader.decode(ac);
          let r = rs >> 4;
          let s = rs & 15;
          if (s) {
            s = reader.bit() ? p1 : m1;
          } else if (r !== 15) {
            eobrun = 1 << r;
            if (r) eobrun += reader.get(r);
            break;
          }
          do {
            const z = off + NATURAL[k];
            if (coefs[z] !== 0) {
              if (reader.bit() && (coefs[z] & p1) === 0) coefs[z] += coefs[z] >= 0 ? p1 : m1;
            } else {
              if (--r < 0) break;
            }
            k++;
          } while (k <= se);
          if (s) coefs[off + NATURAL[k]] = s;
        }
      }
      if (eobrun > 0) {
        for (; k <= se; k++) {
          const z = off + NATURAL[k];
          if (coefs[z] !== 0 && reader.bit() && (coefs[z] & p1) === 0) {
            coefs[z] += coefs[z] >= 0 ? p1 : m1;
          }
        }
        eobrun--;
      }
    };
  }

  const restart = jpeg.restartInterval;
  for (const c of comps) c.pred = 0;
  let done = 0;
  const afterUnit = () => {
    done++;
    if (restart && done % restart === 0) {
      reader.restart();
      for (const c of comps) c.pred = 0;
      eobrun = 0;
    }
  };
  if (comps.length === 1) {
    const c = comps[0];
    const coefs = c.coefs;
    for (let by = 0; by < c.blocksPerColumn; by++) {
      for (let bx = 0; bx < c.blocksPerLine; bx++) {
        decodeBlock(c, coefs, (by * c.blocksPerLineAlloc + bx) * 64);
        afterUnit();
      }
    }
    return;
  }
  for (let my = 0; my < frame.mcusPerColumn; my++) {
    for (let mx = 0; mx < frame.mcusPerLine; mx++) {
      for (const c of comps) {
        for (let v = 0; v < c.v; v++) {
          for (let h = 0; h < c.h; h++) {
            const bx = mx * c.h + h;
            const by = my * c.v + v;
            decodeBlock(c, c.coefs, (by * c.blocksPerLineAlloc + bx) * 64);
          }
        }
      }
      afterUnit();
    }
  }
}

/**
 * Sequential (baseline/extended) Huffman scan, the common case, with the bit reader in local
 * variables (the same semantics as BitReader: zeros are fed once a marker is reached).
 */
function decodeBaseline(jpeg, comps, reader) {
  const frame = jpeg.frame;
  const data = reader.data;
  const end = data.length;
  let pos = reader.pos;
  let buf = 0;
  let bits = 0;
  let marker = false;
  const fill = () => {
    while (bits <= 24) {
      let byte = 0;
      if (!marker && pos < end) {
        byte = data[pos];
        if (byte === 0xff) {
          if (data[pos + 1] === 0) pos += 2;
          else {
            marker = true;
            byte = 0;
          }
        } else pos++;
      } else marker = true;
      buf = (buf << 8) | byte;
      bits += 8;
    }
  };
  const slow = (table) => {
    let len = LOOKAHEAD + 1;
    let code = (buf >>> (bits - len)) & ((1 << len) - 1);
    while (code > table.maxcode[len]) {
      len++;
      if (len > 16) {
        bits -= 16;
        return 0;
      }
      code = (buf >>> (bits - len)) & ((1 << len) - 1);
    }
    bits -= len;
    return table.symbols[table.valptr[len] + code - table.mincode[len]];
  };
  // Units: blocks of a single-component scan, or MCUs of an interleaved one.
  const single = comps.length === 1;
  const plan = [];
  for (const c of comps) {
    if (!c.dc || !c.ac) throw new BadJpeg('missing Huffman table');
    const blocks = single ? [[0, 0]] : [];
    if (!single) for (let v = 0; v < c.v; v++) for (let h = 0; h < c.h; h++) blocks.push([h, v]);
    plan.push({ c, blocks, dcLookup: c.dc.lookup, acLookup: c.ac.lookup });
  }
  const unitsPerLine = single ? comps[0].blocksPerLine : frame.mcusPerLine;
  const unitRows = single ? comps[0].blocksPerColumn : frame.mcusPerColumn;
  const restart = jpeg.restartInterval;
  const preds = new Int32Array(comps.length);
  let done = 0;
  for (let uy = 0; uy < unitRows; uy++) {
    for (let ux = 0; ux < unitsPerLine; ux++) {
      for (let ci = 0; ci < plan.length; ci++) {
        const { c, blocks, dcLookup, acLookup } = plan[ci];
        const coefs = c.coefs;
        for (let b = 0; b < blocks.length; b++) {
          const bx = single ? ux : ux * c.h + blocks[b][0];
          const by = single ? uy : uy * c.v + blocks[b][1];
          const off = (by * c.blocksPerLineAlloc + bx) * 64;
          // DC
          if (bits < 16) fill();
          let hit = dcLookup[(buf >>> (bits - LOOKAHEAD)) & 511];
          let t;
          if (hit) {
            bits -= hit >> 8;
            t = hit & 255;
          } else t = slow(c.dc);
          let diff = 0;
          if (t) {
            if (bits < t) fill();
            bits -= t;
            diff = (buf >>> bits) & ((1 << t) - 1);
            if (diff < 1 << (t - 1)) diff += 1 - (1 << t);
          }
          preds[ci] += diff;
          coefs[off] = preds[ci];
          // AC
          for (let k = 1; k < 64; k++) {
            if (bits < 16) fill();
            hit = acLookup[(buf >>> (bits - LOOKAHEAD)) & 511];
            let rs;
            if (hit) {
              bits -= hit >> 8;
              rs = hit & 255;
            } else rs = slow(c.ac);
            const s = rs & 15;
            const r = rs >> 4;
            if (s) {
              k += r;
              if (bits < s) fill();
              bits -= s;
              let v = (buf >>> bits) & ((1 << s) - 1);
              if (v < 1 << (s - 1)) v += 1 - (1 << s);
              coefs[off + NATURAL[k]] = v;
            } else {
              if (r !== 15) break;
              k += 15;
            }
          }
        }
      }
      done++;
      if (restart && done % restart === 0) {
        // Discard the padding bits and step over the RSTn marker (BitReader.restart).
        reader.pos = pos;
        reader.restart();
        pos = reader.pos;
        buf = 0;
        bits = 0;
        marker = false;
        preds.fill(0);
      }
    }
  }
  reader.pos = pos;
  reader.marker = marker;
}

// ---------------------------------------------------------------- inverse DCT

const RANGE = new Uint8Array(1024); // IDCT_range_limit[x & RANGE_MASK]
for (let t = 0; t < 1024; t++) RANGE[t] = t < 128 ? t + 128 : t < 512 ? 255 : t < 896 ? 0 : t - 896;

const F_0_298631336 = 2446;
const F_0_390180644 = 3196;
const F_0_541196100 = 4433;
const F_0_765366865 = 6270;
const F_0_899976223 = 7373;
const F_1_175875602 = 9633;
const F_1_501321110 = 12299;
const F_1_847759065 = 15137;
const F_1_961570560 = 16069;
const F_2_053119869 = 16819;
const F_2_562915447 = 20995;
const F_3_072711026 = 25172;
const F_0_211164243 = 1730;
const F_0_509795579 = 4176;
const F_0_601344887 = 4926;
const F_0_720959822 = 5906;
const F_0_850430095 = 6967;
const F_1_061594337 = 8697;
const F_1_272758580 = 10426;
const F_1_451774981 = 11893;
const F_2_172734803 = 17799;
const F_3_624509785 = 29692;

const ws = new Int32Array(64);

/** jpeg_idct_islow: 8x8 block at `off` into out[y0 .. y0+8][x0 .. x0+8]. */
function idct8(coefs, off, q, out, stride, o) {
  for (let c = 0; c < 8; c++) {
    const i = off + c;
    if (
      coefs[i + 8] === 0 &&
      coefs[i + 16] === 0 &&
      coefs[i + 24] === 0 &&
      coefs[i + 32] === 0 &&
      coefs[i + 40] === 0 &&
      coefs[i + 48] === 0 &&
      coefs[i + 56] === 0
    ) {
      const dc = (coefs[i] * q[c]) << 2;
      for (let r = 0; r < 8; r++) ws[r * 8 + c] = dc;
      continue;
    }
    let z2 = coefs[i + 16] * q[c + 16];
    let z3 = coefs[i + 48] * q[c + 48];
    let z1 = (z2 + z3) * F_0_541196100;
    let tmp2 = z1 + z3 * -F_1_847759065;
    let tmp3 = z1 + z2 * F_0_765366865;
    z2 = coefs[i] * q[c];
    z3 = coefs[i + 32] * q[c + 32];
    let tmp0 = (z2 + z3) << 13;
    let tmp1 = (z2 - z3) << 13;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = coefs[i + 56] * q[c + 56];
    tmp1 = coefs[i + 40] * q[c + 40];
    tmp2 = coefs[i + 24] * q[c + 24];
    tmp3 = coefs[i + 8] * q[c + 8];
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * F_1_175875602;
    tmp0 *= F_0_298631336;
    tmp1 *= F_2_053119869;
    tmp2 *= F_3_072711026;
    tmp3 *= F_1_501321110;
    z1 *= -F_0_899976223;
    z2 *= -F_2_562915447;
    z3 = z3 * -F_1_961570560 + z5;
    z4 = z4 * -F_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    ws[c] = (tmp10 + tmp3 + 1024) >> 11;
    ws[56 + c] = (tmp10 - tmp3 + 1024) >> 11;
    ws[8 + c] = (tmp11 + tmp2 + 1024) >> 11;
    ws[48 + c] = (tmp11 - tmp2 + 1024) >> 11;
    ws[16 + c] = (tmp12 + tmp1 + 1024) >> 11;
    ws[40 + c] = (tmp12 - tmp1 + 1024) >> 11;
    ws[24 + c] = (tmp13 + tmp0 + 1024) >> 11;
    ws[32 + c] = (tmp13 - tmp0 + 1024) >> 11;
  }
  for (let r = 0; r < 8; r++) {
    const w = r * 8;
    const p = o + r * stride;
    if (ws[w + 1] === 0 && ws[w + 2] === 0 && ws[w + 3] === 0 && ws[w + 4] === 0 && ws[w + 5] === 0 && ws[w + 6] === 0 && ws[w + 7] === 0) {
      const dc = RANGE[((ws[w] + 16) >> 5) & 1023];
      for (let x = 0; x < 8; x++) out[p + x] = dc;
      continue;
    }
    let z2 = ws[w + 2];
    let z3 = ws[w + 6];
    let z1 = (z2 + z3) * F_0_541196100;
    let tmp2 = z1 + z3 * -F_1_847759065;
    let tmp3 = z1 + z2 * F_0_765366865;
    let tmp0 = (ws[w] + ws[w + 4]) << 13;
    let tmp1 = (ws[w] - ws[w + 4]) << 13;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = ws[w + 7];
    tmp1 = ws[w + 5];
    tmp2 = ws[w + 3];
    tmp3 = ws[w + 1];
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * F_1_175875602;
    tmp0 *= F_0_298631336;
    tmp1 *= F_2_053119869;
    tmp2 *= F_3_072711026;
    tmp3 *= F_1_501321110;
    z1 *= -F_0_899976223;
    z2 *= -F_2_562915447;
    z3 = z3 * -F_1_961570560 + z5;
    z4 = z4 * -F_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    const half = 1 << 17;
    out[p] = RANGE[((tmp10 + tmp3 + half) >> 18) & 1023];
    out[p + 7] = RANGE[((tmp10 - tmp3 + half) >> 18) & 1023];
    out[p + 1] = RANGE[((tmp11 + tmp2 + half) >> 18) & 1023];
    out[p + 6] = RANGE[((tmp11 - tmp2 + half) >> 18) & 1023];
    out[p + 2] = RANGE[((tmp12 + tmp1 + half) >> 18) & 1023];
    out[p + 5] = RANGE[((tmp12 - tmp1 + half) >> 18) & 1023];
    out[p + 3] = RANGE[((tmp13 + tmp0 + half) >> 18) & 1023];
    out[p + 4] = RANGE[((tmp13 - tmp0 + half) >> 18) & 1023];
  }
}

/** jpeg_idct_4x4. */
function idct4(coefs, off, q, out, stride, o) {
  for (let c = 0; c < 8; c++) {
    if (c === 4) continue;
    const i = off + c;
    if (
      coefs[i + 8] === 0 &&
      coefs[i + 16] === 0 &&
      coefs[i + 24] === 0 &&
      coefs[i + 40] === 0 &&
      coefs[i + 48] === 0 &&
      coefs[i + 56] === 0
    ) {
      const dc = (coefs[i] * q[c]) << 2;
      ws[c] = dc;
      ws[8 + c] = dc;
      ws[16 + c] = dc;
      ws[24 + c] = dc;
      continue;
    }
    let tmp0 = (coefs[i] * q[c]) << 14;
    const z2e = coefs[i + 16] * q[c + 16];
    const z3e = coefs[i + 48] * q[c + 48];
    let tmp2 = z2e * F_1_847759065 + z3e * -F_0_765366865;
    const tmp10 = tmp0 + tmp2;
    const tmp12 = tmp0 - tmp2;
    const z1 = coefs[i + 56] * q[c + 56];
    const z2 = coefs[i + 40] * q[c + 40];
    const z3 = coefs[i + 24] * q[c + 24];
    const z4 = coefs[i + 8] * q[c + 8];
    tmp0 = z1 * -F_0_211164243 + z2 * F_1_451774981 + z3 * -F_2_172734803 + z4 * F_1_061594337;
    tmp2 = z1 * -F_0_509795579 + z2 * -F_0_601344887 + z3 * F_0_899976223 + z4 * F_2_562915447;
    ws[c] = (tmp10 + tmp2 + 2048) >> 12;
    ws[24 + c] = (tmp10 - tmp2 + 2048) >> 12;
    ws[8 + c] = (tmp12 + tmp0 + 2048) >> 12;
    ws[16 + c] = (tmp12 - tmp0 + 2048) >> 12;
  }
  for (let r = 0; r < 4; r++) {
    const w = r * 8;
    const p = o + r * stride;
    if (ws[w + 1] === 0 && ws[w + 2] === 0 && ws[w + 3] === 0 && ws[w + 5] === 0 && ws[w + 6] === 0 && ws[w + 7] === 0) {
      const dc = RANGE[((ws[w] + 16) >> 5) & 1023];
      out[p] = dc;
      out[p + 1] = dc;
      out[p + 2] = dc;
      out[p + 3] = dc;
      continue;
    }
    let tmp0 = ws[w] << 14;
    let tmp2 = ws[w + 2] * F_1_847759065 + ws[w + 6] * -F_0_765366865;
    const tmp10 = tmp0 + tmp2;
    const tmp12 = tmp0 - tmp2;
    const z1 = ws[w + 7];
    const z2 = ws[w + 5];
    const z3 = ws[w + 3];
    const z4 = ws[w + 1];
    tmp0 = z1 * -F_0_211164243 + z2 * F_1_451774981 + z3 * -F_2_172734803 + z4 * F_1_061594337;
    tmp2 = z1 * -F_0_509795579 + z2 * -F_0_601344887 + z3 * F_0_899976223 + z4 * F_2_562915447;
    const half = 1 << 18;
    out[p] = RANGE[((tmp10 + tmp2 + half) >> 19) & 1023];
    out[p + 3] = RANGE[((tmp10 - tmp2 + half) >> 19) & 1023];
    out[p + 1] = RANGE[((tmp12 + tmp0 + half) >> 19) & 1023];
    out[p + 2] = RANGE[((tmp12 - tmp0 + half) >> 19) & 1023];
  }
}

/** jpeg_idct_2x2. */
function idct2(coefs, off, q, out, stride, o) {
  for (let c = 0; c < 8; c++) {
    if (c === 2 || c === 4 || c === 6) continue;
    const i = off + c;
    if (coefs[i + 8] === 0 && coefs[i + 24] === 0 && coefs[i + 40] === 0 && coefs[i + 56] === 0) {
      const dc = (coefs[i] * q[c]) << 2;
      ws[c] = dc;
      ws[8 + c] = dc;
      continue;
    }
    const tmp10 = (coefs[i] * q[c]) << 15;
    let tmp0 = coefs[i + 56] * q[c + 56] * -F_0_720959822;
    tmp0 += coefs[i + 40] * q[c + 40] * F_0_850430095;
    tmp0 += coefs[i + 24] * q[c + 24] * -F_1_272758580;
    tmp0 += coefs[i + 8] * q[c + 8] * F_3_624509785;
    ws[c] = (tmp10 + tmp0 + 4096) >> 13;
    ws[8 + c] = (tmp10 - tmp0 + 4096) >> 13;
  }
  for (let r = 0; r < 2; r++) {
    const w = r * 8;
    const p = o + r * stride;
    if (ws[w + 1] === 0 && ws[w + 3] === 0 && ws[w + 5] === 0 && ws[w + 7] === 0) {
      const dc = RANGE[((ws[w] + 16) >> 5) & 1023];
      out[p] = dc;
      out[p + 1] = dc;
      continue;
    }
    const tmp10 = ws[w] << 15;
    const tmp0 =
      ws[w + 7] * -F_0_720959822 +
      ws[w + 5] * F_0_850430095 +
      ws[w + 3] * -F_1_272758580 +
      ws[w + 1] * F_3_624509785;
    const half = 1 << 19;
    out[p] = RANGE[((tmp10 + tmp0 + half) >> 20) & 1023];
    out[p + 1] = RANGE[((tmp10 - tmp0 + half) >> 20) & 1023];
  }
}

/** jpeg_idct_1x1. */
function idct1(coefs, off, q, out, stride, o) {
  out[o] = RANGE[((coefs[off] * q[0] + 4) >> 3) & 1023];
}

const IDCT = { 1: idct1, 2: idct2, 4: idct4, 8: idct8 };

// ---------------------------------------------------------------- output

/** The sample planes of every component at libjpeg's scale 1/`scale`. */
function componentPlanes(jpeg, scale) {
  const { frame } = jpeg;
  const minSize = 8 / scale; // _min_DCT_scaled_size
  return frame.components.map((c) => {
    // jdmaster.c: scale subsampled components up by IDCT rather than by upsampling.
    let ssize = minSize;
    while (
      ssize < 8 &&
      (frame.hmax * minSize) % (c.h * ssize * 2) === 0 &&
      (frame.vmax * minSize) % (c.v * ssize * 2) === 0
    ) {
      ssize *= 2;
    }
    const idct = IDCT[ssize];
    const stride = c.blocksPerLineAlloc * ssize;
    const rows = c.blocksPerColumnAlloc * ssize;
    const plane = new Uint8Array(stride * rows);
    const q = c.quant || jpeg.quant[c.tq];
    if (!q) throw new BadJpeg('missing quantisation table');
    // Only blocks inside the component's own extent are ever output.
    const bh = Math.min(c.blocksPerColumnAlloc, Math.ceil(c.height / 8));
    const bw = Math.min(c.blocksPerLineAlloc, Math.ceil(c.width / 8));
    for (let by = 0; by < bh; by++) {
      for (let bx = 0; bx < bw; bx++) {
        idct(c.coefs, (by * c.blocksPerLineAlloc + bx) * 64, q, plane, stride, by * ssize * stride + bx * ssize);
      }
    }
    return {
      plane,
      stride,
      ssize,
      width: Math.ceil((frame.width * c.h * ssize) / (frame.hmax * 8)),
      height: Math.ceil((frame.height * c.v * ssize) / (frame.vmax * 8)),
      hIn: (c.h * ssize) / minSize,
      vIn: (c.v * ssize) / minSize,
    };
  });
}

/** Upsample one component plane to the output size (jdsample.c). */
function upsample(p, outW, outH, hmax, vmax, fancyAllowed) {
  const { plane, stride, width: dw, height: dh, hIn, vIn } = p;
  const out = new Uint8Array(outW * outH);
  const at = (y) => Math.min(y, dh - 1) * stride; // rows below the last real row repeat it
  if (hIn === hmax && vIn === vmax) {
    for (let y = 0; y < outH; y++) out.set(plane.subarray(y * stride, y * stride + outW), y * outW);
    return out;
  }
  const writeRow = (y, row) => out.set(row.subarray(0, outW), y * outW);
  if (hIn * 2 === hmax && vIn === vmax) {
    const row = new Uint8Array(2 * dw + 2);
    for (let y = 0; y < outH; y++) {
      const i = at(y);
      if (fancyAllowed && dw > 2) {
        let v = plane[i];
        row[0] = v;
        row[1] = (v * 3 + plane[i + 1] + 2) >> 2;
        let o = 2;
        for (let x = 1; x < dw - 1; x++) {
          v = plane[i + x] * 3;
          row[o++] = (v + plane[i + x - 1] + 1) >> 2;
          row[o++] = (v + plane[i + x + 1] + 2) >> 2;
        }
        v = plane[i + dw - 1];
        row[o++] = (v * 3 + plane[i + dw - 2] + 1) >> 2;
        row[o++] = v;
      } else {
        for (let x = 0; x < dw + 1; x++) row[2 * x] = row[2 * x + 1] = plane[i + x];
      }
      writeRow(y, row);
    }
    return out;
  }
  if (hIn === hmax && vIn * 2 === vmax && fancyAllowed) {
    const row = new Uint8Array(dw + 1);
    for (let y = 0; y < outH; y++) {
      const near = at(y >> 1);
      const v = y & 1;
      const far = v ? at((y >> 1) + 1) : at(Math.max((y >> 1) - 1, 0));
      const bias = v ? 2 : 1;
      for (let x = 0; x < dw; x++) row[x] = (plane[near + x] * 3 + plane[far + x] + bias) >> 2;
      writeRow(y, row);
    }
    return out;
  }
  if (hIn * 2 === hmax && vIn * 2 === vmax) {
    const row = new Uint8Array(2 * dw + 2);
    for (let y = 0; y < outH; y++) {
      const near = at(y >> 1);
      if (fancyAllowed && dw > 2) {
        const v = y & 1;
        const far = v ? at((y >> 1) + 1) : at(Math.max((y >> 1) - 1, 0));
        let thiscol = plane[near] * 3 + plane[far];
        let nextcol = plane[near + 1] * 3 + plane[far + 1];
        row[0] = (thiscol * 4 + 8) >> 4;
        row[1] = (thiscol * 3 + nextcol + 7) >> 4;
        let lastcol = thiscol;
        thiscol = nextcol;
        let o = 2;
        for (let x = 2; x < dw; x++) {
          nextcol = plane[near + x] * 3 + plane[far + x];
          row[o++] = (thiscol * 3 + lastcol + 8) >> 4;
          row[o++] = (thiscol * 3 + nextcol + 7) >> 4;
          lastcol = thiscol;
          thiscol = nextcol;
        }
        row[o++] = (thiscol * 3 + lastcol + 8) >> 4;
        row[o++] = (thiscol * 4 + 7) >> 4;
      } else {
        for (let x = 0; x < dw + 1; x++) row[2 * x] = row[2 * x + 1] = plane[near + x];
      }
      writeRow(y, row);
    }
    return out;
  }
  if (hmax % hIn === 0 && vmax % vIn === 0) {
    const he = hmax / hIn;
    const ve = vmax / vIn;
    const row = new Uint8Array(outW + he);
    for (let y = 0; y < outH; y++) {
      const i = at(Math.floor(y / ve));
      for (let x = 0; x < outW; x++) row[x] = plane[i + Math.floor(x / he)];
      writeRow(y, row);
    }
    return out;
  }
  throw new UnsupportedJpeg('unsupported sampling factors');
}

const YCC = (() => {
  const fix = (x) => Math.trunc(x * 65536 + 0.5);
  const crR = new Int32Array(256);
  const cbB = new Int32Array(256);
  const crG = new Int32Array(256);
  const cbG = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const x = i - 128;
    crR[i] = (fix(1.402) * x + 32768) >> 16;
    cbB[i] = (fix(1.772) * x + 32768) >> 16;
    crG[i] = -fix(0.71414) * x;
    cbG[i] = -fix(0.34414) * x + 32768;
  }
  return { crR, cbB, crG, cbG };
})();

const clamp = (v) => (v < 0 ? 0 : v > 255 ? 255 : v);

/** The colour space libjpeg assumes for the file (jdapimin.c default_decompress_parms). */
function colorSpace(jpeg) {
  const comps = jpeg.frame.components;
  if (comps.length === 1) return 'gray';
  if (comps.length === 3) {
    if (jpeg.jfif) return 'ycc';
    if (jpeg.adobe) return jpeg.adobe.transform === 0 ? 'rgb' : 'ycc';
    const [a, b, c] = comps.map((x) => x.id);
    if (a === 82 && b === 71 && c === 66) return 'rgb';
    return 'ycc';
  }
  if (comps.length === 4) return jpeg.adobe && jpeg.adobe.transform === 2 ? 'ycck' : 'cmyk';
  throw new UnsupportedJpeg(`${comps.length}-component JPEG`);
}

/**
 * Decode at libjpeg scale 1/`scale` (1, 2, 4 or 8) to HxWx3 RGB as Pillow delivers it
 * (grey replicated; CMYK through Pillow's "CMYK;I" then convert("RGB")), stored orientation.
 */
export function decodeJpeg(jpeg, scale) {
  if (!IDCT[8 / scale]) throw new Error(`bad scale ${scale}`);
  const { frame } = jpeg;
  const width = Math.ceil(frame.width / scale);
  const height = Math.ceil(frame.height / scale);
  const space = colorSpace(jpeg);
  const planes = componentPlanes(jpeg, scale);
  const fancy = 8 / scale > 1;
  const full = planes.map((p) => upsample(p, width, height, frame.hmax, frame.vmax, fancy));
  const n = width * height;
  const rgb = new Uint8Array(n * 3);
  const clamped = new Uint8ClampedArray(rgb.buffer); // stores clamp to 0..255
  if (space === 'gray') {
    const g = full[0];
    for (let i = 0, o = 0; i < n; i++, o += 3) rgb[o] = rgb[o + 1] = rgb[o + 2] = g[i];
  } else if (space === 'rgb') {
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      rgb[o] = full[0][i];
      rgb[o + 1] = full[1][i];
      rgb[o + 2] = full[2][i];
    }
  } else if (space === 'ycc') {
    const [Y, Cb, Cr] = full;
    const { crR, cbB, crG, cbG } = YCC;
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      const y = Y[i];
      const cb = Cb[i];
      const cr = Cr[i];
      clamped[o] = y + crR[cr];
      clamped[o + 1] = y + ((cbG[cb] + crG[cr]) >> 16);
      clamped[o + 2] = y + cbB[cb];
    }
  } else {
    // CMYK or YCCK -> libjpeg's CMYK -> Pillow "CMYK;I" (inverted) -> Pillow's cmyk2rgb.
    const { crR, cbB, crG, cbG } = YCC;
    const ycck = space === 'ycck';
    const muldiv255 = (a, b) => {
      const t = a * b + 128;
      return ((t >> 8) + t) >> 8;
    };
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      let c0 = full[0][i];
      let c1 = full[1][i];
      let c2 = full[2][i];
      if (ycck) {
        const y = c0;
        const cb = c1;
        const cr = c2;
        c0 = clamp(255 - (y + crR[cr]));
        c1 = clamp(255 - (y + ((cbG[cb] + crG[cr]) >> 16)));
        c2 = clamp(255 - (y + cbB[cb]));
      }
      const c = 255 - c0;
      const m = 255 - c1;
      const yy = 255 - c2;
      const k = 255 - full[3][i];
      const nk = 255 - k;
      rgb[o] = clamp(nk - muldiv255(c, nk));
      rgb[o + 1] = clamp(nk - muldiv255(m, nk));
      rgb[o + 2] = clamp(nk - muldiv255(yy, nk));
    }
  }
  return { pixels: rgb, width, height };
}
