/**
 * A tiny scatter-plot rasteriser for the demos: 2-D points coloured by label,
 * drawn as anti-aliased, semi-transparent discs on a ggplot-like panel (grey
 * background, white grid, tick values), with a title and a legend, written
 * as PNG through `lt.io.encodePng`. No dependencies, browser-safe (the web
 * demo draws the same raster on a canvas).
 *
 * @example
 * ```ts
 * import { scatterPng } from "./plot.ts";
 * const png = await scatterPng(codes, labels, { width: 640, height: 480, title: "PCA" });
 * await Deno.writeFile("pca.png", png);
 * ```
 *
 * @module
 */
import * as lt from "../src/mod.ts";

/**
 * Twenty distinguishable colours (the palette of the PCA-vs-autoencoder
 * tutorial), as `#rrggbb`. Label `k` gets `PALETTE[k % 20]`.
 */
// deno-fmt-ignore
export const PALETTE: readonly string[] = [
  "#1FC17B", "#78FECF", "#555B6E", "#CC998D", "#429EA6",
  "#153B50", "#8367C7", "#EE6352", "#C287E8", "#F0A6CA",
  "#521945", "#361F27", "#828489", "#9AD2CB", "#EBD494",
  "#53599A", "#80DED9", "#EF2D56", "#446DF6", "#AF929D",
];

/** Options of {@link scatterImage} and {@link scatterPng}. */
export interface ScatterOptions {
  /** Image width in pixels (at least 120). */
  width: number;
  /** Image height in pixels (at least 100). */
  height: number;
  /** Drawn centred above the panel. */
  title?: string;
  /** Caption under the x axis. */
  xLabel?: string;
  /** Caption above the y axis (drawn horizontally, top left). */
  yLabel?: string;
  /** Disc radius in pixels (default: 2.5 below 2000 points, 1.8 above). */
  radius?: number;
  /** Opacity of each disc, 0..1 (default 0.5; overlapping discs build up). */
  alpha?: number;
  /** A colour key of the labels on the right (default: when there are at most 20 labels). */
  legend?: boolean;
}

