/**
 * Kernel declarations (shaders/declare.ts): the generated bindings and
 * uniform struct, the uniform layout WGSL gives it, and the checks
 * `launchKernel` makes by name before any GPU work.
 */
import * as lt from "../../src/mod.ts";
import {
  type Builtin,
  declare,
  type Entry,
  packUniforms,
  type WorkgroupSize,
} from "../../shaders/declare.ts";
import { ENTRY_1D, WG } from "../../shaders/common.ts";
import { launchKernel } from "../../src/ops/kernel_call.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { test } from "../harness.ts";
import { freshRng } from "../ref.ts";

/** y = x · s + bias[dims[1]] (one dims field to check the 16-byte alignment). */
const SCALE = declare({
  key: "test/scale",
  inputs: { X: "f32" },
  outputs: { Y: "f32" },
  uniforms: { n: "u32", s: "f32", shape: "dims", bias: "f32", k: "i32" },
  entry: ENTRY_1D,
  main: /* wgsl */ `
  if (i >= u.n) { return; }
  Y[i] = X[i] * u.s + u.bias + f32(u.shape[0].y) + f32(u.k);`,
});

test("a declaration generates the bindings and a struct laid out as WGSL lays it out", () => {
  assertEquals(SCALE.bindings, ["read", "write"]);
  assert(SCALE.code.includes("@group(0) @binding(0) var<storage, read> X: array<f32>;"), "X");
  assert(SCALE.code.includes("@group(0) @binding(1) var<storage, read_write> Y: array<f32>;"), "Y");
  assert(SCALE.code.includes("@group(0) @binding(2) var<uniform> u: U;"), "u");
  assert(SCALE.code.includes("shape: array<vec4u, 2>,"), "dims field");
  // n, s at 0 and 4; shape aligned to 16 (two vec4u); bias and k after it; 64 bytes in all.
  assertEquals(
    SCALE.fields.map((f) => [f.name, f.offset]),
    [["n", 0], ["s", 4], ["shape", 16], ["bias", 48], ["k", 52]],
  );
  assertEquals(SCALE.uniformBytes, 64);
  const bytes = packUniforms(SCALE, { n: 3, s: 0.5, shape: [7, 9], bias: -1, k: -2 });
  const v = new DataView(bytes.buffer);
  assertEquals(
    [v.getUint32(0, true), v.getFloat32(4, true), v.getUint32(20, true), v.getInt32(52, true)],
    [3, 0.5, 9, -2],
  );
  assertThrows(
    () =>
      declare({
        key: "bad",
        inputs: { X: "f32" },
        outputs: { X: "f32" },
        entry: ENTRY_1D,
        main: "",
      }),
    /repeated name "X"/,
  );
});

/** A 2-D kernel: Y[wid.x·32 + lid.y·8 + lid.x] = its local index + K, over one 8×4 workgroup per 32 values. */
const GRID = declare({
  key: "test/grid",
  inputs: {},
  outputs: { Y: "u32" },
  entry: { workgroupSize: [8, 4], builtins: ["workgroup_id", "local_invocation_id"] },
  helpers: "const K = 3u;",
  main: /* wgsl */ `
  Y[wid.x * 32u + lid.y * 8u + lid.x] = lid.y * 8u + lid.x + K;`,
});

test("a declaration generates its entry point from the workgroup size and builtins", async () => {
  assertEquals(
    GRID.code,
    [
      "@group(0) @binding(0) var<storage, read_write> Y: array<u32>;",
      "const K = 3u;",
      "@compute @workgroup_size(8, 4)",
      "fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {",
      "  Y[wid.x * 32u + lid.y * 8u + lid.x] = lid.y * 8u + lid.x + K;",
      "}",
    ].join("\n"),
  );
  // The 1-D entry: WG, linear_id and the element index i come with it.
  assert(SCALE.code.includes(`const WG = ${WG}u;`), "const WG");
  assert(
    SCALE.code.includes("fn linear_id(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {"),
    "linear_id",
  );
  assert(
    SCALE.code.includes(
      "@compute @workgroup_size(WG)\nfn main(@builtin(workgroup_id) wid: vec3u, " +
        "@builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {\n" +
        "  let i = linear_id(wid, nwg, lid);\n  if (i >= u.n) { return; }",
    ),
    SCALE.code,
  );
  assertEquals(SCALE.code.match(/fn main/g)?.length, 1);
  await lt.init();
  const y = lt.empty([64], "u32");
  try {
    launchKernel("grid", GRID, { Y: y }, {}, 2);
    assertEquals(
      Array.from(await y.toArray()),
      Array.from({ length: 64 }, (_, e) => (e % 32) + 3),
    );
  } finally {
    y.dispose();
  }
});

