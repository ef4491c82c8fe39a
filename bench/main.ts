/**
 * `deno task bench`: runs the bench sections on this machine's adapter and
 * prints one Markdown table to stdout (progress goes to stderr); the rows
 * also go to `bench/results/<adapter>.json`, merged with earlier runs there
 * (a filtered run replaces only its own rows).
 *
 * ```sh
 * deno task bench                       # every section
 * deno task bench --filter matmul       # rows whose "section/case" contains "matmul"
 * deno task bench --filter "/1024/"     # a regular expression
 * deno task bench --quick               # fewer, shorter repetitions
 * deno task bench --filter matmul-tiles # opt-in sections run only when named
 * ```
 *
 * To add a section, write a module exporting a {@link BenchModule} (its
 * `run(ctx)` returns rows) and append it to `MODULES` below.
 *
 * @module
 */
import { init } from "../src/gpu/runtime.ts";
import {
  type BenchContext,
  type BenchModule,
  markdownTable,
  type Row,
  slug,
  timeBatches,
  timeGpu,
} from "./harness.ts";
import { convBench } from "./conv_bench.ts";
import { matmulBench, matmulTilesBench } from "./matmul_bench.ts";
import { hostBench, trainBench, trainProfileBench } from "./train_bench.ts";

/** Every bench section, in table order. */
const MODULES: BenchModule[] = [
  matmulBench,
  matmulTilesBench,
  convBench,
  trainBench,
  trainProfileBench,
  hostBench,
];

const USAGE = "usage: deno task bench [--filter PATTERN] [--quick]";

interface Args {
  filter: string | null;
  quick: boolean;
}

function parseArgs(args: string[]): Args {
  const out: Args = { filter: null, quick: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--filter") out.filter = args[++i] ?? null;
    else if (a.startsWith("--filter=")) out.filter = a.slice("--filter=".length);
    else if (a === "--quick") out.quick = true;
    else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      Deno.exit(0);
    } else {
      console.error(`bench: unknown argument ${a}\n${USAGE}`);
      Deno.exit(2);
    }
  }
  return out;
}

function matcher(filter: string | null): (text: string) => boolean {
  if (!filter) return () => true;
  const re = filter.length > 2 && filter.startsWith("/") && filter.endsWith("/")
    ? new RegExp(filter.slice(1, -1))
    : null;
  return re ? (t) => re.test(t) : (t) => t.includes(filter);
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  // Other processes on a shared machine slow CPU adapters: record the load.
  const loadBefore = Deno.loadavg();
  const rt = await init();
  const match = matcher(args.filter);
  const ctx: BenchContext = {
    quick: args.quick,
    wants: (section, name) => match(`${section}/${name}`),
    log: (message) => console.error(message),
    timeGpu: (run, o) => timeGpu(run, args.quick, o),
    timeBatches: (rep, o) => timeBatches(rep, args.quick, o),
  };
  console.error(`bench: ${rt.info.name} (${rt.info.isFallback ? "fallback adapter" : "GPU"})`);
  const rows: Row[] = [];
  for (const m of MODULES) {
    if (m.optIn && !(args.filter ?? "").includes(m.name)) continue;
    rows.push(...await m.run(ctx));
  }
  if (!rows.length) {
    console.error(`bench: nothing matched --filter ${args.filter}`);
    Deno.exit(1);
  }

  const date = new Date().toISOString();
  const load = [loadBefore[0], Deno.loadavg()[0]].map((l) => l.toFixed(1)).join(" → ");
  console.log(
    `Adapter: ${rt.info.name}; ${date}; Deno ${Deno.version.deno}; ` +
      `${navigator.hardwareConcurrency} CPUs, 1-min load average ${load}\n`,
  );
  console.log(markdownTable(rows));
  const notes = [...new Set(rows.flatMap((r) => (r.note ? [`${r.name}: ${r.note}`] : [])))];
  if (notes.length) console.log("\n" + notes.map((n) => `- ${n}`).join("\n"));

  const dir = new URL("./results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const file = new URL(`${slug(rt.info.name)}.json`, dir);
  let previous: Row[] = [];
  try {
    previous = JSON.parse(await Deno.readTextFile(file)).rows ?? [];
  } catch {
    // First run on this adapter.
  }
  const key = (r: Row) => `${r.section}/${r.name}`;
  const fresh = new Set(rows.map(key));
  const merged = [...previous.filter((r) => !fresh.has(key(r))), ...rows];
  const report = {
    adapter: rt.info,
    date,
    deno: Deno.version.deno,
    cpus: navigator.hardwareConcurrency,
    loadavg: { before: loadBefore, after: Deno.loadavg() },
    args: Deno.args,
    rows: merged,
  };
  await Deno.writeTextFile(file, JSON.stringify(report, null, 2) + "\n");
  console.error(`bench: wrote ${file.pathname}`);
}

if (import.meta.main) {
  await main();
  // TF.js and the runtime keep devices alive; end the process explicitly.
  Deno.exit(0);
}