/** Row `r` of a glyph is a 5-character string, `#` = ink. Seven rows per glyph. */
const FONT_SRC: Record<string, string> = {
  " ": ".....|.....|.....|.....|.....|.....|.....",
  "0": ".###.|#...#|#..##|#.#.#|##..#|#...#|.###.",
  "1": "..#..|.##..|..#..|..#..|..#..|..#..|.###.",
  "2": ".###.|#...#|....#|...#.|..#..|.#...|#####",
  "3": "####.|....#|....#|.###.|....#|....#|####.",
  "4": "...#.|..##.|.#.#.|#..#.|#####|...#.|...#.",
  "5": "#####|#....|####.|....#|....#|#...#|.###.",
  "6": "..##.|.#...|#....|####.|#...#|#...#|.###.",
  "7": "#####|....#|...#.|..#..|.#...|.#...|.#...",
  "8": ".###.|#...#|#...#|.###.|#...#|#...#|.###.",
  "9": ".###.|#...#|#...#|.####|....#|...#.|.##..",
  "A": ".###.|#...#|#...#|#####|#...#|#...#|#...#",
  "B": "####.|#...#|#...#|####.|#...#|#...#|####.",
  "C": ".###.|#...#|#....|#....|#....|#...#|.###.",
  "D": "####.|#...#|#...#|#...#|#...#|#...#|####.",
  "E": "#####|#....|#....|####.|#....|#....|#####",
  "F": "#####|#....|#....|####.|#....|#....|#....",
  "G": ".###.|#...#|#....|#.###|#...#|#...#|.####",
  "H": "#...#|#...#|#...#|#####|#...#|#...#|#...#",
  "I": ".###.|..#..|..#..|..#..|..#..|..#..|.###.",
  "J": "..###|...#.|...#.|...#.|...#.|#..#.|.##..",
  "K": "#...#|#..#.|#.#..|##...|#.#..|#..#.|#...#",
  "L": "#....|#....|#....|#....|#....|#....|#####",
  "M": "#...#|##.##|#.#.#|#.#.#|#...#|#...#|#...#",
  "N": "#...#|#...#|##..#|#.#.#|#..##|#...#|#...#",
  "O": ".###.|#...#|#...#|#...#|#...#|#...#|.###.",
  "P": "####.|#...#|#...#|####.|#....|#....|#....",
  "Q": ".###.|#...#|#...#|#...#|#.#.#|#..#.|.##.#",
  "R": "####.|#...#|#...#|####.|#.#..|#..#.|#...#",
  "S": ".####|#....|#....|.###.|....#|....#|####.",
  "T": "#####|..#..|..#..|..#..|..#..|..#..|..#..",
  "U": "#...#|#...#|#...#|#...#|#...#|#...#|.###.",
  "V": "#...#|#...#|#...#|#...#|#...#|.#.#.|..#..",
  "W": "#...#|#...#|#...#|#.#.#|#.#.#|#.#.#|.#.#.",
  "X": "#...#|#...#|.#.#.|..#..|.#.#.|#...#|#...#",
  "Y": "#...#|#...#|.#.#.|..#..|..#..|..#..|..#..",
  "Z": "#####|....#|...#.|..#..|.#...|#....|#####",
  "a": ".....|.....|.###.|....#|.####|#...#|.####",
  "b": "#....|#....|#.##.|##..#|#...#|#...#|####.",
  "c": ".....|.....|.###.|#....|#....|#...#|.###.",
  "d": "....#|....#|.##.#|#..##|#...#|#...#|.####",
  "e": ".....|.....|.###.|#...#|#####|#....|.###.",
  "f": "..##.|.#..#|.#...|###..|.#...|.#...|.#...",
  "g": ".....|.####|#...#|#...#|.####|....#|.###.",
  "h": "#....|#....|#.##.|##..#|#...#|#...#|#...#",
  "i": "..#..|.....|.##..|..#..|..#..|..#..|.###.",
  "j": "...#.|.....|..##.|...#.|...#.|#..#.|.##..",
  "k": "#....|#....|#..#.|#.#..|##...|#.#..|#..#.",
  "l": ".##..|..#..|..#..|..#..|..#..|..#..|.###.",
  "m": ".....|.....|##.#.|#.#.#|#.#.#|#...#|#...#",
  "n": ".....|.....|#.##.|##..#|#...#|#...#|#...#",
  "o": ".....|.....|.###.|#...#|#...#|#...#|.###.",
  "p": ".....|.....|####.|#...#|####.|#....|#....",
  "q": ".....|.....|.##.#|#..##|.####|....#|....#",
  "r": ".....|.....|#.##.|##..#|#....|#....|#....",
  "s": ".....|.....|.###.|#....|.###.|....#|####.",
  "t": ".#...|.#...|###..|.#...|.#...|.#..#|..##.",
  "u": ".....|.....|#...#|#...#|#...#|#..##|.##.#",
  "v": ".....|.....|#...#|#...#|#...#|.#.#.|..#..",
  "w": ".....|.....|#...#|#...#|#.#.#|#.#.#|.#.#.",
  "x": ".....|.....|#...#|.#.#.|..#..|.#.#.|#...#",
  "y": ".....|.....|#...#|#...#|.####|....#|.###.",
  "z": ".....|.....|#####|...#.|..#..|.#...|#####",
  ".": ".....|.....|.....|.....|.....|.##..|.##..",
  ",": ".....|.....|.....|.....|.##..|..#..|.#...",
  ":": ".....|.##..|.##..|.....|.##..|.##..|.....",
  ";": ".....|.##..|.##..|.....|.##..|..#..|.#...",
  "-": ".....|.....|.....|#####|.....|.....|.....",
  "+": ".....|..#..|..#..|#####|..#..|..#..|.....",
  "=": ".....|.....|#####|.....|#####|.....|.....",
  "_": ".....|.....|.....|.....|.....|.....|#####",
  "/": ".....|....#|...#.|..#..|.#...|#....|.....",
  "(": "...#.|..#..|.#...|.#...|.#...|..#..|...#.",
  ")": ".#...|..#..|...#.|...#.|...#.|..#..|.#...",
  "[": ".###.|.#...|.#...|.#...|.#...|.#...|.###.",
  "]": ".###.|...#.|...#.|...#.|...#.|...#.|.###.",
  "%": "##...|##..#|...#.|..#..|.#...|#..##|...##",
  "#": ".#.#.|.#.#.|#####|.#.#.|#####|.#.#.|.#.#.",
  "'": "..#..|..#..|.#...|.....|.....|.....|.....",
  "!": "..#..|..#..|..#..|..#..|..#..|.....|..#..",
  "?": ".###.|#...#|....#|...#.|..#..|.....|..#..",
  "<": "...#.|..#..|.#...|#....|.#...|..#..|...#.",
  ">": ".#...|..#..|...#.|....#|...#.|..#..|.#...",
  "*": ".....|..#..|#.#.#|.###.|#.#.#|..#..|.....",
  "×": ".....|#...#|.#.#.|..#..|.#.#.|#...#|.....",
  "→": ".....|..#..|...#.|#####|...#.|..#..|.....",
  "−": ".....|.....|.....|#####|.....|.....|.....",
};

