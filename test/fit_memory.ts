/**
 * One check for "memory stays flat over many training steps": a first fit
 * with one big batch creates the optimizer state, then a fit of many small
 * steps must leave the live tensor and byte counts exactly where they were,
 * and the buffer pool within 64 KiB (a size class or two of slack).
 * @module
 */
import * as lt from "../src/mod.ts";
import { assert, assertEquals } from "./assert.ts";

/** Fits `model` (compiled) on `x` as its own target: `epochs` epochs of batches of `batchSize`. */
export async function assertFitMemoryFlat(
  model: lt.nn.Model,
  x: lt.data.Dataset,
  { batchSize, epochs = 2 }: { batchSize: number; epochs?: number },
): Promise<void> {
  await model.fit(x, x, { epochs: 1, batchSize: x.n }); // creates optimizer state
  const before = lt.memory();
  await model.fit(x, x, { epochs, batchSize });
  const after = lt.memory();
  assertEquals(after.tensors, before.tensors, "live tensors");
  assertEquals(after.bytes, before.bytes, "live bytes");
  assert(
    after.poolBytes <= before.poolBytes + 64 * 1024,
    `pool grew ${before.poolBytes} → ${after.poolBytes}`,
  );
}
