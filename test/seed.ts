/**
 * Where every test seed comes from: one root seed per run, and per case a
 * stream of seeds derived from (root seed, case name, draw index). A case
 * replayed alone with `--filter` therefore draws exactly the inputs it drew in
 * the full run, whatever ran before it.
 *
 * The root seed reaches a Deno test process as `LATENT_TEST_SEED` (set by
 * `tools/test.ts`) and the browser page as `?seed=N` (set by
 * `test/browser/session.ts`). Without either, {@link DEFAULT_ROOT_SEED}.
 *
 * @module
 */

/** The root seed when nothing sets one (e.g. a bare `deno test` run). */
export const DEFAULT_ROOT_SEED = 1;

/** Reads a root seed: a decimal integer in [0, 2^32). */
export function parseSeed(text: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n >= 2 ** 32) {
    throw new Error(`seed: expected an integer in [0, 2^32), got "${text}"`);
  }
  return n;
}

function envSeed(): number | undefined {
  const deno = (globalThis as { Deno?: { env: { get(k: string): string | undefined } } }).Deno;
  const text = deno?.env.get("LATENT_TEST_SEED");
  return text === undefined || text === "" ? undefined : parseSeed(text);
}

let root: number = envSeed() ?? DEFAULT_ROOT_SEED;
let current = { name: "", draws: 0 };

/** The run's root seed. */
export function rootSeed(): number {
  return root;
}

/** Sets the root seed (the browser page does, from its URL). */
export function setRootSeed(seed: number): void {
  root = seed;
}

/** Marks `name` as the running case; its draw counter starts again at 0. */
export function enterCase(name: string): void {
  current = { name, draws: 0 };
}

/** FNV-1a over UTF-16 code units, then a murmur3 finaliser: a well-mixed 32-bit hash. */
function hash32(words: readonly number[], text: string): number {
  let h = 0x811c9dc5;
  const mix = (x: number) => {
    h = Math.imul(h ^ (x & 0xffff), 0x01000193);
    h = Math.imul(h ^ (x >>> 16), 0x01000193);
  };
  for (const w of words) mix(w >>> 0);
  for (let i = 0; i < text.length; i++) mix(text.charCodeAt(i));
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The seed of draw `index` within case `name` under root seed `rootSeed`. */
export function caseSeed(rootSeed: number, name: string, index: number): number {
  return hash32([rootSeed, index], name);
}

/** The next seed of the running case (its name, and how many it has drawn so far). */
export function nextCaseSeed(): number {
  return caseSeed(root, current.name, current.draws++);
}

/** The shell command that reruns the case `name` with root seed `seed`. */
export function replayCommand(seed: number, name: string): string {
  return `deno task test --seed ${seed} --filter ${shellQuote(name)}`;
}

/** Quotes `s` for a POSIX shell: double quotes unless it holds `"`, `$`, `` ` `` or `\`. */
export function shellQuote(s: string): string {
  if (!/["$`\\!]/.test(s)) return `"${s}"`;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
