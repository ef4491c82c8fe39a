/**
 * Runs a Deno script (the demo tasks use it) with `XDG_RUNTIME_DIR` set.
 *
 * When that variable is unset, Mesa's Vulkan drivers print "error:
 * XDG_RUNTIME_DIR is invalid or not set in the environment." twice as WebGPU
 * starts, which reads like a failure though nothing is wrong: no display is
 * used. This gives the script a private, empty folder for it (removed
 * afterwards) unless the environment already names one.
 *
 * ```sh
 * deno run -A tools/run.ts demos/mnist_dec.ts --help
 * ```
 *
 * @module
 */

/** Runs `script` with `args` in a child Deno (all permissions); resolves to its exit code. */
export async function runWithRuntimeDir(script: string, args: string[]): Promise<number> {
  const dir = Deno.env.get("XDG_RUNTIME_DIR")
    ? undefined
    : await Deno.makeTempDir({ prefix: "latent-xdg-" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, ...args],
      env: dir ? { XDG_RUNTIME_DIR: dir } : {},
    }).spawn();
    // Ctrl-C reaches the child too; wait for it, then clean up.
    const ignore = () => {};
    Deno.addSignalListener("SIGINT", ignore);
    try {
      return (await child.status).code;
    } finally {
      Deno.removeSignalListener("SIGINT", ignore);
    }
  } finally {
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const [script, ...args] = Deno.args;
  if (!script) {
    console.error("usage: deno run -A tools/run.ts SCRIPT [ARGS...]");
    Deno.exit(2);
  }
  Deno.exit(await runWithRuntimeDir(script, args));
}
