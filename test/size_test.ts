/**
 * The sizes Debian 12's lavapipe (Mesa 22.3, whose llvmpipe stops shader
 * loops after 65 535 iterations) got silently wrong, run in a child process
 * on each Vulkan driver the test command installs (tools/provision.ts): the
 * system's Mesa (25 from bookworm-backports, no loop cap) and Mesa 22.3
 * unpacked beside it, selected with `VK_ICD_FILENAMES`. The checks
 * themselves are in test/size/large.ts.
 *
 * @module
 */
import { legacyLavapipeIcd } from "../tools/provision.ts";
import { assert, assertEquals } from "./assert.ts";
import { DEV_LOCK } from "../tools/test.ts";

const SCRIPT = new URL("./size/large.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

/** Every check test/size/large.ts makes, in order. */
const CHECKS = [
  "sum(ones(5e6))",
  "mean(ones(5e6))",
  "max of 5e6 zeros and a final 7",
  "argmax of 5e6 zeros and a final 7",
  "matmul [1, 300000] x [300000, 1]",
  "linear's weight gradient over 300000 rows",
  "linear's bias gradient over 300000 rows",
  "softmax(zeros([1, 5e6]))[0]",
  "softmax(zeros([1, 5e6]))[last]",
  "softmax(zeros([1, 5e6])) sums to 1",
  "logSoftmax(zeros([1, 5e6]))",
  "conv2d kernel gradient on x [256, 64, 64, 3]",
  "conv2d bias gradient on x [256, 64, 64, 3]",
  "KMeans on 3e6 points: centres are the means",
  "KMeans on 3e6 points: labels",
  "linear on 2.2e6 rows",
];

/** Runs the checks with `icd` as the Vulkan driver (null: the system's); returns the summary. */
async function runOn(icd: string | null): Promise<{ loopCap: number | null; passed: string[] }> {
  const env = Deno.env.toObject();
  delete env.VK_ICD_FILENAMES;
  if (icd) env.VK_ICD_FILENAMES = icd;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--lock=${DEV_LOCK}`, SCRIPT],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert(out.success, `test/size/large.ts failed on ${icd ?? "the system's driver"}:\n${text}`);
  const last = text.trim().split("\n").at(-1)!;
  console.log(text.trim().split("\n").filter((l) => !l.startsWith("ok ")).join("\n"));
  return JSON.parse(last);
}

Deno.test("large sizes are right on the system's Vulkan driver (Mesa 25 where the test command installed it)", async () => {
  const r = await runOn(null);
  assertEquals(r.passed, CHECKS);
});

const legacy = legacyLavapipeIcd();
Deno.test({
  name: "large sizes are right on Mesa 22.3's lavapipe, which stops loops after 65535 iterations",
  // The test command unpacks Mesa 22.3 on Debian 12 (tools/provision.ts); elsewhere there is none.
  ignore: legacy === null,
  fn: async () => {
    const r = await runOn(legacy);
    assertEquals(r.loopCap, 65535, "Mesa 22.3's loop cap");
    assertEquals(r.passed, CHECKS);
  },
});
