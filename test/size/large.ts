/**
 * The sizes that Mesa 22.3's llvmpipe got silently wrong, run on whatever
 * Vulkan driver this process was given (test/size_test.ts runs it once per
 * driver). Each check throws on a wrong answer; the last line printed is a
 * JSON summary: the adapter's loop cap and the checks that passed.
 *
 * ```sh
 * deno run -A test/size/large.ts                                  # the system's driver
 * VK_ICD_FILENAMES=/path/to/lvp_icd.json deno run -A test/size/large.ts
 * ```
 *
 * @module
 */
import * as lt from "../../src/mod.ts";

const passed: string[] = [];

function check(name: string, ok: boolean, detail: string): void {
  if (!ok) throw new Error(`${name}: ${detail}`);
  passed.push(name);
  console.log(`ok ${name}: ${detail}`);
}

/** Evaluates `f` in a scope and reads every returned tensor back. */
async function values(f: () => lt.Tensor[]): Promise<Float32Array[]> {
  const ts = lt.tidy(f);
  try {
    return await Promise.all(ts.map(async (t) => new Float32Array(await t.toArray())));
  } finally {
    for (const t of ts) t.dispose();
  }
}

const near = (a: number, b: number, rtol: number) => Math.abs(a - b) <= rtol * Math.abs(b);

const rt = await lt.init();
console.log(
  `adapter: ${rt.info.name}; loop cap ${rt.info.loopCap}; budgets ${JSON.stringify(rt.budgets)}`,
);
for (const note of rt.info.notes ?? []) console.log(`note: ${note}`);

// Reductions: 5M ones, and 5M zeros with a 7 at the end.
{
  const n = 5_000_000;
  const z = new Float32Array(n);
  z[n - 1] = 7;
  const [s, m, mx, a] = await values(() => {
    const t = lt.tensor(z, [n]);
    return [lt.sum(lt.ones([n])), lt.mean(lt.ones([n])), lt.max(t), lt.argmax(t, 0)];
  });
  check("sum(ones(5e6))", s[0] === n, `${s[0]}`);
  check("mean(ones(5e6))", m[0] === 1, `${m[0]}`);
  check("max of 5e6 zeros and a final 7", mx[0] === 7, `${mx[0]}`);
  check("argmax of 5e6 zeros and a final 7", a[0] === n - 1, `${a[0]}`);
}

// A long inner product: [1, 300000] x [300000, 1], and a dense weight gradient over as many rows.
{
  const k = 300_000;
  const [p] = await values(() => [lt.matmul(lt.ones([1, k]), lt.ones([k, 1]))]);
  check("matmul [1, 300000] x [300000, 1]", p[0] === k, `${p[0]}`);
  const x = lt.ones([k, 2]), w = lt.ones([2, 3]), b = lt.zeros([3]);
  for (const t of [w, b]) t.requiresGrad = true;
  lt.tidy(() => lt.backward(lt.sum(lt.linear(x, w, b, "relu"))));
  const [gw, gb] = await Promise.all([w.grad!.toArray(), b.grad!.toArray()]);
  check("linear's weight gradient over 300000 rows", gw.every((v) => v === k), `${gw[0]}`);
  check("linear's bias gradient over 300000 rows", gb.every((v) => v === k), `${gb[0]}`);
  for (const t of [x, w, b, w.grad!, b.grad!]) t.dispose();
}

// A softmax row of 5M zeros: every value 1 / 5e6, summing to 1.
{
  const n = 5_000_000;
  const [y, s, l] = await values(() => {
    const x = lt.zeros([1, n]);
    const y = lt.softmax(x);
    return [y, lt.sum(y), lt.logSoftmax(x)];
  });
  check("softmax(zeros([1, 5e6]))[0]", near(y[0], 1 / n, 1e-5), `${y[0]}`);
  check("softmax(zeros([1, 5e6]))[last]", near(y[n - 1], 1 / n, 1e-5), `${y[n - 1]}`);
  // (f32 sums of 5e6 terms, each thread adding thousands in order: about 1e-3 off at most.)
  check("softmax(zeros([1, 5e6])) sums to 1", near(s[0], 1, 2e-3), `${s[0]}`);
  check("logSoftmax(zeros([1, 5e6]))", near(l[n - 1], -Math.log(n), 1e-6), `${l[n - 1]}`);
}

