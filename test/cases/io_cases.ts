/**
 * File contents: safetensors, PNG and image grids, CSV.
 * @module
 */
import { test } from "../harness.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import {
  crc32,
  CsvWriter,
  decodePng,
  decodeSafetensors,
  encodePng,
  encodeSafetensors,
  imageGrid,
  imageRows,
  type SafeTensor,
  toCsv,
} from "../../src/io/mod.ts";

// ---------------------------------------------------------------- safetensors

const ALL_DTYPES: Record<string, SafeTensor> = {
  f64: { dtype: "F64", shape: [3], data: new Float64Array([Math.PI, -0, 1e300]) },
  f32: { dtype: "F32", shape: [2, 3], data: new Float32Array([1, -2, 0.5, 3.25, -1e-30, 7]) },
  f16: { dtype: "F16", shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
  bf16: { dtype: "BF16", shape: [1, 1], data: new Uint16Array([0x3f80]) },
  i64: { dtype: "I64", shape: [2], data: new BigInt64Array([-(2n ** 63n), 2n ** 40n + 3n]) },
  u64: { dtype: "U64", shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) },
  i32: { dtype: "I32", shape: [3], data: new Int32Array([-1, 0, 2147483647]) },
  u32: { dtype: "U32", shape: [1], data: new Uint32Array([4294967295]) },
  i16: { dtype: "I16", shape: [3], data: new Int16Array([-32768, 1, 32767]) },
  u16: { dtype: "U16", shape: [1], data: new Uint16Array([65535]) },
  i8: { dtype: "I8", shape: [3], data: new Int8Array([-128, 0, 127]) },
  u8: { dtype: "U8", shape: [5], data: new Uint8Array([0, 1, 2, 254, 255]) },
  bool: { dtype: "BOOL", shape: [2], data: new Uint8Array([1, 0]) },
  scalar: { dtype: "F32", shape: [], data: new Float32Array([42]) },
  empty: { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
};

function headerOf(bytes: Uint8Array): { n: number; json: string } {
  const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  return { n, json: new TextDecoder().decode(bytes.subarray(8, 8 + n)) };
}

test("safetensors round trips every dtype with metadata", () => {
  const bytes = encodeSafetensors(ALL_DTYPES, { format: "pt", note: 'quote " and ü' });
  const { tensors, metadata } = decodeSafetensors(bytes);
  assertEquals(Object.keys(tensors).sort(), Object.keys(ALL_DTYPES).sort());
  for (const [name, t] of Object.entries(ALL_DTYPES)) {
    const back = tensors[name];
    assertEquals(back.dtype, t.dtype, name);
    assertEquals(back.shape, t.shape, name);
    assertEquals(back.data.constructor, t.data.constructor, name);
    assertEquals(back.data, t.data, name);
  }
  assertEquals({ ...metadata }, { format: "pt", note: 'quote " and ü' });
  // ArrayBuffer input works too.
  assertEquals(Object.keys(decodeSafetensors(bytes.slice().buffer).tensors).length, 15);
});

test("encodeSafetensors writes an 8-byte aligned, space-padded header and contiguous data", () => {
  const bytes = encodeSafetensors({
    b: { dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) },
    a: { dtype: "F64", shape: [1], data: new Float64Array([1]) },
    c: { dtype: "F32", shape: [1], data: new Float32Array([1, 2]).subarray(1) },
  });
  const { n, json } = headerOf(bytes);
  assertEquals(new DataView(bytes.buffer).getUint32(4, true), 0, "high word of the u64 length");
  assertEquals(n % 8, 0);
  assert(/^\{.*\} *$/.test(json), `header ${json}`);
  const h = JSON.parse(json);
  // Largest element size first, then by name: every tensor is naturally aligned.
  assertEquals(h.a.data_offsets, [0, 8]);
  assertEquals(h.c.data_offsets, [8, 12]);
  assertEquals(h.b.data_offsets, [12, 15]);
  assertEquals(h.c.shape, [1]);
  assertEquals(bytes.length, 8 + n + 15);
  assertEquals(h.__metadata__, undefined);
  assertEquals(Array.from(bytes.subarray(8 + n + 8, 8 + n + 12)), [0, 0, 0, 0x40]); // 2.0f LE
});