test("a malformed entry point is refused, naming the kernel", () => {
  const make = (entry: Partial<Entry>, parts: { helpers?: string; main?: string } = {}) => () =>
    declare({
      key: "test/bad_entry",
      inputs: {},
      outputs: { Y: "f32" },
      entry: { workgroupSize: 64, builtins: ["workgroup_id"], ...entry },
      main: parts.main ?? "Y[wid.x] = 1.0;",
      helpers: parts.helpers,
    });
  const cases: [() => unknown, RegExp][] = [
    [
      make({ builtins: ["subgroup_id" as Builtin] }),
      /^test\/bad_entry: unknown builtin "subgroup_id" \(builtins: workgroup_id, /,
    ],
    [
      make({ builtins: ["local_invocation_index", "local_invocation_id"] }),
      /^test\/bad_entry: two builtins of the entry point are named "lid" \(local_invocation_id/,
    ],
    [
      make({ builtins: ["workgroup_id", "workgroup_id"] }),
      /^test\/bad_entry: two builtins of the entry point are named "wid"/,
    ],
    [make({ workgroupSize: 0 }), /^test\/bad_entry: bad workgroup size 0$/],
    [make({ workgroupSize: 1.5 }), /^test\/bad_entry: bad workgroup size 1.5$/],
    [make({ workgroupSize: "" }), /^test\/bad_entry: bad workgroup size ""$/],
    [
      make({ workgroupSize: [1, 2, 3, 4] as unknown as WorkgroupSize }),
      /^test\/bad_entry: bad workgroup size \[1,2,3,4\]$/,
    ],
    [
      make({}, { main: "}\n@compute @workgroup_size(1)\nfn main() {" }),
      /^test\/bad_entry: main holds an entry point/,
    ],
    [
      make({}, { main: "fn main() {}" }),
      /^test\/bad_entry: main holds an entry point/,
    ],
    [
      make({}, { helpers: "@compute @workgroup_size(1) fn other() {}" }),
      /^test\/bad_entry: helpers holds an entry point/,
    ],
    [
      make({ prelude: "} fn main() {" }),
      /^test\/bad_entry: entry prelude holds an entry point/,
    ],
  ];
  for (const [f, pattern] of cases) assertThrows(f, pattern);
  // The same declaration with a good entry point is accepted.
  assert(make({})().code.includes("fn main(@builtin(workgroup_id) wid: vec3u) {"), "good entry");
});

test("launchKernel runs a declared kernel, binding and packing by name", async () => {
  await lt.init();
  const rng = freshRng();
  const x = rng.uniform(1001, -1, 1);
  const xt = lt.tensor(x, [1001]), y = lt.empty([1001]);
  try {
    launchKernel("scale", SCALE, { X: xt, Y: y }, {
      n: 1001,
      s: 3,
      shape: [1, 5],
      bias: 0.25,
      k: -4,
    }, Math.ceil(1001 / WG));
    assertClose(await y.toArray(), Float64Array.from(x, (v) => 3 * v + 0.25 + 5 - 4), {
      rtol: 1e-6,
      atol: 1e-6,
      label: `seed ${rng.seed}`,
    });
  } finally {
    xt.dispose();
    y.dispose();
  }
});

test("launchKernel names the op and kernel for a wrong buffer, dtype or uniform", async () => {
  await lt.init();
  const x = lt.zeros([8]), y = lt.zeros([8]), i = lt.zeros([8], "i32");
  const ok = { n: 8, s: 1, shape: [1], bias: 0, k: 0 };
  try {
    const cases: [() => void, RegExp][] = [
      [() => launchKernel("op", SCALE, { X: x }, ok, 1), /op: kernel test\/scale needs buffer "Y"/],
      [() => launchKernel("op", SCALE, { X: x, Y: y, Z: y }, ok, 1), /no buffer "Z"/],
      [
        () => launchKernel("op", SCALE, { X: i, Y: y }, ok, 1),
        /reads "X" as f32, got a i32 tensor/,
      ],
      [
        () =>
          launchKernel(
            "op",
            SCALE,
            { X: x, Y: y },
            { ...ok, k: undefined as unknown as number },
            1,
          ),
        /op: test\/scale: uniform field "k" is missing/,
      ],
      [() => launchKernel("op", SCALE, { X: x, Y: y }, { ...ok, m: 1 }, 1), /no uniform field "m"/],
      [() => launchKernel("op", SCALE, { X: x, Y: y }, { ...ok, n: -1 }, 1), /n = -1 is not a u32/],
      [
        () => launchKernel("op", SCALE, { X: x, Y: y }, { ...ok, n: [1, 2] }, 1),
        /"n" \(u32\) cannot hold/,
      ],
      [
        () => launchKernel("op", SCALE, { X: x, Y: y }, { ...ok, shape: new Array(9).fill(1) }, 1),
        /"shape" \(dims\) cannot hold/,
      ],
    ];
    for (const [f, pattern] of cases) assertThrows(f, pattern);
  } finally {
    for (const t of [x, y, i]) t.dispose();
  }
});

/** A 1-D kernel Y = f(X) over `u.n` elements whose body after the bounds check is `statements`. */
function elementwise(key: string, statements: string) {
  return declare({
    key,
    inputs: { X: "f32" },
    outputs: { Y: "f32" },
    uniforms: { n: "u32" },
    entry: ENTRY_1D,
    main: /* wgsl */ `
  if (i >= u.n) { return; }
  ${statements}`,
  });
}

test("a kernel that does not compile is reported with its line, column and source", async () => {
  await lt.init();
  const broken = elementwise("test/does_not_compile", "let bad: f32 = u.n;\n  Y[i] = X[i] + bad;");
  const line = broken.code.split("\n").findIndex((l) => l.includes("let bad")) + 1;
  const x = lt.zeros([4]), y = lt.empty([4]);
  try {
    await lt.runtime().sync();
    launchKernel("broken op", broken, { X: x, Y: y }, { n: 4 }, 1);
    let message = "";
    try {
      await lt.runtime().sync();
    } catch (e) {
      message = (e as Error).message;
    }
    assert(message.includes("broken op: compiling kernel test/does_not_compile"), message);
    assert(message.includes(`kernel test/does_not_compile, line ${line}, column`), message);
    assert(message.includes(`${line} |   let bad: f32 = u.n;`), message);
    assert(/\n\s+\|\s+\^/.test(message), `no caret under the column: ${message}`);
  } finally {
    x.dispose();
    y.dispose();
  }
});

test("two different kernels under one key are refused, not given one pipeline", async () => {
  await lt.init();
  const make = (scale: number) => elementwise("test/same_key", `Y[i] = X[i] * ${scale}.0;`);
  const x = lt.ones([4]), y = lt.empty([4]);
  try {
    launchKernel("first", make(2), { X: x, Y: y }, { n: 4 }, 1);
    assertEquals(Array.from(await y.toArray()), [2, 2, 2, 2]);
    launchKernel("same WGSL again", make(2), { X: x, Y: y }, { n: 4 }, 1);
    assertThrows(
      () => launchKernel("second", make(3), { X: x, Y: y }, { n: 4 }, 1),
      /second: kernel key test\/same_key already names a kernel with different WGSL/,
    );
  } finally {
    x.dispose();
    y.dispose();
  }
});
