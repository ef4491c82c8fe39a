/**
 * Scopes: free every tensor a block created except what it returns.
 *
 * A training step makes dozens of intermediate tensors (activations, their
 * gradients, loss terms). Wrapping the step in {@link tidy} frees them all when
 * it ends, which is what keeps memory flat over thousands of steps. Scopes are
 * synchronous on purpose: a step records GPU work and never awaits, so no
 * other code can interleave and create tensors inside someone else's scope.
 *
 * @module
 */
import type { Tensor } from "./tensor.ts";

const stack: Set<Tensor>[] = [];

/** Registers a new tensor with the innermost scope (called by the Tensor constructor). */
export function track(t: Tensor): void {
  if (stack.length) stack[stack.length - 1].add(t);
}

/** Forgets a tensor (disposed, or kept). */
export function untrack(t: Tensor): void {
  if (stack.length) stack[stack.length - 1].delete(t);
}

/** True inside {@link tidy}: a tensor made now is freed by a scope if nobody keeps it. */
export function inScope(): boolean {
  return stack.length > 0;
}

/** True when `t` was made in the innermost scope and is still tracked by it. */
export function ownedByInnermost(t: Tensor): boolean {
  return stack.length > 0 && stack[stack.length - 1].has(t);
}

/**
 * Moves tensors out of the innermost scope so `tidy` will not free them
 * (parameters, optimizer state, gradients created inside a step).
 *
 * @example
 * ```ts
 * lt.tidy(() => { state = lt.keep(lt.zeros([10])); });
 * ```
 */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (!value || typeof value !== "object" || depth > 4) return;
  if ("shape" in value && "dtype" in value && "dispose" in value) {
    out.add(value as Tensor);
    return;
  }
  if (Array.isArray(value)) { for (const v of value) collect(v, out, depth + 1); }
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, depth + 1);
  }
}

/**
 * Runs `fn` and disposes every tensor it created, except tensors in its
 * return value (a tensor, or arrays / plain objects of them), which move to
 * the enclosing scope.
 *
 * @example
 * ```ts
 * const y = lt.tidy(() => lt.add(lt.mul(x, w), b)); // the product is freed
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new Error("tidy: the function must be synchronous (it returned a Promise)");
  }
  const kept = new Set<Tensor>();
  collect(result, kept);
  for (const t of scope) {
    if (kept.has(t)) track(t);
    else t.dispose();
  }
  return result;
}