/** Glyph rows as 5-bit masks (bit 4 = leftmost column). */
const FONT: Map<string, number[]> = new Map(
  Object.entries(FONT_SRC).map(([ch, pic]) => [
    ch,
    pic.split("|").map((row) => [...row].reduce((m, c) => (m << 1) | (c === "#" ? 1 : 0), 0)),
  ]),
);
const GLYPH_W = 6, GLYPH_H = 7; // advance (5 + 1 space) and height

type Rgb = [number, number, number];

function hex(c: string): Rgb {
  const v = parseInt(c.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** An RGB raster with alpha-blended pixel writes. */
class Canvas {
  readonly data: Uint8Array;
  constructor(readonly width: number, readonly height: number, bg: Rgb) {
    this.data = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.data.set(bg, i * 3);
  }
  blend(x: number, y: number, c: Rgb, a: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || a <= 0) return;
    const o = (y * this.width + x) * 3;
    for (let k = 0; k < 3; k++) {
      this.data[o + k] = Math.round(this.data[o + k] * (1 - a) + c[k] * a);
    }
  }
  rect(x0: number, y0: number, w: number, h: number, c: Rgb, a = 1): void {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) this.blend(x, y, c, a);
  }
  /** An anti-aliased disc: coverage falls off over the last pixel of the radius. */
  disc(cx: number, cy: number, r: number, c: Rgb, a: number): void {
    const x0 = Math.floor(cx - r - 1), x1 = Math.ceil(cx + r + 1);
    const y0 = Math.floor(cy - r - 1), y1 = Math.ceil(cy + r + 1);
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        const cover = Math.min(1, Math.max(0, r + 0.5 - d));
        if (cover > 0) this.blend(x, y, c, a * cover);
      }
    }
  }
  /** Text with its top-left corner at (x, y); unknown characters draw as `?`. */
  text(s: string, x: number, y: number, c: Rgb, scale = 1): void {
    let at = x;
    for (const ch of s) {
      const rows = FONT.get(ch) ?? FONT.get(ch.toUpperCase()) ?? FONT.get("?")!;
      for (let r = 0; r < GLYPH_H; r++) {
        for (let col = 0; col < 5; col++) {
          if (rows[r] & (1 << (4 - col))) {
            this.rect(at + col * scale, y + r * scale, scale, scale, c);
          }
        }
      }
      at += GLYPH_W * scale;
    }
  }
}

function textWidth(s: string, scale = 1): number {
  return Math.max(0, [...s].length * GLYPH_W - 1) * scale;
}

/** About `count` round tick values covering [lo, hi] (Heckbert's nice numbers). */
function niceTicks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

function fmtTick(v: number, step: number): string {
  const digits = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(digits);
}

function checkInputs(points: Float32Array, labels: ArrayLike<number>, o: ScatterOptions): number {
  if (!(points instanceof Float32Array) || points.length % 2 !== 0) {
    throw new TypeError(
      `scatterPng: expected points as a Float32Array of n×2 coordinates, got length ${
        (points as { length?: number })?.length
      }`,
    );
  }
  const n = points.length / 2;
  if (labels.length !== n) {
    throw new RangeError(`scatterPng: expected ${n} labels (one per point), got ${labels.length}`);
  }
  for (const [k, v, min] of [["width", o.width, 120], ["height", o.height, 100]] as const) {
    if (!Number.isInteger(v) || v < min || v > 8192) {
      throw new RangeError(
        `scatterPng: expected ${k} to be an integer in [${min}, 8192], got ${v}`,
      );
    }
  }
  if (o.alpha !== undefined && !(o.alpha > 0 && o.alpha <= 1)) {
    throw new RangeError(`scatterPng: expected alpha in (0, 1], got ${o.alpha}`);
  }
  if (o.radius !== undefined && !(o.radius > 0 && o.radius < 50)) {
    throw new RangeError(`scatterPng: expected radius in (0, 50), got ${o.radius}`);
  }
  return n;
}

/**
 * Rasterises a scatter plot of `points` (n×2, row-major) coloured by
 * `labels` into an RGB image. Non-finite points are skipped.
 *
 * @example
 * ```ts
 * const img = scatterImage(new Float32Array([0, 0, 1, 1]), [0, 1], { width: 320, height: 240 });
 * img.channels; // 3
 * ```
 */
