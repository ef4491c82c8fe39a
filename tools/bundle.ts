/**
 * Bundles a browser entry point with `deno bundle` (the pinned Deno that is
 * running), for the test harness and the web demo.
 * @module
 */

/** Bundles `entry` (a file URL) to `outFile` with a linked source map; throws with Deno's output on failure. */
export async function bundleForBrowser(entry: URL, outFile: string): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform=browser", "--sourcemap=linked", "-o", outFile, entry.pathname],
    stdin: "null",
  }).output();
  if (!r.success) {
    const text = new TextDecoder().decode(r.stderr) + new TextDecoder().decode(r.stdout);
    throw new Error(`deno bundle of ${entry.pathname} failed:\n${text}`);
  }
}