test("encodeSafetensors validates names, dtypes and lengths", () => {
  assertThrows(
    () => encodeSafetensors({ w: { dtype: "F32", shape: [2, 2], data: new Float32Array(3) } }),
    'tensor "w": expected 4 elements for shape [2,2], got 3',
  );
  assertThrows(
    () =>
      encodeSafetensors({
        w: { dtype: "F32", data: new Float64Array(1), shape: [1] } as unknown as SafeTensor,
      }),
    'tensor "w": expected Float32Array data for F32, got Float64Array',
  );
  assertThrows(
    () =>
      encodeSafetensors({
        w: { dtype: "F8", shape: [1], data: new Uint8Array(1) } as unknown as SafeTensor,
      }),
    "unknown dtype F8",
  );
  assertThrows(
    () => encodeSafetensors({ __metadata__: { dtype: "U8", shape: [1], data: new Uint8Array(1) } }),
    "cannot name a tensor",
  );
});

/** Builds a file from header text and data bytes exactly as given. */
function build(
  header: string,
  data: number[] | Uint8Array = [],
  lengthOverride?: number,
): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, lengthOverride ?? h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

test("decodeSafetensors reads a file written by hand per the spec, unaligned offsets included", () => {
  // 3 bytes of U8 first put the F32 tensor at the unaligned offset 3.
  const header =
    '{"__metadata__":{"k":"v"},"x":{"dtype":"F32","shape":[2],"data_offsets":[3,11]},' +
    '"m":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"h":{"dtype":"I16","shape":[1,2],"data_offsets":[11,15]}}';
  const data = [7, 8, 9, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x01, 0x00, 0x02, 0x01];
  const bytes = new Uint8Array(8 + header.length + data.length);
  // u64 little-endian header length, byte by byte
  bytes.set([header.length & 0xff, header.length >> 8, 0, 0, 0, 0, 0, 0]);
  bytes.set(new TextEncoder().encode(header), 8);
  bytes.set(data, 8 + header.length);
  const { tensors, metadata } = decodeSafetensors(bytes);
  assertEquals(tensors.x, { dtype: "F32", shape: [2], data: new Float32Array([1, -2]) });
  assertEquals(tensors.m, { dtype: "U8", shape: [3], data: new Uint8Array([7, 8, 9]) });
  assertEquals(tensors.h, { dtype: "I16", shape: [1, 2], data: new Int16Array([1, 258]) });
  assertEquals(tensors.x.data.byteOffset, 0); // a fresh, aligned copy
  assertEquals(Object.keys(tensors), ["m", "x", "h"]); // data order
  assertEquals(metadata.k, "v");
  // Trailing spaces in the header (alignment padding) are allowed.
  assertEquals(
    decodeSafetensors(build('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}   ', [5]))
      .tensors.a.data,
    new Uint8Array([5]),
  );
  // An empty file is a valid header with no tensors.
  assertEquals(Object.keys(decodeSafetensors(build("{}")).tensors), []);
  // A tensor called __proto__ stays an ordinary entry.
  const proto = decodeSafetensors(
    build('{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [3]),
  );
  assertEquals(Object.keys(proto.tensors), ["__proto__"]);
  assertEquals(
    decodeSafetensors(encodeSafetensors(proto.tensors)).tensors["__proto__"].data,
    new Uint8Array([3]),
  );
});

const T = (dtype: string, shape: string, offsets: string) =>
  `{"dtype":"${dtype}","shape":${shape},"data_offsets":${offsets}}`;

test("decodeSafetensors refuses malformed and hostile files with clear errors", () => {
  const cases: [string, Uint8Array, string][] = [
    ["short file", new Uint8Array(7), "expected at least 8 bytes (the header length), got 7"],
    [
      "header past the end",
      build("{}", [], 100),
      "header length 100 is larger than the 2 bytes after the length field",
    ],
    [
      "header above the cap",
      build("{}", [], 200_000_000),
      "header length 200000000 exceeds the 100000000-byte limit",
    ],
    [
      "u64 length high word",
      (() => {
        const b = build("{}");
        b[4] = 1;
        return b;
      })(),
      "exceeds the 100000000-byte limit",
    ],
    [
      "invalid UTF-8",
      build('{"\xff"}').map((v, i) => (i === 10 ? 0xff : v)),
      "header is not valid UTF-8",
    ],
    ["not JSON", build("{nope"), "header is not valid JSON"],
    ["not an object", build("[1]"), "expected the header to start with '{'"],
    [
      "duplicate names",
      build(`{"a":${T("U8", "[1]", "[0,1]")},"a":${T("U8", "[1]", "[1,2]")}}`, [1, 2]),
      'duplicate header entry "a"',
    ],
    ["entry not an object", build('{"a":5}'), 'tensor "a": expected an object, got 5'],
    [
      "unknown dtype",
      build(`{"a":${T("F8_E4M3", "[1]", "[0,1]")}}`, [1]),
      'tensor "a": unknown dtype "F8_E4M3"',
    ],
    [
      "negative dim",
      build(`{"a":${T("U8", "[-1]", "[0,1]")}}`, [1]),
      'tensor "a": expected shape to be an array of non-negative integers, got [-1]',
    ],
    [
      "fractional dim",
      build(`{"a":${T("U8", "[1.5]", "[0,1]")}}`, [1]),
      "non-negative integers, got [1.5]",
    ],
    ["shape not array", build(`{"a":${T("U8", '"3"', "[0,3]")}}`, [1, 2, 3]), 'got "3"'],
    [
      "offsets not a pair",
      build(`{"a":${T("U8", "[1]", "[0,1,2]")}}`, [1]),
      "expected data_offsets [begin, end] of non-negative integers, got [0,1,2]",
    ],
    [
      "offsets missing",
      build('{"a":{"dtype":"U8","shape":[1]}}', [1]),
      "data_offsets [begin, end]",
    ],
    ["offsets fractional", build(`{"a":${T("U8", "[1]", "[0,0.5]")}}`, [1]), "got [0,0.5]"],
    [
      "begin after end",
      build(`{"a":${T("U8", "[0]", "[1,0]")}}`, [1]),
      'tensor "a": data_offsets begin 1 > end 0',
    ],
    [
      "end beyond data",
      build(`{"a":${T("U8", "[4]", "[0,4]")}}`, [1, 2]),
      "data_offsets end 4 is beyond the 2-byte data section",
    ],
    [
      "length vs shape",
      build(`{"a":${T("F32", "[2]", "[0,4]")}}`, [1, 2, 3, 4]),
      'tensor "a": expected 8 bytes for F32 shape [2], got 4',
    ],
    [
      "overlap",
      build(`{"a":${T("U8", "[2]", "[0,2]")},"b":${T("U8", "[2]", "[1,3]")}}`, [1, 2, 3]),
      'tensor "b" at [1, 3] overlaps the previous tensor, which ends at 2',
    ],
    [
      "empty tensor inside another",
      build(`{"a":${T("U8", "[2]", "[0,2]")},"b":${T("U8", "[0]", "[1,1]")}}`, [1, 2]),
      "overlaps",
    ],
    [
      "gap",
      build(`{"a":${T("U8", "[1]", "[0,1]")},"b":${T("U8", "[1]", "[2,3]")}}`, [1, 2, 3]),
      "bytes [1, 2) of the data section belong to no tensor",
    ],
    ["gap at the start", build(`{"a":${T("U8", "[1]", "[1,2]")}}`, [1, 2]), "bytes [0, 1)"],
    [
      "trailing bytes",
      build(`{"a":${T("U8", "[1]", "[0,1]")}}`, [1, 2]),
      "but they end at 1 (trailing bytes)",
    ],
    [
      "metadata not strings",
      build('{"__metadata__":{"epochs":3}}'),
      'metadata "epochs": expected a string value, got 3',
    ],
    [
      "metadata array",
      build('{"__metadata__":["a"]}'),
      'expected "__metadata__" to be an object of strings',
    ],
  ];
  for (const [what, bytes, message] of cases) {
    const e = assertThrows(() => decodeSafetensors(bytes), message);
    assert(e.message.startsWith("decodeSafetensors: "), `${what}: ${e.message}`);
  }
});

// ---------------------------------------------------------------- PNG

test("crc32 matches the standard check value and PNG's IEND constant", () => {
  assertEquals(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assertEquals(crc32(new TextEncoder().encode("IEND")), 0xae426082);
  assertEquals(crc32(new Uint8Array(0)), 0);
});

test("encodePng writes the signature, IHDR fields, valid CRCs and IEND", async () => {
  const data = new Uint8Array(5 * 3 * 3).map((_, i) => (i * 37) % 256);
  const png = await encodePng({ width: 5, height: 3, channels: 3, data });
  assertEquals(Array.from(png.subarray(0, 8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  // IHDR: length 13, type, width 5, height 3, depth 8, color type 2 (RGB), 0, 0, 0
  assertEquals(
    Array.from(png.subarray(8, 29)),
    [0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 5, 0, 0, 0, 3, 8, 2, 0, 0, 0],
  );
  const view = new DataView(png.buffer);
  let at = 8;
  const types: string[] = [];
  while (at < png.length) {
    const len = view.getUint32(at);
    types.push(String.fromCharCode(...png.subarray(at + 4, at + 8)));
    assertEquals(
      view.getUint32(at + 8 + len),
      crc32(png.subarray(at + 4, at + 8 + len)),
      `CRC of ${types.at(-1)}`,
    );
    at += 12 + len;
  }
  assertEquals(at, png.length);
  assertEquals(types, ["IHDR", "IDAT", "IEND"]);
  assertEquals(Array.from(png.subarray(-12)), [
    0,
    0,
    0,
    0,
    0x49,
    0x45,
    0x4e,
    0x44,
    0xae,
    0x42,
    0x60,
    0x82,
  ]);
});

test("encodePng then decodePng gives back the pixels for 1, 3 and 4 channels", async () => {
  for (const channels of [1, 3, 4] as const) {
    const width = 17, height = 9;
    const data = new Uint8Array(width * height * channels).map((_, i) =>
      (i * 131 + channels) % 256
    );
    const img = await decodePng(await encodePng({ width, height, channels, data }));
    assertEquals([img.width, img.height, img.channels], [width, height, channels]);
    assertEquals(img.data, data, `channels ${channels}`);
  }
  await assertRejects(
    () => encodePng({ width: 2, height: 2, channels: 1, data: new Uint8Array(3) }),
    "encodePng: expected 4 bytes for 2x2x1, got 3",
  );
});

test("decodePng undoes Sub, Up, Average and Paeth filters and rejects bad CRCs", async () => {
  // 2x4 gray; each row uses another filter; the expected pixels are worked out by hand.
  const raw = new Uint8Array([1, 10, 5, 2, 1, 2, 3, 0, 0, 4, 1, 1]);
  const zlib = new Uint8Array(
    await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate")))
      .arrayBuffer(),
  );
  const chunk = (type: string, body: Uint8Array) => {
    const c = new Uint8Array(12 + body.length);
    const v = new DataView(c.buffer);
    v.setUint32(0, body.length);
    c.set(new TextEncoder().encode(type), 4);
    c.set(body, 8);
    v.setUint32(8 + body.length, crc32(c.subarray(4, 8 + body.length)));
    return c;
  };
  const ihdr = new Uint8Array([0, 0, 0, 2, 0, 0, 0, 4, 8, 0, 0, 0, 0]);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib),
    chunk("IEND", new Uint8Array(0)),
  ];
  const png = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  parts.reduce((o, p) => (png.set(p, o), o + p.length), 0);
  const img = await decodePng(png);
  // Sub [10,5] -> [10,15]; Up [1,2] -> [11,17]; Average [0,0] -> [5,11]; Paeth [1,1] -> [6,12]
  assertEquals(img.data, new Uint8Array([10, 15, 11, 17, 5, 11, 6, 12]));
  const bad = png.slice();
  bad[8 + 25 + 10] ^= 1; // a byte inside IDAT
  await assertRejects(() => decodePng(bad), /chunk IDAT: CRC 0x[0-9a-f]+ does not match/);
  await assertRejects(() => decodePng(new Uint8Array(4)), "expected the 8-byte PNG signature");
});

test("imageGrid places image k at grid row k / gridCols, column k % gridCols", () => {
  const rows = 2, cols = 3, n = 5;
  // Pixel (r, c) of image k is 10k + 3r + c + 1, so every pixel is distinct and non-zero.
  const images = new Uint8Array(n * rows * cols).map((_, i) => {
    const k = Math.floor(i / 6), r = Math.floor((i % 6) / 3), c = i % 3;
    return 10 * k + 3 * r + c + 1;
  });
  const g = imageGrid(images, { rows, cols, gridCols: 2, pad: 1, background: 200 });
  assertEquals([g.width, g.height, g.channels], [2 * 4 + 1, 3 * 3 + 1, 1]);
  const at = (x: number, y: number) => g.data[y * g.width + x];
  for (let k = 0; k < n; k++) {
    const x0 = 1 + (k % 2) * 4, y0 = 1 + Math.floor(k / 2) * 3;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        assertEquals(at(x0 + c, y0 + r), 10 * k + 3 * r + c + 1, `k=${k} r=${r} c=${c}`);
      }
    }
  }
  assertEquals([at(0, 0), at(4, 1), at(1, 3), at(5, 7)], [200, 200, 200, 200]); // border, gutters, empty slot
  // scale 2 doubles each pixel; floats 0..1 are clamped and scaled to 0..255.
  const f = imageGrid(new Float32Array([0, 0.5, 1, 2, -1, NaN]), {
    rows: 2,
    cols: 3,
    scale: 2,
    pad: 0,
  });
  assertEquals([f.width, f.height], [6, 4]);
  assertEquals(Array.from(f.data.subarray(0, 6)), [0, 0, 128, 128, 255, 255]);
  assertEquals(Array.from(f.data.subarray(18, 24)), [255, 255, 0, 0, 0, 0]);
  assertThrows(
    () => imageGrid(images, { rows, cols, n: 6 }),
    "expected 1 <= n <= 5 images of 2x3, got n=6",
  );
});

test("imageRows lays out rows of different lengths with drawn labels", () => {
  const rows = 7, cols = 7;
  const a = new Uint8Array(2 * 49).fill(50), b = new Uint8Array(49).fill(90);
  const g = imageRows([a, b], { rows, cols, pad: 1, labels: [1, 10] });
  // Label glyphs are 3x5 at scale 1 (7 / 7), two characters wide: 2 * 4 + pad = 9 columns.
  const labelW = 9;
  assertEquals([g.width, g.height], [labelW + 2 * 8 + 1, 2 * 8 + 1]);
  const at = (x: number, y: number) => g.data[y * g.width + x];
  assertEquals(at(labelW + 1, 1), 50);
  assertEquals(at(labelW + 9, 1), 50);
  assertEquals(at(labelW + 1, 9), 90);
  assertEquals(at(labelW + 9, 9), 0); // row 1 has one image only
  // "1" in row 0: glyph rows 010/110/010/010/111 start at (pad, 1 + (7 - 5) / 2).
  const glyph = [0, 1, 2, 3, 4].map((y) => [0, 1, 2].map((x) => at(1 + x, 2 + y) ? 1 : 0).join(""));
  assertEquals(glyph, ["010", "110", "010", "010", "111"]);
  assertThrows(() => imageRows([a], { rows, cols, labels: ["x"] }), "cannot draw 'x'");
  assertThrows(() => imageRows([a], { rows, cols, labels: [1, 2] }), "expected 1 labels, got 2");
});

// ---------------------------------------------------------------- CSV

test("toCsv writes a header and quotes fields per RFC 4180", () => {
  assertEquals(
    toCsv([{ epoch: 1, loss: 0.25 }, { epoch: 2, loss: 0.125 }]),
    "epoch,loss\n1,0.25\n2,0.125\n",
  );
  assertEquals(
    toCsv([{ a: 'say "hi"', b: "x,y" }, { a: "two\nlines", c: 3 }]),
    'a,b,c\n"say ""hi""","x,y",\n"two\nlines",,3\n',
  );
  assertEquals(toCsv([{ a: 1, b: 2 }], ["b", "a"]), "b,a\n2,1\n");
  assertEquals(toCsv([{ a: NaN, b: null }], undefined, ";"), "a;b\nNaN;\n");
});

test("CsvWriter emits the header once and refuses unknown columns", () => {
  const chunks: string[] = [];
  const w = new CsvWriter({ onWrite: (c) => chunks.push(c) });
  assertEquals(w.write({ epoch: 0, loss: 0.07 }), "epoch,loss\n0,0.07\n");
  assertEquals(w.write({ loss: 0.05, epoch: 1 }), "1,0.05\n");
  assertEquals(w.write({ epoch: 2 }), "2,\n");
  assertEquals(chunks, ["epoch,loss\n0,0.07\n", "1,0.05\n", "2,\n"]);
  assertEquals(w.text, "epoch,loss\n0,0.07\n1,0.05\n2,\n");
  assertEquals(w.columns, ["epoch", "loss"]);
  assertThrows(
    () => w.write({ epoch: 3, acc: 0.9 }),
    'CsvWriter.write: column "acc" is not in the header [epoch, loss]',
  );
  const fixed = new CsvWriter({ columns: ["a", "b"] });
  assertEquals(fixed.write({ b: 1 }), "a,b\n,1\n");
});
