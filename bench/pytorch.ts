/**
 * PyTorch as a peer in the training bench: `bench/pytorch_ae.py --serve` in a
 * child process, on the CPU, with its thread count set (`--threads`, which
 * bounds both PyTorch's OpenMP pool and its BLAS library's) and reported
 * back. The child trains the bench's models on the same u8 images as latent
 * (written to a temporary file) and answers one request per epoch, so the
 * bench can interleave its epochs with latent's and TF.js's. OpenMP's threads
 * wait passively (see the script's docstring for why).
 *
 * The interpreter is `$LATENT_PYTHON`, else `/usr/bin/python3` (Debian's,
 * which sees `python3-torch`). Without it, or without torch, {@link startPytorch}
 * resolves to the reason, for the results table's note.
 *
 * @module
 */

/** What the child reported when it started. */
export interface PytorchInfo {
  /** `torch.__version__`. */
  torch: string;
  /** `torch.get_num_threads()`. */
  threads: number;
  /** OpenBLAS's thread count, null when torch uses another BLAS. */
  blasThreads: number | null;
  /** `OMP_WAIT_POLICY` as the child ran (the script makes it PASSIVE unless set). */
  ompWaitPolicy: string | null;
}

/** A running PyTorch peer. */
export interface PytorchPeer {
  info: PytorchInfo;
  /**
   * Trains one epoch of `steps` batches of the bench case `name` on the first
   * `steps × 256` images (a fresh model when the case changes) and resolves
   * when it is done.
   */
  epoch(name: string, steps: number): Promise<void>;
  /** Ends the child and removes its data file. */
  close(): Promise<void>;
}

const SCRIPT = new URL("./pytorch_ae.py", import.meta.url).pathname;

function python(): string {
  return Deno.env.get("LATENT_PYTHON") || "/usr/bin/python3";
}

/** Reads `stream` one line at a time (null at its end). */
function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string | null> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  return async () => {
    for (;;) {
      const end = buffered.indexOf("\n");
      if (end >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) return null;
      buffered += decoder.decode(value, { stream: true });
    }
  };
}

/**
 * Starts PyTorch on `threads` CPU threads with `images` (u8, 784 per image)
 * as its data. Resolves to the peer, or to why there is none.
 */
export async function startPytorch(
  threads: number,
  images: Uint8Array,
): Promise<PytorchPeer | string> {
  const exe = python();
  const data = await Deno.makeTempFile({ prefix: "latent-bench-", suffix: ".u8" });
  await Deno.writeFile(data, images);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(exe, {
      args: [SCRIPT, "--serve", `--threads=${threads}`, `--data=${data}`],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  } catch (e) {
    await Deno.remove(data);
    return e instanceof Deno.errors.NotFound
      ? `no ${exe} here (set LATENT_PYTHON)`
      : `${exe} did not start: ${(e as Error).message}`;
  }
  const readLine = lineReader(child.stdout);
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  const close = async () => {
    await writer.close().catch(() => {});
    await child.status;
    await Deno.remove(data).catch(() => {});
  };
  const hello = await readLine();
  const ready = hello ? JSON.parse(hello) : { error: `${exe} ${SCRIPT} exited` };
  if (ready.error) {
    await close();
    return ready.error;
  }
  return {
    info: {
      torch: ready.torch,
      threads: ready.threads,
      blasThreads: ready.blas_threads,
      ompWaitPolicy: ready.omp_wait_policy,
    },
    async epoch(name, steps) {
      await writer.write(encoder.encode(JSON.stringify({ case: name, steps }) + "\n"));
      const line = await readLine();
      if (line === null) throw new Error(`${SCRIPT} exited`);
      const reply = JSON.parse(line);
      if (reply.error) throw new Error(reply.error);
    },
    close,
  };
}
