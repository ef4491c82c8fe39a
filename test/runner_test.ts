/**
 * The test runner's own logic (tools/test.ts): counting a JUnit report, the
 * single rerun it allows when a process crashes after every case passed, and
 * the root seed every case's inputs derive from (test/seed.ts).
 * @module
 */
import { assert, assertEquals, assertThrows } from "./assert.ts";
import {
  chooseRootSeed,
  countJunit,
  type Counts,
  parseArgs,
  replayFor,
  rerunOnCrash,
} from "../tools/test.ts";
import {
  caseSeed,
  DEFAULT_ROOT_SEED,
  enterCase,
  replayCommand,
  rootSeed,
  setRootSeed,
} from "./seed.ts";
import { freshRng } from "./ref.ts";
import { registry, test } from "./harness.ts";

const counts = (o: Partial<Counts>): Counts => ({
  passed: 0,
  failed: 0,
  ignored: 0,
  failures: [],
  seconds: 1,
  ...o,
});

Deno.test("runner counts JUnit leaves: steps, failures by name, skipped", () => {
  const xml = `<testsuites><testsuite name="f">
<testcase name="a" classname="f.ts" time="0"></testcase>
<testcase name="b" classname="f.ts" time="0"><failure message="boom"></failure></testcase>
<testcase name="c" classname="f.ts" time="0"><skipped/></testcase>
<testcase name="p" classname="f.ts" time="0"><failure message="1 test step failed"></failure></testcase>
<testcase name="p &gt; s1" classname="f.ts" time="0"></testcase>
<testcase name="p &gt; s2" classname="f.ts" time="0"><failure message="no"></failure></testcase>
</testsuite></testsuites>`;
  const c = countJunit(xml, false);
  assertEquals([c.passed, c.failed, c.ignored], [2, 2, 1]);
  assertEquals(c.failures, ["f.ts: b", "f.ts: p > s2"]);
});

Deno.test("runner reruns once after a crash at exit, never after a failing case", async () => {
  const seq = (...rs: Counts[]) => {
    let i = 0;
    return { run: () => Promise.resolve(rs[i++]), calls: () => i };
  };
  const crash = counts({
    passed: 4,
    failed: 1,
    failures: ["deno test exited with code 134"],
    crashedAfterPass: true,
  });
  const ok = counts({ passed: 4 });
  const log = console.log;
  console.log = () => {};
  try {
    const a = seq(crash, ok);
    const ra = await rerunOnCrash("deno", a.run);
    assertEquals([ra.passed, ra.failed, ra.seconds, a.calls()], [4, 0, 2, 2]);

    const b = seq(crash, crash);
    const rb = await rerunOnCrash("deno", b.run);
    assertEquals([rb.failed, b.calls()], [1, 2]);

    const failing = counts({ passed: 3, failed: 1, failures: ["f.ts: x"] });
    const c = seq(failing, ok);
    const rc = await rerunOnCrash("deno", c.run);
    assertEquals([rc.failed, c.calls()], [1, 1]);
  } finally {
    console.log = log;
  }
});

Deno.test("case seeds: same root and name give the same seeds, any change gives others", () => {
  const name = "matmul matches float64 reference on 7x13x5";
  const seeds = (root: number, n: string) => [0, 1, 2].map((i) => caseSeed(root, n, i));
  assertEquals(seeds(42, name), seeds(42, name));
  const all = [
    ...seeds(42, name),
    ...seeds(43, name),
    ...seeds(42, name + " "),
    ...seeds(42, "matmul matches float64 reference on 7x13x6"),
  ];
  assertEquals(new Set(all).size, all.length, `collisions among ${all}`);
  for (const s of all) assert(Number.isInteger(s) && s >= 0 && s < 2 ** 32, `seed ${s}`);
});

