/**
 * Reverse-mode autograd over the graph that ops record as they run.
 *
 * Each op that has an input requiring grad attaches a {@link GradNode} to its
 * output: the inputs and a closure mapping the output's gradient to theirs
 * (micrograd's design: the forward and its gradient rule sit side by side in
 * the op's file). {@link backward} walks the graph in reverse topological
 * order, sums gradients per tensor, and accumulates leaf gradients into
 * `.grad`. Intermediate gradients are disposed as soon as they are consumed.
 *
 * Disposing a tensor frees its storage but keeps its record, so a loss
 * computed inside `tidy` still back-propagates through its freed
 * intermediates whenever the gradient rules do not read them (sum, add,
 * matmul's inputs…). When a rule does need freed data, {@link backward}
 * throws naming that tensor and the fix, before any `.grad` is touched.
 *
 * @module
 */
import { keep, ownedByInnermost, tidy } from "../tensor/scope.ts";
import { DisposedTensorError, fmtShape, type GradNode, type Tensor } from "../tensor/tensor.ts";

let enabled = true;

/** Whether ops currently record gradients. */
export function gradEnabled(): boolean {
  return enabled;
}

/**
 * Runs `fn` without recording gradients (inference, metric computation,
 * in-place updates).
 *
 * @example
 * ```ts
 * const codes = lt.noGrad(() => encoder.apply(x));
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try {
    return fn();
  } finally {
    enabled = prev;
  }
}

/**
 * Attaches a gradient rule to `out` when gradients are enabled and any input
 * requires them. Returns `out`.
 */
export function record(
  out: Tensor,
  op: string,
  inputs: Tensor[],
  backward: GradNode["backward"],
  unit?: GradNode["unit"],
): Tensor {
  if (enabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = unit ? { op, inputs, backward, unit } : { op, inputs, backward };
  }
  return out;
}

/** Hooks the autograd engine needs from the op layer (set by src/ops to avoid an import cycle). */
export const gradOps: {
  unitSeed: (shape: readonly number[]) => Tensor;
  addInto: (dst: Tensor, src: Tensor) => void;
  add: (a: Tensor, b: Tensor) => Tensor;
  copy: (t: Tensor) => Tensor;
} = {
  unitSeed: () => {
    throw new Error("autograd: ops not loaded");
  },
  addInto: () => {
    throw new Error("autograd: ops not loaded");
  },
  add: () => {
    throw new Error("autograd: ops not loaded");
  },
  copy: () => {
    throw new Error("autograd: ops not loaded");
  },
};

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: deep models would overflow a recursive one.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (next.requiresGrad && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

/**
 * Back-propagates from `loss`. A scalar loss is seeded with 1; a non-scalar
 * needs an explicit `seed` gradient of the same shape. Leaf tensors that
 * require grad (parameters) receive `.grad`, added to any existing value.
 *
 * @example
 * ```ts
 * const loss = lt.mse(model.apply(x), y);
 * lt.backward(loss);
 * ```
 */
export function backward(loss: Tensor, seed?: Tensor): void {
  if (!loss.requiresGrad) {
    throw new Error(
      `backward: the tensor ${
        fmtShape(loss.shape)
      } does not require grad (no parameter contributed to it, ` +
        `or it was computed under noGrad)`,
    );
  }
  if (seed === undefined && loss.size !== 1) {
    throw new Error(
      `backward: expected a scalar loss (1 element) or an explicit seed gradient, got shape ${
        fmtShape(loss.shape)
      }`,
    );
  }
  if (seed && (seed.size !== loss.size || seed.shape.join() !== loss.shape.join())) {
    throw new Error(
      `backward: seed gradient ${fmtShape(seed.shape)} must match the loss ${fmtShape(loss.shape)}`,
    );
  }
  // A freed leaf has nowhere to put its gradient: refuse before any GPU work.
  const order = topoOrder(loss);
  for (const t of order) {
    if (!t.node && t.disposed) {
      throw new Error(
        `backward: ${describe(t)} requires grad but was disposed before backward ran; ` +
          `keep it alive (lt.keep, or create it outside the tidy) until its gradient is read`,
      );
    }
  }
  // Every gradient made here is freed when backward ends, except the leaf
  // gradients moved out with keep(): rules may return aliases (identity
  // gradients), and one scope frees them all exactly once.
  tidy(() => {
    const grads = new Map<Tensor, Tensor>();
    // Sums made here are referenced by nothing else, so they may grow in place.
    const sums = new Set<Tensor>();
    // Leaf gradients are stored only once every rule has run, so a rule
    // that fails leaves every `.grad` as it was.
    const leaves: [Tensor, Tensor][] = [];
    // A loss that already holds its gradients for a seed of 1 needs no seed.
    const unit = seed === undefined ? loss.node?.unit?.() ?? null : null;
    // Else the caller's seed, or a 1 the runtime keeps (no fill per step);
    // neither is ever written, nor handed to a leaf without a copy.
    const first = unit ? null : seed ?? gradOps.unitSeed(loss.shape);
    if (first) grads.set(loss, first);
    const give = (t: Tensor, g: Tensor) => {
      const prev = grads.get(t);
      if (!prev) grads.set(t, g);
      else if (sums.has(prev)) gradOps.addInto(prev, g);
      else {
        const sum = gradOps.add(prev, g);
        sums.add(sum);
        grads.set(t, sum);
      }
    };
    for (const t of order) {
      const g = grads.get(t);
      if (!g && !(unit && t === loss)) continue;
      grads.delete(t);
      if (t.node) {
        const node = t.node;
        const inGrads = g ? runRule(node, g) : unit!;
        node.inputs.forEach((input, i) => {
          const gi = inGrads[i];
          if (!gi || !input.requiresGrad) return;
          if (gi.shape.join() !== input.shape.join()) {
            throw new Error(
              `backward: ${node.op} returned a gradient ${fmtShape(gi.shape)} for an input ${
                fmtShape(input.shape)
              }`,
            );
          }
          give(input, gi);
        });
      } else if (g) leaves.push([t, g]);
    }
    const uses = new Map<Tensor, number>();
    for (const [, g] of leaves) uses.set(g, (uses.get(g) ?? 0) + 1);
    for (const [t, g] of leaves) {
      // A leaf that already has a gradient accumulates into it (the leaf owns it).
      if (t.grad) gradOps.addInto(t.grad, g);
      else if (
        g !== first && uses.get(g) === 1 && ownedByInnermost(g) && g.storage("backward").refs === 1
      ) {
        // Made here, by nothing else shared (no alias, view or other leaf):
        // the leaf takes it as it is, without a copy (one per parameter per
        // step otherwise).
        g.node = null;
        g.requiresGrad = false;
        t.grad = keep(g);
      } else t.grad = keep(gradOps.copy(g));
    }
  });
}

/** A tensor as messages name it: its name or the op that made it, and its shape. */
function describe(t: Tensor): string {
  const what = t.name ? `"${t.name}"` : t.node ? `the output of ${t.node.op}` : "a tensor";
  return `${what} ${fmtShape(t.shape)}`;
}

/** Runs a gradient rule; a freed tensor it reads is named, with the fix. */
function runRule(node: GradNode, g: Tensor): (Tensor | null)[] {
  try {
    return node.backward(g);
  } catch (e) {
    if (!(e instanceof DisposedTensorError)) throw e;
    throw new Error(
      `backward: the gradient of ${node.op} needs ${describe(e.tensor)}, which was disposed ` +
        `before backward ran (tidy frees what it does not return). Call backward inside the ` +
        `same tidy as the loss, or lt.keep() that tensor until backward has run`,
      { cause: e },
    );
  }
}
