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
 * @module
 */
import { keep, tidy } from "../tensor/scope.ts";
import { fmtShape, type GradNode, type Tensor } from "../tensor/tensor.ts";

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
): Tensor {
  if (enabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

/** Hooks the autograd engine needs from the op layer (set by src/ops to avoid an import cycle). */
export const gradOps: {
  onesLike: (t: Tensor) => Tensor;
  addInto: (dst: Tensor, src: Tensor) => void;
  add: (a: Tensor, b: Tensor) => Tensor;
  copy: (t: Tensor) => Tensor;
} = {
  onesLike: () => {
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
  // Every gradient made here is freed when backward ends, except the leaf
  // gradients moved out with keep(): rules may return aliases (identity
  // gradients), and one scope frees them all exactly once.
  tidy(() => {
    const grads = new Map<Tensor, Tensor>();
    // Sums made here are referenced by nothing else, so they may grow in place.
    const sums = new Set<Tensor>();
    grads.set(loss, seed ?? gradOps.onesLike(loss));
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
    for (const t of topoOrder(loss)) {
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      if (t.node) {
        const node = t.node;
        const inGrads = node.backward(g);
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
      } else if (t.grad) {
        // A leaf that already has a gradient: accumulate (the leaf owns it).
        gradOps.addInto(t.grad, g);
      } else {
        t.grad = keep(gradOps.copy(g));
      }
    }
  });
}
