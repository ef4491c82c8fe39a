/**
 * PNG images (https://www.w3.org/TR/png-3/) and grids of small grayscale
 * images for reconstruction and cluster galleries. Browser-safe: compression
 * uses the platform's `CompressionStream("deflate")`, which produces exactly
 * the zlib stream PNG's IDAT chunks need.
 *
 * @module
 */

/** An 8-bit image: `height` rows of `width` pixels of `channels` bytes each. */
export interface PngImage {
  width: number;
  height: number;
  /** 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** `width * height * channels` bytes, row-major. */
  data: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const COLOR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };
const CHANNELS: Record<number, 1 | 2 | 3 | 4> = { 0: 1, 4: 2, 2: 3, 6: 4 };

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 (ISO 3309, the one PNG and zlib's gzip use) of `bytes`.
 *
 * @example
 * ```ts
 * crc32(new TextEncoder().encode("123456789")); // 0xcbf43926
 * ```
 */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function transform(
  bytes: Uint8Array,
  stream: CompressionStream | DecompressionStream,
): Promise<Uint8Array> {
  const out = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

function checkImage(fn: string, img: PngImage): void {
  const { width, height, channels, data } = img;
  for (const [k, v] of [["width", width], ["height", height]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 0x7fffffff) {
      throw new RangeError(`${fn}: expected ${k} to be a positive integer, got ${v}`);
    }
  }
  if (!(channels in COLOR_TYPE)) {
    throw new RangeError(`${fn}: expected channels 1, 2, 3 or 4, got ${channels}`);
  }
  if (data.length !== width * height * channels) {
    throw new RangeError(
      `${fn}: expected ${width * height * channels} bytes for ${width}x${height}x${channels}, ` +
        `got ${data.length}`,
    );
  }
}

/**
 * Encodes 8-bit pixels as a PNG file (no filtering, zlib-compressed).
 *
 * @example
 * ```ts
 * const png = await encodePng({ width: 28, height: 28, channels: 1, data: mnist.train.images.subarray(0, 784) });
 * await Deno.writeFile("digit.png", png);
 * ```
 */
export async function encodePng(image: PngImage): Promise<Uint8Array> {
  checkImage("encodePng", image);
  const { width, height, channels, data } = image;
  const stride = width * channels;
  // Each scanline is preceded by its filter type; 0 = None.
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const idat = await transform(raw, new CompressionStream("deflate"));

  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = COLOR_TYPE[channels];
  // compression 0 (deflate), filter method 0, interlace 0: already zero.

  const chunks: [string, Uint8Array][] = [["IHDR", ihdr], ["IDAT", idat], [
    "IEND",
    new Uint8Array(0),
  ]];
  const total = 8 + chunks.reduce((s, [, d]) => s + 12 + d.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(SIGNATURE);
  let at = 8;
  for (const [type, body] of chunks) {
    view.setUint32(at, body.length);
    for (let i = 0; i < 4; i++) out[at + 4 + i] = type.charCodeAt(i);
    out.set(body, at + 8);
    view.setUint32(at + 8 + body.length, crc32(out.subarray(at + 4, at + 8 + body.length)));
    at += 12 + body.length;
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes 8-bit, non-interlaced gray, gray + alpha, RGB or RGBA PNG files
 * (every PNG {@link encodePng} writes), checking the signature and every
 * chunk's CRC. Meant for tests and round trips, not as a general decoder.
 *
 * @example
 * ```ts
 * const img = await decodePng(await encodePng({ width: 2, height: 1, channels: 1, data: new Uint8Array([0, 255]) }));
 * img.data; // Uint8Array [0, 255]
 * ```
 */
export async function decodePng(bytes: Uint8Array): Promise<PngImage> {
  const fn = "decodePng";
  if (bytes.length < 8 || SIGNATURE.some((v, i) => bytes[i] !== v)) {
    throw new Error(`${fn}: expected the 8-byte PNG signature`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  let ihdr: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (!ended) {
    if (at + 12 > bytes.length) throw new Error(`${fn}: truncated file at byte ${at}`);
    const len = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (at + 12 + len > bytes.length) throw new Error(`${fn}: chunk ${type} runs past the end`);
    const body = bytes.subarray(at + 8, at + 8 + len);
    const stored = view.getUint32(at + 8 + len);
    const actual = crc32(bytes.subarray(at + 4, at + 8 + len));
    if (stored !== actual) {
      throw new Error(
        `${fn}: chunk ${type}: CRC 0x${stored.toString(16)} does not match 0x${
          actual.toString(16)
        }`,
      );
    }
    if (type === "IHDR") ihdr = body;
    else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") ended = true;
    at += 12 + len;
  }
  if (ihdr === undefined || ihdr.length !== 13) throw new Error(`${fn}: missing or bad IHDR chunk`);
  const hv = new DataView(ihdr.buffer, ihdr.byteOffset, 13);
  const width = hv.getUint32(0), height = hv.getUint32(4);
  const channels = CHANNELS[ihdr[9]];
  if (
    ihdr[8] !== 8 || channels === undefined || ihdr[10] !== 0 || ihdr[11] !== 0 || ihdr[12] !== 0
  ) {
    throw new Error(
      `${fn}: only 8-bit non-interlaced gray/RGB(A) images are supported, got bit depth ` +
        `${ihdr[8]}, color type ${ihdr[9]}, interlace ${ihdr[12]}`,
    );
  }
  const joined = new Uint8Array(idat.reduce((s, d) => s + d.length, 0));
  idat.reduce((o, d) => (joined.set(d, o), o + d.length), 0);
  const raw = await transform(joined, new DecompressionStream("deflate"));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) {
    throw new Error(
      `${fn}: expected ${height * (stride + 1)} decompressed bytes, got ${raw.length}`,
    );
  }
  const data = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = data.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? data.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels] : 0, b = up[i];
      const c = i >= channels ? up[i - channels] : 0;
      const pred = filter === 0
        ? 0
        : filter === 1
        ? a
        : filter === 2
        ? b
        : filter === 3
        ? (a + b) >> 1
        : filter === 4
        ? paeth(a, b, c)
        : -1;
      if (pred < 0) throw new Error(`${fn}: unknown filter type ${filter} on row ${y}`);
      row[i] = (src[i] + pred) & 0xff;
    }
  }
  return { width, height, channels, data };
}

/** Options shared by {@link imageGrid} and {@link imageRows}. */
export interface TileOptions {
  /** Height of each small image in pixels (28 for MNIST). */
  rows: number;
  /** Width of each small image in pixels (28 for MNIST). */
  cols: number;
  /** Background pixels between tiles and around the border (default 1). */
  pad?: number;
  /** Integer nearest-neighbour magnification of every image (default 1). */
  scale?: number;
  /** Gray level (0..255) of the padding (default 0). */
  background?: number;
}

/** Options of {@link imageGrid}. */
export interface GridOptions extends TileOptions {
  /** How many images to place (default: all that `images` holds). */
  n?: number;
  /** Tiles per grid row (default: ceil(sqrt(n))). */
  gridCols?: number;
}

function checkTiles(fn: string, o: TileOptions): Required<TileOptions> {
  const { rows, cols, pad = 1, scale = 1, background = 0 } = o;
  for (
    const [k, v, min] of [["rows", rows, 1], ["cols", cols, 1], ["pad", pad, 0], [
      "scale",
      scale,
      1,
    ]] as const
  ) {
    if (!Number.isInteger(v) || v < min) {
      throw new RangeError(`${fn}: expected ${k} to be an integer >= ${min}, got ${v}`);
    }
  }
  if (!(background >= 0 && background <= 255)) {
    throw new RangeError(`${fn}: expected background in 0..255, got ${background}`);
  }
  return { rows, cols, pad, scale, background };
}

/** Copies image `k` of `images` to (x0, y0) of `out`; floats 0..1 become 0..255. */
function blit(
  out: PngImage,
  images: Uint8Array | Float32Array,
  k: number,
  x0: number,
  y0: number,
  t: Required<TileOptions>,
): void {
  const { rows, cols, scale } = t;
  const base = k * rows * cols;
  const isFloat = images instanceof Float32Array;
  for (let r = 0; r < rows * scale; r++) {
    const o = (y0 + r) * out.width + x0;
    const src = base + Math.floor(r / scale) * cols;
    for (let c = 0; c < cols * scale; c++) {
      const v = images[src + Math.floor(c / scale)];
      // NaN fails both comparisons and ends up 0.
      out.data[o + c] = isFloat ? (v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0) : v;
    }
  }
}

function blank(width: number, height: number, background: number): PngImage {
  return { width, height, channels: 1, data: new Uint8Array(width * height).fill(background) };
}

/**
 * Tiles many small grayscale images into one grayscale image, left to right
 * then top to bottom: image `k` goes to grid row `floor(k / gridCols)`,
 * column `k % gridCols`, at pixel
 * `(pad + col * (cols * scale + pad), pad + row * (rows * scale + pad))`.
 * Float images are read as 0..1 and clamped; u8 images as 0..255.
 *
 * @example
 * ```ts
 * const grid = imageGrid(mnist.test.images, { n: 100, rows: 28, cols: 28, gridCols: 10 });
 * await Deno.writeFile("digits.png", await encodePng(grid));
 * ```
 */
export function imageGrid(images: Uint8Array | Float32Array, options: GridOptions): PngImage {
  const fn = "imageGrid";
  const t = checkTiles(fn, options);
  const size = t.rows * t.cols;
  const n = options.n ?? Math.floor(images.length / size);
  if (!Number.isInteger(n) || n < 1 || n * size > images.length) {
    throw new RangeError(
      `${fn}: expected 1 <= n <= ${Math.floor(images.length / size)} images of ` +
        `${t.rows}x${t.cols}, got n=${n}`,
    );
  }
  const gridCols = options.gridCols ?? Math.ceil(Math.sqrt(n));
  if (!Number.isInteger(gridCols) || gridCols < 1) {
    throw new RangeError(`${fn}: expected gridCols to be a positive integer, got ${gridCols}`);
  }
  const gridRows = Math.ceil(n / gridCols);
  const tileW = t.cols * t.scale, tileH = t.rows * t.scale;
  const out = blank(
    Math.min(gridCols, n) * (tileW + t.pad) + t.pad,
    gridRows * (tileH + t.pad) + t.pad,
    t.background,
  );
  for (let k = 0; k < n; k++) {
    const gr = Math.floor(k / gridCols), gc = k % gridCols;
    blit(out, images, k, t.pad + gc * (tileW + t.pad), t.pad + gr * (tileH + t.pad), t);
  }
  return out;
}

/** 3x5 digit glyphs, one 3-bit row per entry, most significant bit on the left. */
const GLYPHS: Record<string, number[]> = {
  "0": [7, 5, 5, 5, 7],
  "1": [2, 6, 2, 2, 7],
  "2": [7, 1, 7, 4, 7],
  "3": [7, 1, 7, 1, 7],
  "4": [5, 5, 7, 1, 1],
  "5": [7, 4, 7, 1, 7],
  "6": [7, 4, 7, 5, 7],
  "7": [7, 1, 1, 1, 1],
  "8": [7, 5, 7, 5, 7],
  "9": [7, 5, 7, 1, 7],
  "-": [0, 0, 7, 0, 0],
  " ": [0, 0, 0, 0, 0],
};

/** Options of {@link imageRows}. */
export interface RowsOptions extends TileOptions {
  /**
   * One label per row (digits, '-' and spaces), drawn in white in a left
   * margin, e.g. cluster numbers or sizes.
   */
  labels?: (string | number)[];
}

/**
 * Lays out rows of small grayscale images, one grid row per entry of
 * `rowsOfImages` (rows may hold different numbers of images), optionally with
 * a numeric label at the left of each row: a cluster gallery, or originals
 * above their reconstructions.
 *
 * @example
 * ```ts
 * // Ten images of each cluster, one cluster per row, labelled with its number.
 * const gallery = imageRows(clusters.map((idx) => take(images, 784, idx.slice(0, 10))), {
 *   rows: 28, cols: 28, labels: clusters.map((_, c) => c),
 * });
 * await Deno.writeFile("clusters.png", await encodePng(gallery));
 * ```
 */
export function imageRows(
  rowsOfImages: (Uint8Array | Float32Array)[],
  options: RowsOptions,
): PngImage {
  const fn = "imageRows";
  const t = checkTiles(fn, options);
  const size = t.rows * t.cols;
  if (rowsOfImages.length < 1) throw new RangeError(`${fn}: expected at least one row, got 0`);
  const counts = rowsOfImages.map((imgs, i) => {
    if (imgs.length % size !== 0) {
      throw new RangeError(
        `${fn}: row ${i}: expected a multiple of ${size} pixels (${t.rows}x${t.cols}), got ${imgs.length}`,
      );
    }
    return imgs.length / size;
  });
  const labels = options.labels?.map(String);
  if (labels !== undefined && labels.length !== rowsOfImages.length) {
    throw new RangeError(`${fn}: expected ${rowsOfImages.length} labels, got ${labels.length}`);
  }
  for (const l of labels ?? []) {
    for (const ch of l) {
      if (!(ch in GLYPHS)) throw new RangeError(`${fn}: cannot draw '${ch}' in label "${l}"`);
    }
  }
  const tileW = t.cols * t.scale, tileH = t.rows * t.scale;
  if (labels !== undefined && tileH < 5) {
    throw new RangeError(`${fn}: labels need tiles at least 5 pixels tall, got ${tileH}`);
  }
  // Glyphs are 5 pixels tall plus a margin; scale them to the tile height.
  const g = Math.max(1, Math.floor(tileH / 7));
  const maxChars = Math.max(0, ...(labels ?? []).map((l) => l.length));
  const labelW = labels ? maxChars * 4 * g + t.pad : 0;
  const maxCount = Math.max(...counts);
  const out = blank(
    labelW + maxCount * (tileW + t.pad) + t.pad,
    rowsOfImages.length * (tileH + t.pad) + t.pad,
    t.background,
  );
  rowsOfImages.forEach((imgs, r) => {
    const y0 = t.pad + r * (tileH + t.pad);
    for (let k = 0; k < counts[r]; k++) {
      blit(out, imgs, k, labelW + t.pad + k * (tileW + t.pad), y0, t);
    }
    const label = labels?.[r];
    if (label === undefined) return;
    const gy = y0 + Math.floor((tileH - 5 * g) / 2);
    [...label].forEach((ch, i) => {
      const gx = t.pad + i * 4 * g;
      GLYPHS[ch].forEach((bits, py) => {
        for (let px = 0; px < 3; px++) {
          if (!(bits & (4 >> px))) continue;
          for (let dy = 0; dy < g; dy++) {
            const o = (gy + py * g + dy) * out.width + gx + px * g;
            out.data.fill(255, o, o + g);
          }
        }
      });
    });
  });
  return out;
}
