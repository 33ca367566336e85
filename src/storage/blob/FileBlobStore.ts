// The filesystem blob store (the default): blobs under one root directory, e.g. <dataDir>/blobs.
//
// Layout: key 'a/b/c' lives in the directory <root>/a/b as
//   c@meta.json      the sidecar: size, content type, etag (sha-256 of the bytes), metadata, and
//                    the name of the data file; renaming it into place is the commit point of a put
//   c@data.<random>  the bytes, written and fsynced before the sidecar that names it
//   c@tmp.<random>   a sidecar being written (renamed to c@meta.json when complete)
// Key segments never contain '@', so a key's directory ('a' for 'a/b') and a blob's files ('a@…')
// never collide, and keys 'a' and 'a/b' can both exist, as on Azure.
//
// A put writes a fresh data file, then atomically renames the sidecar over the old one, then
// removes the old data file: a reader holds either the old sidecar (and retries if its data file
// vanished meanwhile) or the new one. Commits and deletes of one key are serialized in-process;
// one Telegraph process owns a root. A crash can leave an unreferenced data or temp file behind;
// sweep() removes those.
import { createHash, randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { open, mkdir, readFile, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import {
  BlobStoreError,
  assertValidKey,
  assertValidPrefix,
  assertValidPutOptions,
  assertValidRange,
  resolveRange,
} from './BlobStore.ts';
import type { BlobInfo, BlobPutOptions, BlobPutResult, BlobRange, BlobReadResult, BlobStore } from './BlobStore.ts';

const META_SUFFIX = '@meta.json';
const DATA_MARK = '@data.';
const TMP_MARK = '@tmp.';

interface Sidecar {
  v: 1;
  key: string;
  size: number;
  contentType: string;
  etag: string;
  lastModified: string;
  metadata: Record<string, string>;
  /** The data file's name, in the same directory. */
  data: string;
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function ioError(action: string, key: string, err: unknown): BlobStoreError {
  const e = err as NodeJS.ErrnoException;
  return new BlobStoreError('Storage', `file blob store: ${action} ${key} failed: ${e?.code ?? ''} ${e?.message ?? String(err)}`.trim(), { cause: err });
}

/** Filesystem failures become Storage errors; anything else (a caller's stream failing, say) passes through. */
function wrap(action: string, key: string, err: unknown): unknown {
  if (err instanceof BlobStoreError) return err;
  if (err && typeof err === 'object' && 'syscall' in err) return ioError(action, key, err);
  return err;
}

function toInfo(s: Sidecar): BlobInfo {
  return { key: s.key, size: s.size, contentType: s.contentType, etag: s.etag, lastModified: new Date(s.lastModified), metadata: { ...s.metadata } };
}

export class FileBlobStore implements BlobStore {
  readonly kind = 'file';
  readonly root: string;
  private readonly locks = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The directory and leaf name of a (validated) key, checked to stay under the root. */
  private locate(key: string): { dir: string; leaf: string } {
    const segments = key.split('/');
    const leaf = segments.pop()!;
    const dir = join(this.root, ...segments);
    const full = join(dir, leaf);
    // Defence in depth: assertValidKey already rules out every way out of the root.
    if (!full.startsWith(this.root + sep)) throw new BlobStoreError('InvalidKey', `invalid blob key ${JSON.stringify(key)}: escapes the store`);
    return { dir, leaf };
  }

  /** Runs fn with the key's commit lock held (in-process, per key). */
  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chained = prev.then(() => mine);
    this.locks.set(key, chained);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(key) === chained) this.locks.delete(key);
    }
  }

  private async readSidecar(dir: string, leaf: string): Promise<Sidecar | null> {
    let text: string;
    try {
      text = await readFile(join(dir, leaf + META_SUFFIX), 'utf8');
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    const s = JSON.parse(text) as Sidecar;
    if (s.v !== 1 || typeof s.data !== 'string' || !s.data.startsWith(leaf + DATA_MARK)) {
      throw new Error(`unrecognized sidecar ${join(dir, leaf + META_SUFFIX)}`);
    }
    return s;
  }

  /** Creates a new file for writing in the key's directory, creating the directory (again, if a delete just removed it). */
  private async createIn(dir: string, name: string): Promise<FileHandle> {
    for (let attempt = 0; ; attempt++) {
      await mkdir(dir, { recursive: true });
      try {
        return await open(join(dir, name), 'wx', 0o644);
      } catch (err) {
        if (!isNotFound(err) || attempt >= 5) throw err;
      }
    }
  }

  async put(key: string, data: Uint8Array | AsyncIterable<Uint8Array>, options: BlobPutOptions): Promise<BlobPutResult> {
    assertValidKey(key);
    assertValidPutOptions(options);
    const { dir, leaf } = this.locate(key);
    const dataName = leaf + DATA_MARK + randomBytes(8).toString('hex');
    const hash = createHash('sha256');
    let size = 0;
    let fh: FileHandle | null = null;
    try {
      fh = await this.createIn(dir, dataName);
      if (data instanceof Uint8Array) {
        hash.update(data);
        size = data.byteLength;
        await fh.writeFile(data);
      } else {
        for await (const chunk of data) {
          if (!(chunk instanceof Uint8Array)) throw new BlobStoreError('InvalidArgument', `put ${key}: the stream yielded a ${typeof chunk}, not a Uint8Array`);
          hash.update(chunk);
          size += chunk.byteLength;
          let off = 0;
          while (off < chunk.byteLength) off += (await fh.write(chunk, off, chunk.byteLength - off)).bytesWritten;
        }
      }
      await fh.sync();
      await fh.close();
      fh = null;
    } catch (err) {
      await fh?.close().catch(() => {});
      await unlink(join(dir, dataName)).catch(() => {});
      throw wrap('put', key, err);
    }

    const etag = `"${hash.digest('hex')}"`;
    const sidecar: Sidecar = {
      v: 1,
      key,
      size,
      contentType: options.contentType,
      etag,
      lastModified: new Date().toISOString(),
      metadata: { ...(options.metadata ?? {}) },
      data: dataName,
    };
    const tmpName = leaf + TMP_MARK + randomBytes(8).toString('hex');
    try {
      const th = await this.createIn(dir, tmpName);
      try {
        await th.writeFile(JSON.stringify(sidecar));
        await th.sync();
      } finally {
        await th.close();
      }
      await this.withLock(key, async () => {
        const old = await this.readSidecar(dir, leaf).catch(() => null);
        await rename(join(dir, tmpName), join(dir, leaf + META_SUFFIX));
        if (old && old.data !== dataName) await unlink(join(dir, old.data)).catch(() => {});
      });
    } catch (err) {
      await unlink(join(dir, tmpName)).catch(() => {});
      await unlink(join(dir, dataName)).catch(() => {});
      throw wrap('put', key, err);
    }
    return { size, etag };
  }

  async get(key: string, range?: BlobRange): Promise<BlobReadResult | null> {
    assertValidKey(key);
    assertValidRange(range);
    const { dir, leaf } = this.locate(key);
    // A concurrent overwrite or delete may remove the data file between reading the sidecar and
    // opening it: read the sidecar again (once opened, the file stays readable whatever happens).
    for (let attempt = 0; ; attempt++) {
      let s: Sidecar | null;
      let fh: FileHandle;
      try {
        s = await this.readSidecar(dir, leaf);
        if (!s) return null;
        fh = await open(join(dir, s.data), 'r');
      } catch (err) {
        if (isNotFound(err) && attempt < 5) continue;
        throw wrap('get', key, err);
      }
      try {
        const served = range ? resolveRange(key, range, s.size) : null;
        const stream = fh.createReadStream(served ? { start: served.start, end: served.end } : {});
        return {
          stream,
          size: served ? served.end - served.start + 1 : s.size,
          totalSize: s.size,
          range: served,
          contentType: s.contentType,
          etag: s.etag,
          lastModified: new Date(s.lastModified),
          metadata: { ...s.metadata },
        };
      } catch (err) {
        await fh.close().catch(() => {});
        throw err;
      }
    }
  }

  async head(key: string): Promise<BlobInfo | null> {
    assertValidKey(key);
    const { dir, leaf } = this.locate(key);
    try {
      const s = await this.readSidecar(dir, leaf);
      return s ? toInfo(s) : null;
    } catch (err) {
      throw ioError('head', key, err);
    }
  }

  async delete(key: string): Promise<boolean> {
    assertValidKey(key);
    const { dir, leaf } = this.locate(key);
    try {
      const existed = await this.withLock(key, async () => {
        const s = await this.readSidecar(dir, leaf);
        if (!s) return false;
        await unlink(join(dir, leaf + META_SUFFIX));
        await unlink(join(dir, s.data)).catch(() => {});
        return true;
      });
      if (existed) await this.pruneEmptyDirs(dir);
      return existed;
    } catch (err) {
      throw ioError('delete', key, err);
    }
  }

  /** Removes now-empty directories from `dir` up to (not including) the root. */
  private async pruneEmptyDirs(dir: string): Promise<void> {
    let d = dir;
    while (d.startsWith(this.root + sep)) {
      try {
        await rmdir(d);
      } catch {
        return; // not empty (or already gone, or busy): stop
      }
      d = resolve(d, '..');
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    assertValidPrefix(prefix);
    const cut = prefix.lastIndexOf('/') + 1;
    const dirKey = prefix.slice(0, cut); // whole segments, '' or ending with '/'
    const partial = prefix.slice(cut); // the start of the next segment
    const out: BlobInfo[] = [];
    const walk = async (dir: string, keyPrefix: string, filter: string): Promise<void> => {
      const entries = await entriesOf(dir);
      for (const e of entries) {
        if (!e.name.startsWith(filter)) continue;
        if (e.isDirectory()) {
          await walk(join(dir, e.name), keyPrefix + e.name + '/', '');
        } else if (e.isFile() && e.name.endsWith(META_SUFFIX)) {
          const leaf = e.name.slice(0, -META_SUFFIX.length);
          const s = await this.readSidecar(dir, leaf).catch(() => null);
          if (s && s.key === keyPrefix + leaf) out.push(toInfo(s));
        }
      }
    };
    try {
      await walk(join(this.root, ...dirKey.split('/').filter(Boolean)), dirKey, partial);
    } catch (err) {
      throw ioError('list', prefix, err);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * Removes what a crash can leave behind: data files no sidecar names and temp files, when older
   * than `olderThanMs` (so a put in progress is never touched). Answers how many files went.
   */
  async sweep(olderThanMs = 60_000): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    const walk = async (dir: string): Promise<void> => {
      const entries = await entriesOf(dir);
      const referenced = new Set<string>();
      for (const e of entries) {
        if (e.isFile() && e.name.endsWith(META_SUFFIX)) {
          const s = await this.readSidecar(dir, e.name.slice(0, -META_SUFFIX.length)).catch(() => null);
          if (s) referenced.add(s.data);
        }
      }
      for (const e of entries) {
        if (e.isDirectory()) {
          await walk(join(dir, e.name));
        } else if (e.isFile() && (e.name.includes(DATA_MARK) || e.name.includes(TMP_MARK)) && !referenced.has(e.name)) {
          const p = join(dir, e.name);
          const st = await stat(p).catch(() => null);
          if (st && st.mtimeMs < cutoff) {
            // A put may have committed since the scan: check again under the key's lock.
            const leaf = e.name.slice(0, e.name.indexOf('@'));
            const rel = dir === this.root ? leaf : dir.slice(this.root.length + 1).split(sep).join('/') + '/' + leaf;
            await this.withLock(rel, async () => {
              const s = await this.readSidecar(dir, leaf).catch(() => null);
              if (s?.data === e.name) return;
              await unlink(p).then(() => removed++).catch(() => {});
            });
          }
        }
      }
    };
    await walk(this.root);
    return removed;
  }
}

/** A directory's entries; none when it does not exist. */
async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}
