/**
 * Accuracy metrics as 0/1 hit vectors, summed by the caller on the GPU.
 *
 * `categorical`: one thread per row compares argmax(pred) with argmax(target)
 * (first index on ties, as NumPy). `binary`: one thread per element compares
 * pred > 0.5 with target > 0.5 (Keras' binary_accuracy threshold).
 *
 * Dispatch: ceil(rows / WG) or ceil(n / WG) workgroups. Bindings: P = pred, T = target (read),
 * hits (write).
 * @module
 */
import { ENTRY_1D, family } from "./common.ts";
import { declare, type DeclaredKernel } from "./declare.ts";

/** Specialisation of the accuracy family. */
export interface AccuracySpec {
  mode: "categorical" | "binary";
}

/** The accuracy kernel. Uniform: n (rows or elements), classes. */
export const accuracyKernel: (spec: AccuracySpec) => DeclaredKernel = family(
  "accuracy",
  (spec: AccuracySpec) =>
    declare({
      key: `accuracy/${spec.mode}`,
      inputs: { P: "f32", T: "f32" },
      outputs: { hits: "f32" },
      uniforms: { n: "u32", classes: "u32" },
      entry: ENTRY_1D,
      main: /* wgsl */ `
  if (i >= u.n) { return; }
${
        spec.mode === "binary"
          ? "  hits[i] = select(0.0, 1.0, (P[i] > 0.5) == (T[i] > 0.5));"
          : `  let base = i * u.classes;
  var bp = 0u; var bt = 0u;
  for (var c = 1u; c < u.classes; c++) {
    if (P[base + c] > P[base + bp]) { bp = c; }
    if (T[base + c] > T[base + bt]) { bt = c; }
  }
  hits[i] = select(0.0, 1.0, bp == bt);`
      }`,
    }),
);
