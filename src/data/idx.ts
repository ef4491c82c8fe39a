/**
 * The IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/):
 * two zero bytes, a type byte, a dimension count byte, one big-endian u32 per
 * dimension, then the elements in row-major order, big-endian.
 *
 * Works in Deno and in browsers (no runtime-specific APIs).
 *
 * @module
 */

/** Element types an IDX file can hold, by their type byte. */
export type IdxDtype = "u8" | "i8" | "i16" | "i32" | "f32" | "f64";

/** The typed array that holds each {@link IdxDtype}. */
export interface IdxArrays {
  u8: Uint8Array;
  i8: Int8Array;
  i16: Int16Array;
  i32: Int32Array;
  f32: Float32Array;
  f64: Float64Array;
}

/** A parsed IDX array: element type, shape and row-major data in host byte order. */
export type IdxArray = {
  [D in IdxDtype]: { dtype: D; shape: number[]; data: IdxArrays[D] };
}[IdxDtype];

const TYPE_BYTES: Record<number, IdxDtype> = {
  0x08: "u8",
  0x09: "i8",
  0x0b: "i16",
  0x0c: "i32",
  0x0d: "f32",
  0x0e: "f64",
};
const CODE: Record<IdxDtype, number> = {
  u8: 0x08,
  i8: 0x09,
  i16: 0x0b,
  i32: 0x0c,
  f32: 0x0d,
  f64: 0x0e,
};
const SIZE: Record<IdxDtype, number> = { u8: 1, i8: 1, i16: 2, i32: 4, f32: 4, f64: 8 };

function hex(b: number): string {
  return "0x" + b.toString(16).padStart(2, "0");
}

/**
 * Parses an uncompressed IDX file. The whole file must be exactly one array:
 * a truncated file or trailing bytes are errors, not silently ignored. The
 * returned data is a fresh copy, independent of `bytes`.
 *
 * @param bytes The file contents.
 * @param name Used in error messages (e.g. the file name).
 * @throws Error naming the file and the expected vs actual value when the
 *   magic number, dimension count, a dimension or the length is wrong.
 *
 * @example
 * ```ts
 * const labels = parseIdx(await Deno.readFile("train-labels-idx1-ubyte"), "train-labels");
 * labels.shape; // [60000]
 * labels.data;  // Uint8Array of digits
 * ```
 */
export function parseIdx(bytes: Uint8Array, name = "idx"): IdxArray {
  const where = `parseIdx(${name})`;
  if (bytes.length < 4) {
    throw new Error(`${where}: expected at least 4 header bytes, got a ${bytes.length}-byte file`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new Error(`${where}: the file is gzip-compressed; use readIdx, which decompresses it`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(
      `${where}: expected magic bytes 0x00 0x00, got ${hex(bytes[0])} ${hex(bytes[1])} ` +
        `(not an IDX file)`,
    );
  }
  const dtype = TYPE_BYTES[bytes[2]];
  if (dtype === undefined) {
    throw new Error(
      `${where}: expected type byte 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e, got ${hex(bytes[2])}`,
    );
  }
  const ndim = bytes[3];
  if (ndim < 1) throw new Error(`${where}: expected at least 1 dimension, got 0`);
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new Error(
      `${where}: expected a ${headerBytes}-byte header for ${ndim} dimensions, ` +
        `got a ${bytes.length}-byte file`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    if (d === 0) throw new Error(`${where}: expected dimension ${i} to be positive, got 0`);
    shape.push(d);
    count *= d;
  }
  const size = SIZE[dtype];
  const expected = headerBytes + count * size;
  if (!Number.isSafeInteger(expected) || bytes.length !== expected) {
    throw new Error(
      `${where}: expected ${expected} bytes for ${dtype} shape [${shape}], got ${bytes.length}` +
        (bytes.length < expected ? " (truncated)" : " (trailing bytes)"),
    );
  }
  const body = bytes.subarray(headerBytes);
  switch (dtype) {
    case "u8":
      return { dtype, shape, data: body.slice() };
    case "i8":
      return { dtype, shape, data: new Int8Array(body.slice().buffer) };
    case "i16": {
      const data = new Int16Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getInt16(headerBytes + 2 * i, false);
      return { dtype, shape, data };
    }
    case "i32": {
      const data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getInt32(headerBytes + 4 * i, false);
      return { dtype, shape, data };
    }
    case "f32": {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(headerBytes + 4 * i, false);
      return { dtype, shape, data };
    }
    case "f64": {
      const data = new Float64Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat64(headerBytes + 8 * i, false);
      return { dtype, shape, data };
    }
  }
}

/**
 * Writes an array in IDX format (big-endian), the inverse of {@link parseIdx}.
 *
 * @example
 * ```ts
 * const bytes = encodeIdx({ dtype: "u8", shape: [2, 2], data: new Uint8Array([0, 1, 2, 3]) });
 * parseIdx(bytes).shape; // [2, 2]
 * ```
 */
export function encodeIdx(array: IdxArray): Uint8Array {
  const { dtype, shape, data } = array;
  if (!(dtype in SIZE)) throw new Error(`encodeIdx: unknown dtype ${dtype}`);
  if (shape.length < 1 || shape.length > 255) {
    throw new Error(`encodeIdx: expected 1 to 255 dimensions, got ${shape.length}`);
  }
  let count = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1 || d > 0xffffffff) {
      throw new Error(`encodeIdx: expected positive u32 dimensions, got shape [${shape}]`);
    }
    count *= d;
  }
  if (data.length !== count) {
    throw new Error(
      `encodeIdx: expected ${count} elements for shape [${shape}], got ${data.length}`,
    );
  }
  const header = 4 + 4 * shape.length;
  const out = new Uint8Array(header + count * SIZE[dtype]);
  const view = new DataView(out.buffer);
  out[2] = CODE[dtype];
  out[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const o = header + i * SIZE[dtype];
    switch (dtype) {
      case "u8":
        view.setUint8(o, data[i]);
        break;
      case "i8":
        view.setInt8(o, data[i]);
        break;
      case "i16":
        view.setInt16(o, data[i], false);
        break;
      case "i32":
        view.setInt32(o, data[i], false);
        break;
      case "f32":
        view.setFloat32(o, data[i], false);
        break;
      case "f64":
        view.setFloat64(o, data[i], false);
        break;
    }
  }
  return out;
}

/** True when `bytes` starts with the gzip magic number 1f 8b. */
function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses gzip data with the platform's `DecompressionStream`, naming
 * `what` in the error when the stream is corrupt or truncated.
 *
 * @example
 * ```ts
 * const raw = await gunzip(gzBytes, "t10k-images.gz");
 * ```
 */
export async function gunzip(bytes: Uint8Array, what = "gunzip"): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
      .pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(
      `${what}: corrupt or truncated gzip data (${e instanceof Error ? e.message : e})`,
    );
  }
}

/**
 * Like {@link parseIdx}, but also accepts gzip-compressed files (the `.gz`
 * files of the MNIST distribution), detected by their magic number.
 *
 * @example
 * ```ts
 * const res = await fetch("/data/t10k-images-idx3-ubyte.gz");
 * const images = await readIdx(await res.arrayBuffer(), "t10k-images");
 * images.shape; // [10000, 28, 28]
 * ```
 */
export async function readIdx(bytes: Uint8Array | ArrayBuffer, name = "idx"): Promise<IdxArray> {
  let b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (isGzip(b)) b = await gunzip(b, `readIdx(${name})`);
  return parseIdx(b, name);
}
