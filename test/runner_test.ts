/**
 * The test runner's own logic (tools/test.ts): counting a JUnit report, and
 * the single rerun it allows when a process crashes after every case passed.
 * @module
 */
import { assertEquals } from "./assert.ts";
import { countJunit, type Counts, rerunOnCrash } from "../tools/test.ts";

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
