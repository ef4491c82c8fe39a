/**
 * Assertions usable in Deno and in the browser bundle (no Deno APIs).
 * @module
 */

/** Thrown when an assertion fails. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

/** Fails unless `cond` is truthy. */
export function assert(cond: unknown, message = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(message);
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => ArrayBuffer.isView(x) ? Array.from(x as Float32Array) : x);
  } catch {
    return String(v);
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<unknown>, y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length &&
      ka.every((k) =>
        deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
      );
  }
  return false;
}

/** Structural equality (arrays, typed arrays, plain objects). */
export function assertEquals(actual: unknown, expected: unknown, message?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(
      `${message ? message + ": " : ""}expected ${show(expected)}, got ${show(actual)}`,
    );
  }
}

/**
 * Element-wise closeness: |a - e| <= atol + rtol * |e| for every element.
 * `atol` is one number, or one bound per element (for results whose rounding
 * error scales with what went into them, e.g. a sum's with Σ|x|, not with its
 * possibly cancelled value).
 * Reports the worst element so a failing kernel says where it went wrong.
 * NaN never passes (a poisoned, unwritten output shows up here).
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-5, atol = 1e-6, label = "" }: {
    rtol?: number;
    atol?: number | ArrayLike<number>;
    label?: string;
  } = {},
): void {
  const tag = label ? label + ": " : "";
  if (actual.length !== expected.length) {
    throw new AssertionError(`${tag}length ${actual.length} != expected ${expected.length}`);
  }
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    const err = Math.abs(a - e);
    const excess = err - ((typeof atol === "number" ? atol : atol[i]) + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    throw new AssertionError(
      `${tag}element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(rtol ${rtol}, atol ${typeof atol === "number" ? atol : atol[worst]}, ` +
        `${actual.length} elements)`,
    );
  }
}

/** Fails unless `fn` throws an error whose message matches `pattern`. Returns the error. */
export function assertThrows(fn: () => unknown, pattern?: RegExp | string): Error {
  try {
    fn();
  } catch (e) {
    return checkError(e, pattern);
  }
  throw new AssertionError(`expected an error${pattern ? " matching " + pattern : ""}`);
}

/** Async variant of {@link assertThrows}. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  pattern?: RegExp | string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, pattern);
  }
  throw new AssertionError(`expected a rejection${pattern ? " matching " + pattern : ""}`);
}

function checkError(e: unknown, pattern?: RegExp | string): Error {
  if (!(e instanceof Error)) throw new AssertionError(`expected an Error, got ${show(e)}`);
  if (e instanceof AssertionError) throw e;
  if (pattern !== undefined) {
    const ok = typeof pattern === "string" ? e.message.includes(pattern) : pattern.test(e.message);
    if (!ok) throw new AssertionError(`error "${e.message}" does not match ${pattern}`);
  }
  return e;
}