// conv2d 3x3 same on x [256, 64, 64, 3]: the kernel and bias gradients of
// sum(conv(x)) are sums of x over shifted windows, and N·Ho·Wo.
{
  const [nb, h, wd, ci, co] = [256, 64, 64, 3, 2];
  const xs = new Float32Array(nb * h * wd * ci);
  for (let i = 0; i < xs.length; i++) xs[i] = ((i * 7919) % 1000) / 1000;
  const x = lt.tensor(xs, [nb, h, wd, ci]);
  const w = lt.zeros([3, 3, ci, co]), b = lt.zeros([co]);
  for (const t of [w, b]) t.requiresGrad = true;
  lt.tidy(() => lt.backward(lt.sum(lt.conv2d(x, w, { padding: "same", bias: b }))));
  const [gw, gb] = await Promise.all([w.grad!.toArray(), b.grad!.toArray()]);
  const want = new Float64Array(9 * ci);
  for (let n = 0; n < nb; n++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < wd; xx++) {
        for (let ky = 0; ky < 3; ky++) {
          const iy = y + ky - 1;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < 3; kx++) {
            const ix = xx + kx - 1;
            if (ix < 0 || ix >= wd) continue;
            const base = ((n * h + iy) * wd + ix) * ci;
            for (let c = 0; c < ci; c++) want[(ky * 3 + kx) * ci + c] += xs[base + c];
          }
        }
      }
    }
  }
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    for (let o = 0; o < co; o++) worst = Math.max(worst, Math.abs(gw[i * co + o] / want[i] - 1));
  }
  check(
    "conv2d kernel gradient on x [256, 64, 64, 3]",
    worst < 1e-4,
    `worst relative error ${worst}`,
  );
  const positions = nb * h * wd;
  check(
    "conv2d bias gradient on x [256, 64, 64, 3]",
    gb.every((v) => v === positions),
    `${gb[0]} (want ${positions})`,
  );
  for (const t of [x, w, b, w.grad!, b.grad!]) t.dispose();
}

// KMeans on 3M points on a line, [0, 1) and [10, 11): centres are the groups' means.
{
  const n = 3_000_000;
  const xs = new Float32Array(n);
  let lo = 0, hi = 0;
  for (let i = 0; i < n; i++) {
    xs[i] = (i % 2) * 10 + ((i * 7919) % 1000) / 1000;
    if (i % 2) hi += xs[i];
    else lo += xs[i];
  }
  const x = lt.tensor(xs, [n, 1]);
  const r = await new lt.cluster.KMeans({ k: 2, seed: 1, nInit: 1 }).fit(x);
  x.dispose();
  const [a, c] = r.centers[0] < r.centers[1] ? [0, 1] : [1, 0];
  const means = [lo / (n / 2), hi / (n / 2)];
  check(
    "KMeans on 3e6 points: centres are the means",
    near(r.centers[a], means[0], 1e-4) && near(r.centers[c], means[1], 1e-4),
    `${r.centers[a]} and ${r.centers[c]} (want ${means[0]} and ${means[1]})`,
  );
  check("KMeans on 3e6 points: labels", r.labels.every((l, i) => l === (i % 2 ? c : a)), "");
}

// linear on 2.2M rows: more row tiles than one grid dimension holds.
{
  const n = 2_200_000;
  const [y] = await values(() => [lt.linear(lt.ones([n, 2]), lt.ones([2, 1]), lt.ones([1]))]);
  check("linear on 2.2e6 rows", y.every((v) => v === 3), `${y[0]} ... ${y[n - 1]}`);
}

console.log(JSON.stringify({ loopCap: rt.info.loopCap ?? null, passed }));
