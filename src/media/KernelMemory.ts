// A WebAssembly kernel's memory, shared by every detector that uses the kernel: below `base` the
// kernel's own constants and scratch, above it a slot per detector for the state the kernel works
// on in place. One memory for all (not an ArrayBuffer each) keeps a detector's state in one place
// the kernel can read without a copy, and lets every detector reach it through the same few view
// objects, which stay in the caches (at 1,000 calls, each object a frame touches is a likely miss).
//
// A slot is freed by its owner's release (when its call ends), or else when the owner is garbage-
// collected: memory given back only by the collector piles up with call turnover, and the memory
// cannot shrink (a slot on a free list serves the next detector). Growing the memory detaches every view of
// it: `onGrow` remakes the owner's views, and `generation` tells holders of their own views.

import { readFileSync } from 'node:fs';

const PAGE = 65536;
/** Slots start on cache lines, so a slot's first bytes do not share a line with another's last. */
const ALIGN = 64;

export class KernelMemory {
  /** How many times the memory grew (each time detaching every view of it). */
  generation = 0;
  private top: number;
  /** Free slots by size in bytes. */
  private readonly free = new Map<number, number[]>();
  private readonly registry = new FinalizationRegistry<readonly [at: number, bytes: number]>(([at, bytes]) => this.give(at, bytes));
  /** Slots held now. */
  inUse = 0;

  constructor(
    readonly memory: WebAssembly.Memory,
    base: number,
    private readonly onGrow: (buffer: ArrayBuffer) => void,
  ) {
    this.top = roundUp(base);
  }

  get buffer(): ArrayBuffer {
    return this.memory.buffer;
  }

  /** A slot of `bytes` for `owner` (byte offset, 64-aligned; see release()), or −1 when the memory cannot grow. */
  alloc(owner: object, bytes: number): number {
    const size = roundUp(bytes);
    let at = this.free.get(size)?.pop();
    if (at === undefined) {
      const top = this.top + size;
      const have = this.memory.buffer.byteLength;
      if (top > have) {
        // by half at least: a burst of new calls should not grow (and detach) it call by call
        const pages = Math.ceil((top - have) / PAGE);
        try {
          this.memory.grow(Math.max(pages, have >>> 17));
        } catch {
          try {
            this.memory.grow(pages);
          } catch {
            return -1;
          }
        }
        this.generation++;
        this.onGrow(this.memory.buffer);
      }
      at = this.top;
      this.top = top;
    }
    this.registry.register(owner, [at, size], owner);
    this.inUse++;
    return at;
  }

  /**
   * Gives back `owner`'s slot (`at`, of `bytes` as allocated) now, rather than when `owner` is
   * collected. The owner must not touch the slot afterwards; a second release does nothing.
   */
  release(owner: object, at: number, bytes: number): void {
    if (this.registry.unregister(owner)) this.give(at, roundUp(bytes));
  }

  private give(at: number, size: number): void {
    this.freeList(size).push(at);
    this.inUse--;
  }

  private freeList(size: number): number[] {
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    return list;
  }
}

function roundUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/**
 * A kernel made by `make` from the .wasm at `wasm`, or null where it cannot be (no WebAssembly SIMD)
 * or the environment variable `off` is "0": its owner then does the same work in JavaScript.
 */
export function loadKernel<K>(off: string, wasm: URL, make: (bytes: Uint8Array<ArrayBuffer>) => K): K | null {
  if (process.env[off] === '0') return null;
  try {
    return make(new Uint8Array(readFileSync(wasm)));
  } catch {
    return null;
  }
}
