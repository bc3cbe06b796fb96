/**
 * The safetensors format, read and written by hand (no dependency): an unsigned 64-bit
 * little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin,
 * end]}, "__metadata__"?: {string: string}}`, then the raw little-endian tensor bytes, offsets
 * relative to the end of the header. Reading accepts F32, F16, BF16 (both widened to float32) and
 * I32; writing produces F32 and I32.
 */
import { open, readFile, type FileHandle } from 'node:fs/promises';

/** A tensor as plain data: row-major values and their shape. */
export interface RawTensor {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Contents of a safetensors file. */
export interface SafetensorsFile {
  tensors: Record<string, RawTensor>;
  metadata: Record<string, string>;
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I32: 4 };
/** A header longer than this is certainly corrupt (real headers are kilobytes). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** IEEE half → float32. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

let HALF: Float32Array | null = null;
/** All 65,536 IEEE half values as float32 (a lookup beats decoding bit fields per element). */
function halfTable(): Float32Array {
  if (HALF === null) {
    HALF = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALF[h] = halfToFloat(h);
  }
  return HALF;
}

/** Parses safetensors bytes; `name` (usually the path) prefixes every error. */
export function parseSafetensors(buf: Uint8Array, name = '<buffer>'): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new Error(`${name}: ${msg}`);
  };
  if (buf.byteLength < 8) fail(`truncated safetensors file: ${buf.byteLength} bytes, the header length alone needs 8`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES) fail(`safetensors header length ${headerLen} is implausible (corrupt file?)`);
  if (8 + headerLen > buf.byteLength) {
    fail(`truncated safetensors file: header says ${headerLen} header bytes but only ${buf.byteLength - 8} follow`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + headerLen)));
  } catch (err) {
    fail(`bad safetensors header JSON: ${(err as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('safetensors header is not a JSON object');
  const dataStart = 8 + headerLen;
  const { entries, metadata } = parseHeader(header, buf.byteLength - dataStart, fail);
  const tensors: Record<string, RawTensor> = {};
  for (const [key, e] of entries) {
    tensors[key] = { shape: e.shape, ...decodeData(buf, dataStart + e.begin, e.count, e.dtype) };
  }
  return { tensors, metadata };
}

/** One tensor's header entry: dtype, shape and its byte range in the data section. */
export interface SafetensorsEntry {
  dtype: 'F32' | 'F16' | 'BF16' | 'I32';
  shape: number[];
  /** Byte offsets relative to the start of the data section. */
  begin: number;
  end: number;
  count: number;
}

/** Validates a parsed header object against a data section of `dataLen` bytes. */
function parseHeader(
  header: unknown,
  dataLen: number,
  fail: (msg: string) => never,
): { entries: Map<string, SafetensorsEntry>; metadata: Record<string, string> } {
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('safetensors header is not a JSON object');
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (entry === null || typeof entry !== 'object') fail('__metadata__ must be an object of strings');
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object') fail(`tensor "${key}": header entry is not an object`);
    const dtype = e.dtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      fail(`tensor "${key}": unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      fail(`tensor "${key}": shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || offs.some((o) => !Number.isInteger(o) || o < 0) || offs[1] < offs[0]) {
      fail(`tensor "${key}": data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const width = DTYPE_BYTES[dtype as string];
    if (end - begin !== count * width) {
      fail(`tensor "${key}": shape ${JSON.stringify(shape)} of ${dtype} needs ${count * width} bytes but data_offsets span ${end - begin}`);
    }
    if (end > dataLen) {
      fail(`truncated safetensors file: tensor "${key}" ends at data byte ${end} but the data section has ${dataLen} bytes`);
    }
    entries.set(key, { dtype: dtype as SafetensorsEntry['dtype'], shape: [...(shape as number[])], begin, end, count });
  }
  return { entries, metadata };
}

/**
 * A safetensors file opened for reading one tensor at a time (only the header is read up
 * front), so that a large checkpoint is never held in memory whole. Call close() when done.
 */
export class SafetensorsReader {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly dataStart: number,
    /** Header entries by tensor name. */
    readonly entries: Map<string, SafetensorsEntry>,
    readonly metadata: Record<string, string>,
  ) {}

  /** Opens `path` and validates its header; errors name the file. */
  static async open(path: string): Promise<SafetensorsReader> {
    const fail = (msg: string): never => {
      throw new Error(`${path}: ${msg}`);
    };
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      throw new Error(`cannot read ${path}: ${(err as Error).message}`);
    }
    try {
      const size = (await fh.stat()).size;
      if (size < 8) fail(`truncated safetensors file: ${size} bytes, the header length alone needs 8`);
      const lenBuf = Buffer.alloc(8);
      await fh.read(lenBuf, 0, 8, 0);
      const headerLen = Number(lenBuf.readBigUInt64LE(0));
      if (headerLen > MAX_HEADER_BYTES) fail(`safetensors header length ${headerLen} is implausible (corrupt file?)`);
      if (8 + headerLen > size) fail(`truncated safetensors file: header says ${headerLen} header bytes but only ${size - 8} follow`);
      const hb = Buffer.alloc(headerLen);
      await fh.read(hb, 0, headerLen, 8);
      let header: unknown;
      try {
        header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(hb));
      } catch (err) {
        fail(`bad safetensors header JSON: ${(err as Error).message}`);
      }
      const { entries, metadata } = parseHeader(header, size - 8 - headerLen, fail);
      return new SafetensorsReader(path, fh, 8 + headerLen, entries, metadata);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Reads one tensor, widened to float32 (F16/BF16) or kept (F32/I32). */
  async read(name: string): Promise<RawTensor> {
    const e = this.entries.get(name);
    if (!e) throw new Error(`${this.path}: no tensor "${name}"`);
    const n = e.end - e.begin;
    const buf = Buffer.alloc(n);
    const { bytesRead } = await this.fh.read(buf, 0, n, this.dataStart + e.begin);
    if (bytesRead !== n) throw new Error(`${this.path}: short read of tensor "${name}" (${bytesRead} of ${n} bytes)`);
    return { shape: [...e.shape], ...decodeData(buf, 0, e.count, e.dtype) };
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

function decodeData(buf: Uint8Array, at: number, count: number, dtype: string): Pick<RawTensor, 'dtype' | 'data'> {
  const offset = buf.byteOffset + at;
  // Aligned data (the usual case: safetensors pads its header to 8 bytes) is read through typed
  // views, several times faster than DataView calls for 100M-element checkpoints.
  if (offset % DTYPE_BYTES[dtype] === 0) {
    const bytes = buf.buffer.slice(offset, offset + count * DTYPE_BYTES[dtype]) as ArrayBuffer;
    if (dtype === 'F32') return { dtype: 'float32', data: new Float32Array(bytes) };
    if (dtype === 'I32') return { dtype: 'int32', data: new Int32Array(bytes) };
    const u16 = new Uint16Array(bytes);
    if (dtype === 'BF16') {
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = u16[i] << 16;
      return { dtype: 'float32', data: new Float32Array(bits.buffer) };
    }
    const data = new Float32Array(count);
    const table = halfTable();
    for (let i = 0; i < count; i++) data[i] = table[u16[i]];
    return { dtype: 'float32', data };
  }
  const view = new DataView(buf.buffer, offset, count * DTYPE_BYTES[dtype]);
  switch (dtype) {
    case 'I32': {
      const data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getInt32(4 * i, true);
      return { dtype: 'int32', data };
    }
    case 'F32': {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(4 * i, true);
      return { dtype: 'float32', data };
    }
    case 'F16': {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = halfToFloat(view.getUint16(2 * i, true));
      return { dtype: 'float32', data };
    }
    default: {
      // BF16 is the top half of a float32.
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return { dtype: 'float32', data: new Float32Array(bits.buffer) };
    }
  }
}

/** Reads a safetensors file; a missing file is reported by path. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  return parseSafetensors(buf, path);
}

/** Serialises tensors (F32/I32) with optional string metadata; names are written in sorted order. */
export function serializeSafetensors(tensors: Record<string, RawTensor>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors metadata "${k}" must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const n of names) {
    const t = tensors[n];
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`tensor "${n}": shape ${JSON.stringify(t.shape)} holds ${count} values but data has ${t.data.length}`);
    header[n] = { dtype: t.dtype === 'int32' ? 'I32' : 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces to a multiple of 8 so the data section is aligned, as HF does.
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const n of names) {
    const t = tensors[n];
    // The host is little-endian on every platform tfjs runs on; copy the bytes as they are.
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
