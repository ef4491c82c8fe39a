/**
 * A size-class buffer pool.
 *
 * Training allocates the same tensor sizes every step; creating and destroying
 * GPU buffers each time is slow and fragments memory. Sizes are rounded up to
 * one of four classes per power of two (at most 25% waste), freed buffers wait
 * on a free list of their class, and the next request of that class reuses
 * one. Reuse also keeps buffer identities stable, which lets the runtime cache
 * bind groups across steps.
 *
 * @module
 */

const MIN_BYTES = 256;

/** Rounds a byte size up to its size class. */
export function sizeClass(bytes: number): number {
  const n = Math.max(MIN_BYTES, Math.ceil(bytes));
  const p = 2 ** Math.floor(Math.log2(n));
  const step = p / 4;
  return Math.ceil(n / step) * step;
}

/** Storage buffers by size class, plus mappable staging buffers for readback. */
export class BufferPool {
  #device: GPUDevice;
  #free = new Map<string, GPUBuffer[]>();
  /** Bytes held by buffers handed out and not yet released. */
  inUseBytes = 0;
  /** Bytes held on free lists. */
  freeBytes = 0;
  /** Highest `inUseBytes + freeBytes` seen: the pool's GPU footprint. */
  peakBytes = 0;
  /** Called with each buffer the pool destroys (lets caches drop entries). */
  onDestroy: (buffer: GPUBuffer) => void = () => {};

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** A buffer of at least `bytes` bytes with the given usage. */
  acquire(bytes: number, usage: number, label?: string): GPUBuffer {
    const size = sizeClass(bytes);
    const key = `${usage}:${size}`;
    const list = this.#free.get(key);
    const reused = list?.pop();
    if (reused) {
      this.freeBytes -= size;
      this.inUseBytes += size;
      return reused;
    }
    const buffer = this.#device.createBuffer({ size, usage, label });
    this.inUseBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.inUseBytes + this.freeBytes);
    return buffer;
  }

  /** Returns a buffer to its free list. */
  release(buffer: GPUBuffer): void {
    const key = `${buffer.usage}:${buffer.size}`;
    let list = this.#free.get(key);
    if (!list) this.#free.set(key, list = []);
    list.push(buffer);
    this.inUseBytes -= buffer.size;
    this.freeBytes += buffer.size;
  }

  /**
   * Takes a buffer off its free list for good (a replayable recording owns
   * its step's temporaries: src/gpu/capture.ts). False when the buffer is
   * not free (a live tensor holds it) or not the pool's; give it back with
   * {@link release}.
   */
  claim(buffer: GPUBuffer): boolean {
    const list = this.#free.get(`${buffer.usage}:${buffer.size}`);
    const i = list ? list.lastIndexOf(buffer) : -1;
    if (i < 0) return false;
    list!.splice(i, 1);
    this.freeBytes -= buffer.size;
    this.inUseBytes += buffer.size;
    return true;
  }

  /** Destroys every free buffer (GPU memory goes back to the driver). */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const b of list) {
        this.onDestroy(b);
        b.destroy();
      }
    }
    this.#free.clear();
    this.freeBytes = 0;
  }
}