export function scatterImage(
  points: Float32Array,
  labels: ArrayLike<number>,
  options: ScatterOptions,
): lt.io.PngImage {
  const n = checkInputs(points, labels, options);
  const { width, height } = options;
  const ink: Rgb = [60, 60, 60], grid: Rgb = [255, 255, 255], panelBg: Rgb = [229, 229, 229];
  const cv = new Canvas(width, height, [255, 255, 255]);

  const present = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  const legend = options.legend ?? present.length <= 20;
  const legendW = legend ? 14 + Math.max(...present.map((l) => textWidth(String(l)))) + 10 : 0;
  const top = (options.title ? 26 : 10) + (options.yLabel ? 10 : 0);
  const left = 14 + textWidth("-0.000"), bottom = options.xLabel ? 34 : 22, right = 10 + legendW;
  const pw = width - left - right, ph = height - top - bottom;
  if (pw < 40 || ph < 40) {
    throw new RangeError(`scatterPng: ${width}x${height} leaves no room for the panel`);
  }

  // Data range with 5% padding; a degenerate axis gets ±1 around its value.
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = points[2 * i], y = points[2 * i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    x0 = Math.min(x0, x), x1 = Math.max(x1, x), y0 = Math.min(y0, y), y1 = Math.max(y1, y);
  }
  if (x0 > x1) x0 = y0 = -1, x1 = y1 = 1; // no finite point
  const pad = (lo: number, hi: number): [number, number] =>
    hi - lo > 0 ? [lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)] : [lo - 1, hi + 1];
  [x0, x1] = pad(x0, x1);
  [y0, y1] = pad(y0, y1);
  const sx = (x: number) => left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => top + ph - ((y - y0) / (y1 - y0)) * ph;

  cv.rect(left, top, pw, ph, panelBg);
  const xt = niceTicks(x0, x1, 6), yt = niceTicks(y0, y1, 5);
  const xStep = xt.length > 1 ? xt[1] - xt[0] : 1, yStep = yt.length > 1 ? yt[1] - yt[0] : 1;
  for (const v of xt) {
    const px = Math.round(sx(v));
    cv.rect(px, top, 1, ph, grid);
    cv.rect(px, top + ph, 1, 3, ink);
    const s = fmtTick(v, xStep);
    cv.text(s, px - Math.floor(textWidth(s) / 2), top + ph + 5, ink);
  }
  for (const v of yt) {
    const py = Math.round(sy(v));
    cv.rect(left, py, pw, 1, grid);
    cv.rect(left - 3, py, 3, 1, ink);
    const s = fmtTick(v, yStep);
    cv.text(s, left - 5 - textWidth(s), py - 3, ink);
  }

  const r = options.radius ?? (n > 2000 ? 1.8 : 2.5);
  const alpha = options.alpha ?? 0.5;
  const colours = PALETTE.map(hex);
  for (let i = 0; i < n; i++) {
    const x = points[2 * i], y = points[2 * i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const l = labels[i];
    const c = colours[((Math.trunc(l) % 20) + 20) % 20];
    cv.disc(sx(x), sy(y), r, c, alpha);
  }
  // The panel's frame, drawn last so discs at the edge stay inside it.
  cv.rect(left - 1, top - 1, pw + 2, 1, ink);
  cv.rect(left - 1, top + ph, pw + 2, 1, ink);
  cv.rect(left - 1, top - 1, 1, ph + 2, ink);
  cv.rect(left + pw, top - 1, 1, ph + 2, ink);
  if (options.title) {
    const s = options.title;
    const scale = textWidth(s, 2) <= width - 8 ? 2 : 1;
    cv.text(s, Math.max(4, Math.floor((width - textWidth(s, scale)) / 2)), 5, [20, 20, 20], scale);
  }
  if (options.xLabel) {
    const s = options.xLabel;
    cv.text(s, left + Math.floor((pw - textWidth(s)) / 2), height - 11, ink);
  }
  if (options.yLabel) cv.text(options.yLabel, 4, top - 11, ink);
  if (legend) {
    const lx = left + pw + 10;
    const rowH = Math.min(14, Math.floor(ph / Math.max(1, present.length)));
    present.forEach((l, k) => {
      const ly = top + k * rowH;
      const c = colours[((Math.trunc(l) % 20) + 20) % 20];
      cv.disc(lx + 3.5, ly + 3.5, 3.5, c, 1);
      if (rowH >= 8) cv.text(String(l), lx + 11, ly, ink);
    });
  }
  return { width, height, channels: 3, data: cv.data };
}

/**
 * A scatter plot of `points` (n×2, row-major) coloured by `labels`, as PNG
 * bytes: 20-colour palette, axes box with tick values, points as small
 * semi-transparent discs, optional title and legend.
 *
 * @example
 * ```ts
 * const png = await scatterPng(codes, yTest, { width: 640, height: 480, title: "Autoencoder codes" });
 * await Deno.writeFile("out/autoencoder.png", png);
 * ```
 */
export function scatterPng(
  points: Float32Array,
  labels: ArrayLike<number>,
  options: ScatterOptions,
): Promise<Uint8Array> {
  return lt.io.encodePng(scatterImage(points, labels, options));
}
