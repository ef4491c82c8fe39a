/**
 * The kernel boundary (DESIGN.md, layers): only src/ops launches kernels
 * and records copies, and only src/gpu talks to the device's queue and
 * encoders. Layers above (nn, data, io, …) call ops, so each kernel has one
 * place that validates and launches it. This test reads the source tree and
 * fails on any file of a checked folder that records GPU work itself.
 * Deno-only (it reads files).
 * @module
 */
import { assertEquals } from "./assert.ts";

/** The folders held to the boundary: every layer of src/ but ops and gpu. */
const CHECKED_DIRS = [
  "src/cluster",
  "src/nn",
  "src/data",
  "src/io",
  "src/metrics",
  "src/tensor",
  "src/autograd",
] as const;

/**
 * What recording GPU work looks like in source: launching a kernel,
 * dispatching, copying or writing buffers through the runtime (`rt`, by
 * the codebase's convention, or `runtime()`), or reaching the device's
 * encoders and queue directly.
 */
const FORBIDDEN: readonly RegExp[] = [
  /\blaunchKernel\(/,
  /\bdispatch\(/,
  /copyBufferToBuffer/,
  /createCommandEncoder/,
  /\.queue\.writeBuffer/,
  /\b(?:rt|runtime\(\))\.(?:copy|write)\(/,
];

/** `path:line: text` for every line of `source` that records GPU work. */
export function boundaryViolations(path: string, source: string): string[] {
  return source.split("\n").flatMap((line, i) =>
    FORBIDDEN.some((re) => re.test(line)) ? [`${path}:${i + 1}: ${line.trim()}`] : []
  );
}

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (entry.isFile && /\.(?:ts|js|mjs)$/.test(entry.name)) yield path;
  }
}

const root = new URL("../", import.meta.url).pathname;

Deno.test("only src/ops and src/gpu launch kernels or record buffer copies", async () => {
  const violations: string[] = [];
  let files = 0;
  for (const dir of CHECKED_DIRS) {
    for await (const path of sourceFiles(root + dir)) {
      files++;
      violations.push(
        ...boundaryViolations(path.slice(root.length), await Deno.readTextFile(path)),
      );
    }
  }
  assertEquals(files > 20, true, `read only ${files} source files under ${CHECKED_DIRS}`);
  assertEquals(violations, [], "move these into an op under src/ops:\n" + violations.join("\n"));
});

Deno.test("the boundary check catches each way of recording GPU work", () => {
  const offending = [
    `launchKernel("relu", kernel, { X: x, out }, { n }, 1);`,
    `rt.dispatch({ op, kernel, buffers, workgroups });`,
    `encoder.copyBufferToBuffer(a, 0, b, 0, 4);`,
    `const encoder = device.createCommandEncoder();`,
    `device.queue.writeBuffer(buffer, 0, data);`,
    `rt.copy(op, src, 0, dst, 0, 4);`,
    `runtime().copy("setWeights", src, 0, dst, 0, 4);`,
    `rt.write(t.storage().buffer, host);`,
  ];
  offending.forEach((line, i) =>
    assertEquals(boundaryViolations("src/nn/x.ts", `const a = 1;\n${line}`), [
      `src/nn/x.ts:2: ${line}`,
    ], `case ${i} was not caught`)
  );
  const allowed = [
    `copyInto(status, t, { offset: slot, op });`,
    `const bytes = await s.rt.read(s.buffer, this.byteLength);`,
    `log.write({ epoch: 0, loss: 0.07 });`,
    `else t.grad = keep(gradOps.copy(g));`,
  ];
  assertEquals(boundaryViolations("src/nn/x.ts", allowed.join("\n")), []);
});
