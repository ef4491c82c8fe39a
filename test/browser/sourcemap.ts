/**
 * Maps in-page stack traces from bundle positions back to the TypeScript
 * sources, so a failing browser case points at `test/cases/x.ts:41:7` rather
 * than `entry.js:5210:13`. V8 does not apply source maps to `Error.stack`.
 *
 * @module
 */

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** One decoded mapping segment: generated column -> source, line, column (all 0-based). */
type Segment = [genCol: number, src: number, line: number, col: number];

/** A decoded source map (version 3) that answers position look-ups. */
export class SourceMap {
  #lines: Segment[][] = [];
  #sources: string[];

  /**
   * `json` is the map text; `mapUrl` (a file: URL) resolves its relative `sources`.
   * Sources under `relativeTo` (a directory path) are shown as `./path`, like Deno's stacks.
   */
  constructor(json: string, mapUrl: URL, relativeTo?: string) {
    const map = JSON.parse(json) as { sources: string[]; mappings: string; sourceRoot?: string };
    const root = new URL(map.sourceRoot ?? "", mapUrl);
    this.#sources = map.sources.map((s) => {
      const u = new URL(s, root);
      if (u.protocol !== "file:") return u.href;
      const path = decodeURIComponent(u.pathname);
      const base = relativeTo?.replace(/\/?$/, "/");
      return base && path.startsWith(base) ? `./${path.slice(base.length)}` : path;
    });
    let src = 0, line = 0, col = 0;
    for (const text of map.mappings.split(";")) {
      const segs: Segment[] = [];
      let genCol = 0;
      for (const seg of text.split(",")) {
        if (!seg) continue;
        const v = decodeVlq(seg);
        genCol += v[0];
        if (v.length < 4) continue;
        src += v[1];
        line += v[2];
        col += v[3];
        segs.push([genCol, src, line, col]);
      }
      this.#lines.push(segs);
    }
  }

  /** Source `file:line:col` (1-based) for a 1-based generated position, or null. */
  lookup(line: number, col: number): string | null {
    const segs = this.#lines[line - 1];
    if (!segs || segs.length === 0) return null;
    let best = segs[0];
    for (const s of segs) if (s[0] <= col - 1) best = s;
    return `${this.#sources[best[1]]}:${best[2] + 1}:${best[3] + 1}`;
  }
}

function decodeVlq(seg: string): number[] {
  const out: number[] = [];
  let value = 0, shift = 0;
  for (const ch of seg) {
    const digit = B64.indexOf(ch);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = shift = 0;
    }
  }
  return out;
}

/**
 * Rewrites every `<bundleUrl>:line:col` in `stack` to its source position and
 * drops the frames of Playwright's evaluation wrapper (`<anonymous>:line:col`).
 */
export function mapStack(stack: string, bundleUrl: string, map: SourceMap): string {
  const escaped = bundleUrl.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return stack.split("\n").filter((l) => !/^\s+at (async )?<anonymous>:\d+:\d+$/.test(l)).join("\n")
    .replace(
      new RegExp(`${escaped}:(\\d+):(\\d+)`, "g"),
      (whole, l, c) => map.lookup(Number(l), Number(c)) ?? whole,
    );
}
