/**
 * The tuning module (src/ops/tuning.ts): the adapter kind follows the
 * runtime's `isFallback`, every choice follows the kind, and `withTuning`
 * overrides them for what it wraps (nested scopes field by field, async
 * scopes until they settle, thrown errors restore). That the overridden
 * configurations compute the right results is checked by the op cases that
 * run under them (conv, reduce, loss, k-means).
 * @module
 */
import * as lt from "../../src/mod.ts";
import * as internal from "../../src/internal.ts";
import { convSplits, kmeansPrune } from "../../src/ops/tuning.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { test } from "../harness.ts";

test("the adapter kind follows isFallback, and withTuning overrides and restores it", async () => {
  const rt = await lt.init();
  const own = rt.info.isFallback ? "cpu" : "gpu";
  const other = own === "cpu" ? "gpu" : "cpu";
  assertEquals(internal.adapterKind(), own);
  assertEquals(internal.withTuning({ adapter: other }, () => internal.adapterKind()), other);
  assertEquals(internal.adapterKind(), own);
  await internal.withTuning({ adapter: other }, async () => {
    await Promise.resolve();
    assertEquals(internal.adapterKind(), other);
  });
  assertEquals(internal.adapterKind(), own);
  assertThrows(() =>
    internal.withTuning({ adapter: other }, () => {
      throw new Error("inside");
    }), /inside/);
  assertEquals(internal.adapterKind(), own);
});

test("every tuning choice follows the adapter kind unless given explicitly", async () => {
  await lt.init();
  for (const kind of ["cpu", "gpu"] as const) {
    internal.withTuning({ adapter: kind }, () => {
      assertEquals(
        internal.reduceProfile(),
        kind === "cpu" ? internal.CPU_REDUCE : internal.GPU_REDUCE,
      );
      // CPU adapters read operands directly; GPUs stage them in workgroup memory.
      assertEquals(internal.matmulTile(256, 500, 784).stage, kind === "gpu", `${kind} matmul`);
      // CPU convolution tiles: one thread along N, whole rows of columns per thread.
      assertEquals(internal.convTile(4096, 16).wgn === 1, kind === "cpu", `${kind} conv`);
      // A dense layer's two backward products share a dispatch on GPUs only.
      assertEquals(internal.pairProducts(), kind === "gpu", `${kind} paired products`);
      assertEquals(
        internal.withTuning({ pairProducts: true }, () => internal.pairProducts()),
        true,
      );
      const profile = { target: 3, perThread: 5, maxTy: 7 };
      assertEquals(
        internal.withTuning({ reduce: profile }, () => internal.reduceProfile()),
        profile,
      );
    });
  }
});

test("nested withTuning scopes merge field by field, the inner one winning", async () => {
  await lt.init();
  const outer = { tm: 1, tn: 1, wgm: 64, wgn: 1, bk: 8 };
  const inner = { tm: 2, tn: 1, wgm: 32, wgn: 1, bk: 8 };
  const tuning: internal.Tuning = {
    adapter: "gpu",
    conv: { tile: outer, splits: 3 },
    kmeans: { prune: true },
  };
  internal.withTuning(tuning, () => {
    internal.withTuning({ conv: { tile: inner }, kmeans: { chunkPoints: 8 } }, () => {
      assertEquals(internal.adapterKind(), "gpu");
      assertEquals(internal.convTile(100, 100), inner);
      assertEquals(convSplits(1, 100), 3);
      assert(kmeansPrune(true), "the outer scope's prune was lost");
    });
    assertEquals(internal.convTile(100, 100), outer);
  });
  assert(internal.convTile(100, 100) !== outer, "the outer scope's tile outlived it");
});