Deno.test("freshRng draws a case's inputs from its name and draw index, not from run order", () => {
  const saved = rootSeed();
  try {
    setRootSeed(7);
    const draw = (name: string) => {
      enterCase(name);
      return [freshRng().next(), freshRng().next()];
    };
    const a = draw("case a");
    draw("case b"); // another case in between changes nothing for "case a"
    assertEquals(draw("case a"), a);
    assert(a[0] !== a[1], "the second draw of a case has its own seed");
    assert(draw("case b")[0] !== a[0], "another name, other inputs");
    enterCase("case a");
    assertEquals(freshRng().seed, caseSeed(7, "case a", 0));
    setRootSeed(8);
    assert(draw("case a")[0] !== a[0], "another root seed, other inputs");
  } finally {
    setRootSeed(saved);
  }
});

Deno.test("a registered case starts its own seed stream each time it runs", async () => {
  const name = "runner_test: seed stream probe";
  const drawn: number[] = [];
  test(name, () => {
    drawn.push(freshRng().seed);
  });
  const c = registry.splice(registry.findIndex((c) => c.name === name), 1)[0];
  enterCase("something else");
  freshRng();
  await c.fn();
  await c.fn();
  assertEquals(drawn, [caseSeed(rootSeed(), name, 0), caseSeed(rootSeed(), name, 0)]);
});

Deno.test("test task reads --seed, --fresh-seed, and keeps the other arguments for the replay", () => {
  const a = parseArgs(["--seed", "42", "--filter", "a b", "--no-browser", "--fail-fast"]);
  assertEquals([a.seed, a.freshSeed, a.filter, a.browser], [42, false, "a b", false]);
  assertEquals(a.replayArgs, ["--filter", "a b", "--no-browser", "--fail-fast"]);
  assertEquals(a.passthrough, ["--fail-fast"]);
  assertEquals(parseArgs(["--seed=4294967295"]).seed, 2 ** 32 - 1);
  const f = parseArgs(["--fresh-seed", "--filter=x"]);
  assertEquals([f.seed, f.freshSeed, f.replayArgs], [undefined, true, ["--filter=x"]]);
  assertThrows(() => parseArgs(["--seed", "x"]), "seed");
  assertThrows(() => parseArgs(["--seed", "-1"]), "seed");
  assertThrows(() => parseArgs(["--seed=4294967296"]), "seed");
  assertThrows(() => parseArgs(["--seed"]), "seed");
  assertThrows(() => parseArgs(["--seed", "1", "--fresh-seed"]), "exclude");
});

Deno.test("root seed: --seed wins, else the commit, else the fixed default", () => {
  const head = "a50ad0174bd9c2e8a6d1f0e5c3b2a1908f7e6d5c";
  assertEquals(chooseRootSeed({ seed: 5, freshSeed: false }, head), 5);
  assertEquals(chooseRootSeed({ freshSeed: false }, head), 0x8f7e6d5c);
  assertEquals(chooseRootSeed({ freshSeed: false }, head + "\n"), 0x8f7e6d5c);
  assertEquals(chooseRootSeed({ freshSeed: false }, undefined), DEFAULT_ROOT_SEED);
  assertEquals(chooseRootSeed({ freshSeed: false }, "fatal: not a git repository"), 1);
  const fresh = new Set([0, 1, 2, 3].map(() => chooseRootSeed({ freshSeed: true }, head)));
  assert(fresh.size > 1, `fresh seeds repeat: ${[...fresh]}`);
});

Deno.test("a failure's replay command names the seed and the case", () => {
  assertEquals(
    replayCommand(9, "matmul matches float64 reference on 7x13x5"),
    `deno task test --seed 9 --filter "matmul matches float64 reference on 7x13x5"`,
  );
  assertEquals(
    replayCommand(9, `say "hi" it's $x`),
    `deno task test --seed 9 --filter 'say "hi" it'\\''s $x'`,
  );
  assertEquals(
    replayFor("deno", "./test/cases_test.ts: kmeans inertia never increases", 3),
    `deno task test --seed 3 --filter "kmeans inertia never increases" --no-browser`,
  );
  assertEquals(
    replayFor("deno", "./test/io_test.ts: parent > step", 3),
    `deno task test --seed 3 --filter "parent" --no-browser`,
  );
  assertEquals(
    replayFor("browser", "adam matches", 3),
    `deno task test --seed 3 --filter "adam matches" --browser-only`,
  );
  assertEquals(
    replayFor("deno", "deno test exited with code 1 (see the output above)", 3),
    undefined,
  );
});
