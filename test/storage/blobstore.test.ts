// The blob store contract, run against every backend: the filesystem, and Azure Blob Storage
// through @azure/storage-blob against a real Azurite (connection string and container SAS URL).
// Then what is specific to each: the filesystem layout and crash leftovers; Azure's errors.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import {
  BlobServiceClient,
  ContainerSASPermissions,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import { BlobStoreError } from '../../src/storage/blob/BlobStore.ts';
import type { BlobPutOptions, BlobStore } from '../../src/storage/blob/BlobStore.ts';
import { FileBlobStore } from '../../src/storage/blob/FileBlobStore.ts';
import { AzureBlobStore } from '../../src/storage/blob/AzureBlobStore.ts';
import { DEV_ACCOUNT, DEV_KEY, startAzurite } from './azurite.ts';
import type { Azurite } from './azurite.ts';

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function getBytes(store: BlobStore, key: string, range?: { start: number; end?: number }): Promise<Buffer | null> {
  const r = await store.get(key, range);
  return r ? readAll(r.stream) : null;
}

async function* chunksOf(buf: Buffer, chunk: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += chunk) yield new Uint8Array(buf.buffer, buf.byteOffset + i, Math.min(chunk, buf.length - i));
}

function expectCode(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof BlobStoreError, `expected a BlobStoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

const BYTES_100 = Buffer.from(Array.from({ length: 100 }, (_, i) => i));

const INVALID_KEYS = [
  '', '/a', 'a/', 'a//b', '..', '.', '../a', 'a/../b', 'a/..', 'a..b', 'a/./b', './a',
  'a b', 'a?b', 'a#b', 'a%2e', 'a\\b', 'a@meta.json', 'ü', 'a\nb', 'a:b',
  'x'.repeat(1025), 'x'.repeat(201), Array.from({ length: 33 }, () => 's').join('/'),
];

/** The contract every BlobStore keeps. `make` gives a fresh, empty store. */
function contract(name: string, make: () => Promise<BlobStore>): void {
  describe(`${name}: the blob store contract`, () => {
    let store: BlobStore;
    before(async () => {
      store = await make();
    });

    it('put, get, head: bytes, size, content type, metadata and one strong etag', async () => {
      const data = randomBytes(1000);
      const put = await store.put('rec/r1/chunk-0.wav', data, { contentType: 'audio/wav', metadata: { index: '0', document_id: 'doc-1' } });
      assert.equal(put.size, 1000);
      assert.match(put.etag, /^"[^"]+"$/, 'an etag in HTTP form');
      const got = await store.get('rec/r1/chunk-0.wav');
      assert.ok(got);
      assert.deepEqual(await readAll(got.stream), data);
      assert.equal(got.size, 1000);
      assert.equal(got.totalSize, 1000);
      assert.equal(got.range, null);
      assert.equal(got.contentType, 'audio/wav');
      assert.equal(got.etag, put.etag);
      assert.deepEqual(got.metadata, { index: '0', document_id: 'doc-1' });
      const head = await store.head('rec/r1/chunk-0.wav');
      assert.ok(head);
      assert.equal(head.key, 'rec/r1/chunk-0.wav');
      assert.equal(head.size, 1000);
      assert.equal(head.contentType, 'audio/wav');
      assert.equal(head.etag, put.etag);
      assert.deepEqual(head.metadata, { index: '0', document_id: 'doc-1' });
      assert.ok(head.lastModified instanceof Date && Math.abs(head.lastModified.getTime() - Date.now()) < 120_000);
    });

    it('ranges: first bytes, middle, to the end, an end past the last byte clamped', async () => {
      await store.put('range/b100', BYTES_100, { contentType: 'application/octet-stream' });
      const cases: [{ start: number; end?: number }, number, number][] = [
        [{ start: 0, end: 0 }, 0, 0],
        [{ start: 0, end: 9 }, 0, 9],
        [{ start: 10, end: 19 }, 10, 19],
        [{ start: 90 }, 90, 99],
        [{ start: 0 }, 0, 99],
        [{ start: 99 }, 99, 99],
        [{ start: 95, end: 1000 }, 95, 99],
        [{ start: 0, end: 99 }, 0, 99],
      ];
      for (const [range, start, end] of cases) {
        const r = await store.get('range/b100', range);
        assert.ok(r, JSON.stringify(range));
        assert.deepEqual(await readAll(r.stream), BYTES_100.subarray(start, end + 1), JSON.stringify(range));
        assert.deepEqual(r.range, { start, end }, JSON.stringify(range));
        assert.equal(r.size, end - start + 1);
        assert.equal(r.totalSize, 100);
      }
    });

    it('ranges: a start at or past the end is RangeNotSatisfiable with the size; a malformed range is InvalidArgument', async () => {
      await store.put('range/b100b', BYTES_100, { contentType: 'application/octet-stream' });
      for (const range of [{ start: 100 }, { start: 100, end: 200 }, { start: 5000 }]) {
        await assert.rejects(store.get('range/b100b', range), (err) => {
          expectCode('RangeNotSatisfiable')(err);
          assert.equal((err as BlobStoreError).totalSize, 100);
          assert.equal((err as BlobStoreError).status, 416);
          return true;
        });
      }
      for (const range of [{ start: -1 }, { start: 1.5 }, { start: 10, end: 9 }, { start: Number.NaN }]) {
        await assert.rejects(store.get('range/b100b', range), expectCode('InvalidArgument'), JSON.stringify(range));
      }
      assert.equal(await store.get('range/missing', { start: 0 }), null, 'a missing blob is null whatever the range');
    });

    it('empty blobs: from bytes and from an empty stream; whole reads work, any range is unsatisfiable', async () => {
      const a = await store.put('empty/bytes', new Uint8Array(0), { contentType: 'application/json' });
      const b = await store.put('empty/stream', (async function* () {})(), { contentType: 'application/json' });
      assert.equal(a.size, 0);
      assert.equal(b.size, 0);
      for (const key of ['empty/bytes', 'empty/stream']) {
        const r = await store.get(key);
        assert.ok(r);
        assert.equal(r.totalSize, 0);
        assert.equal((await readAll(r.stream)).length, 0);
        assert.equal((await store.head(key))?.size, 0);
        await assert.rejects(store.get(key, { start: 0 }), expectCode('RangeNotSatisfiable'));
      }
    });

    it('overwrite replaces bytes, content type and metadata, and changes the etag', async () => {
      const first = await store.put('ow/k', Buffer.from('first version'), { contentType: 'text/plain', metadata: { v: '1' } });
      const second = await store.put('ow/k', Buffer.from('{"second":true}'), { contentType: 'application/json' });
      assert.notEqual(first.etag, second.etag);
      const r = await store.get('ow/k');
      assert.ok(r);
      assert.equal((await readAll(r.stream)).toString(), '{"second":true}');
      assert.equal(r.contentType, 'application/json');
      assert.equal(r.etag, second.etag);
      assert.deepEqual(r.metadata, {});
      assert.deepEqual((await store.list('ow/')).map((i) => [i.key, i.etag]), [['ow/k', second.etag]]);
    });

    it('a missing key: get and head are null, delete is false; delete removes, once', async () => {
      assert.equal(await store.get('nothing/here'), null);
      assert.equal(await store.head('nothing/here'), null);
      assert.equal(await store.delete('nothing/here'), false);
      await store.put('del/k', Buffer.from('x'), { contentType: 'text/plain' });
      assert.equal(await store.delete('del/k'), true);
      assert.equal(await store.get('del/k'), null);
      assert.equal(await store.head('del/k'), null);
      assert.equal(await store.delete('del/k'), false);
      assert.deepEqual(await store.list('del/'), []);
    });

    it('list: by string prefix, sorted by key, with sizes, etags, types and metadata; "a" and "a/b" coexist', async () => {
      const keys = ['ls/a/2', 'ls/a/1', 'ls/a-b', 'ls/ab', 'ls/b/1', 'ls/a', 'lsx/1'];
      const etags = new Map<string, string>();
      for (const [i, k] of keys.entries()) etags.set(k, (await store.put(k, Buffer.alloc(i + 1, i), { contentType: 'text/plain', metadata: { n: String(i) } })).etag);
      assert.deepEqual((await store.list('ls/a/')).map((i) => i.key), ['ls/a/1', 'ls/a/2']);
      assert.deepEqual((await store.list('ls/a')).map((i) => i.key), ['ls/a', 'ls/a-b', 'ls/a/1', 'ls/a/2', 'ls/ab']);
      assert.deepEqual((await store.list('ls/')).map((i) => i.key), ['ls/a', 'ls/a-b', 'ls/a/1', 'ls/a/2', 'ls/ab', 'ls/b/1']);
      assert.deepEqual((await store.list('ls')).map((i) => i.key), ['ls/a', 'ls/a-b', 'ls/a/1', 'ls/a/2', 'ls/ab', 'ls/b/1', 'lsx/1']);
      assert.deepEqual(await store.list('nope/'), []);
      assert.deepEqual(await store.list('ls/zz'), []);
      const all = await store.list('');
      for (const k of keys) assert.ok(all.some((i) => i.key === k), k);
      const entry = (await store.list('ls/b/'))[0]!;
      assert.equal(entry.size, 5);
      assert.equal(entry.contentType, 'text/plain');
      assert.equal(entry.etag, etags.get('ls/b/1'));
      assert.deepEqual(entry.metadata, { n: '4' });
      assert.deepEqual(await getBytes(store, 'ls/a'), Buffer.alloc(6, 5));
      assert.deepEqual(await getBytes(store, 'ls/a/1'), Buffer.alloc(2, 1));
      await assert.rejects(store.list('../'), expectCode('InvalidKey'));
      await assert.rejects(store.list('/ls'), expectCode('InvalidKey'));
    });

    it('concurrent puts of different keys all land intact', async () => {
      const blobs = Array.from({ length: 24 }, (_, i) => ({ key: `conc/k${i}`, data: randomBytes(1000 + i * 997) }));
      const puts = await Promise.all(
        blobs.map((b, i) => store.put(b.key, i % 2 ? b.data : chunksOf(b.data, 1024), { contentType: 'application/octet-stream' })),
      );
      puts.forEach((p, i) => assert.equal(p.size, blobs[i]!.data.length));
      const back = await Promise.all(blobs.map((b) => getBytes(store, b.key)));
      back.forEach((d, i) => assert.deepEqual(d, blobs[i]!.data, blobs[i]!.key));
      assert.equal((await store.list('conc/')).length, 24);
    });

    it('concurrent overwrites of one key leave exactly one whole version, with its own etag', async () => {
      const versions = Array.from({ length: 8 }, (_, i) => Buffer.alloc(5000 + i, i + 1));
      const puts = await Promise.all(versions.map((v) => store.put('race/k', v, { contentType: 'application/octet-stream' })));
      const r = await store.get('race/k');
      assert.ok(r);
      const bytes = await readAll(r.stream);
      const winner = versions.findIndex((v) => v.equals(bytes));
      assert.ok(winner >= 0, 'the content is one of the versions, not a mix');
      assert.equal(r.etag, puts[winner]!.etag);
      assert.equal((await store.list('race/')).length, 1);
    });

    it('a put whose stream fails rejects with the stream’s error and leaves the old blob in place', async () => {
      await store.put('fail/k', Buffer.from('old'), { contentType: 'text/plain' });
      const boom = new Error('source broke');
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield randomBytes(1000);
        throw boom;
      }
      await assert.rejects(store.put('fail/k', failing(), { contentType: 'text/plain' }), (err) => err === boom);
      assert.deepEqual(await getBytes(store, 'fail/k'), Buffer.from('old'));
      await assert.rejects(store.put('fail/new', failing(), { contentType: 'text/plain' }), (err) => err === boom);
      assert.equal(await store.head('fail/new'), null);
    });

    it('a 20 MB streamed blob round-trips, whole and by ranges across block boundaries', async () => {
      const MB = 1024 * 1024;
      const data = randomBytes(20 * MB);
      const sha = createHash('sha256').update(data).digest('hex');
      const put = await store.put('big/20mb.wav', chunksOf(data, 256 * 1024), { contentType: 'audio/wav' });
      assert.equal(put.size, 20 * MB);
      const r = await store.get('big/20mb.wav');
      assert.ok(r);
      assert.equal(r.totalSize, 20 * MB);
      const hash = createHash('sha256');
      for await (const c of r.stream) hash.update(c as Buffer);
      assert.equal(hash.digest('hex'), sha);
      for (const [start, end] of [[4 * MB - 10, 4 * MB + 10], [20 * MB - 1000, 20 * MB - 1], [0, 99]] as const) {
        assert.deepEqual(await getBytes(store, 'big/20mb.wav', { start, end }), data.subarray(start, end + 1));
      }
      assert.deepEqual(await getBytes(store, 'big/20mb.wav', { start: 20 * MB - 5, end: 30 * MB }), data.subarray(20 * MB - 5));
      assert.equal(await store.delete('big/20mb.wav'), true);
    });

    it('key rules: invalid keys are refused before any I/O, with a message that says why', async () => {
      for (const key of INVALID_KEYS) {
        const check = (err: unknown) => {
          expectCode('InvalidKey')(err);
          assert.match((err as Error).message, /invalid blob key/);
          return true;
        };
        await assert.rejects(store.put(key, Buffer.from('x'), { contentType: 'text/plain' }), check, JSON.stringify(key));
        await assert.rejects(store.get(key), check, JSON.stringify(key));
        await assert.rejects(store.head(key), check, JSON.stringify(key));
        await assert.rejects(store.delete(key), check, JSON.stringify(key));
      }
      await assert.rejects(store.put(42 as unknown as string, Buffer.from('x'), { contentType: 'text/plain' }), expectCode('InvalidKey'));
      // The edges that are allowed.
      const deep = Array.from({ length: 32 }, (_, i) => `s${i}`).join('/');
      for (const key of ['a', 'A-Z_0.9~x', '.hidden', 'x'.repeat(200), deep, 'v1.0/doc-1/content.audio']) {
        await store.put(key, Buffer.from(key), { contentType: 'text/plain' });
        assert.deepEqual(await getBytes(store, key), Buffer.from(key), key);
        assert.equal(await store.delete(key), true, key);
      }
    });

    it('put options: content type and metadata are checked the same way everywhere', async () => {
      const bad: BlobPutOptions[] = [
        { contentType: '' },
        { contentType: 'a\nb' },
        { contentType: 'x'.repeat(256) },
        { contentType: 'text/plain', metadata: { 'Bad-Name': 'x' } },
        { contentType: 'text/plain', metadata: { '1abc': 'x' } },
        { contentType: 'text/plain', metadata: { ok: 'line\nbreak' } },
        { contentType: 'text/plain', metadata: { ok: ' padded' } },
        { contentType: 'text/plain', metadata: { ok: '' } },
        { contentType: 'text/plain', metadata: { ok: 'ü' } },
      ];
      for (const options of bad) await assert.rejects(store.put('opts/k', Buffer.from('x'), options), expectCode('InvalidArgument'), JSON.stringify(options));
      assert.equal(await store.head('opts/k'), null);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The filesystem

const fileRoots: string[] = [];
function tempRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'telegraph-blobs-'));
  fileRoots.push(dir);
  return join(dir, 'blobs');
}
after(() => {
  for (const d of fileRoots) rmSync(d, { recursive: true, force: true });
});

contract('FileBlobStore', async () => new FileBlobStore(tempRoot()));

function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(relative(root, join(d, e.name)));
    }
  };
  walk(root);
  return out.sort();
}

describe('FileBlobStore: layout, atomicity, crash leftovers', () => {
  it('keeps every file under its root: a data file and a sidecar per blob, no temp files, empty directories pruned', async () => {
    const root = tempRoot();
    const store = new FileBlobStore(root);
    writeFileSync(join(root, '..', 'outside.txt'), 'untouched');
    const data = Buffer.from('hello');
    const put = await store.put('r/1/a', data, { contentType: 'text/plain', metadata: { m: '1' } });
    await store.put('r/1', Buffer.from('a blob beside a directory'), { contentType: 'text/plain' });
    const files = filesUnder(root);
    assert.equal(files.length, 4, files.join(', '));
    assert.ok(files.includes(join('r', '1@meta.json')));
    assert.ok(files.includes(join('r', '1', 'a@meta.json')));
    assert.ok(files.some((f) => f.startsWith(join('r', '1', 'a@data.'))));
    const sidecar = JSON.parse(readFileSync(join(root, 'r', '1', 'a@meta.json'), 'utf8'));
    assert.equal(sidecar.etag, `"${createHash('sha256').update(data).digest('hex')}"`, 'the etag is the sha-256 of the bytes');
    assert.equal(put.etag, sidecar.etag);
    assert.equal(sidecar.contentType, 'text/plain');
    assert.deepEqual(sidecar.metadata, { m: '1' });
    await store.put('r/1/a', Buffer.from('v2'), { contentType: 'text/plain' });
    assert.equal(filesUnder(root).length, 4, 'the old data file went with the overwrite');
    assert.equal(await store.delete('r/1/a'), true);
    assert.equal(await store.delete('r/1'), true);
    assert.deepEqual(filesUnder(root), []);
    assert.deepEqual(readdirSync(root), [], 'empty directories are pruned');
    assert.equal(readFileSync(join(root, '..', 'outside.txt'), 'utf8'), 'untouched');
  });

  it('a reader that has opened a blob reads the version it opened, even across an overwrite and a delete', async () => {
    const store = new FileBlobStore(tempRoot());
    const v1 = randomBytes(300_000);
    await store.put('k', v1, { contentType: 'application/octet-stream' });
    const r = await store.get('k');
    assert.ok(r);
    await store.put('k', Buffer.from('v2'), { contentType: 'text/plain' });
    assert.equal(await store.delete('k'), true);
    assert.deepEqual(await readAll(r.stream), v1);
  });

  it('sweep removes what a crash leaves (unreferenced data, temp sidecars) once old enough, and nothing else', async () => {
    const root = tempRoot();
    const store = new FileBlobStore(root);
    await store.put('s/keep', Buffer.from('keep me'), { contentType: 'text/plain' });
    const orphanData = join(root, 's', 'keep@data.0123456789abcdef');
    const orphanTmp = join(root, 's', 'gone@tmp.0123456789abcdef');
    const fresh = join(root, 's', 'writing@data.fedcba9876543210');
    writeFileSync(orphanData, 'orphan');
    writeFileSync(orphanTmp, '{}');
    writeFileSync(fresh, 'a put in progress');
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(orphanData, old, old);
    utimesSync(orphanTmp, old, old);
    // Backdate the live blob's files too: being referenced is what keeps them.
    for (const f of readdirSync(join(root, 's'))) if (f.startsWith('keep@')) utimesSync(join(root, 's', f), old, old);
    assert.equal(await store.sweep(60_000), 2);
    const left = readdirSync(join(root, 's')).sort();
    assert.equal(left.length, 3, left.join(', '));
    assert.ok(left.includes('writing@data.fedcba9876543210'));
    assert.ok(statSync(join(root, 's', 'keep@meta.json')).isFile());
    assert.deepEqual(await getBytes(store, 's/keep'), Buffer.from('keep me'));
    assert.deepEqual((await store.list('s/')).map((i) => i.key), ['s/keep']);
  });
});

// ---------------------------------------------------------------------------------------------
// Azure Blob Storage, against a real Azurite

function containerSasUrl(azurite: Azurite, containerName: string, permissions: string, expiresOn = new Date(Date.now() + 3_600_000)): string {
  const sas = generateBlobSASQueryParameters(
    {
      containerName,
      permissions: ContainerSASPermissions.parse(permissions),
      startsOn: new Date(Date.now() - 5 * 60_000),
      expiresOn,
      protocol: SASProtocol.HttpsAndHttp,
    },
    new StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
  ).toString();
  return `${azurite.blobEndpoint}/${containerName}?${sas}`;
}

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('AzureBlobStore against a real Azurite', { timeout: 60_000 }, () => {
  let azurite: Azurite;
  let service: BlobServiceClient;
  before(async () => {
    azurite = await startAzurite({ startTimeoutMs: 20_000 });
    service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  });
  after(async () => {
    await azurite?.stop();
  });

  contract('AzureBlobStore (connection string, dev account)', async () => {
    const store = new AzureBlobStore({ connectionString: azurite.connectionString, containerName: 'contract-cs' });
    await store.ensureContainer();
    return store;
  });

  contract('AzureBlobStore (container SAS URL)', async () => {
    await service.getContainerClient('contract-sas').create();
    const url = containerSasUrl(azurite, 'contract-sas', 'racwdl');
    const store = new AzureBlobStore({ containerUrl: url });
    assert.ok(!store.url.includes('sig='), 'the store shows its URL without the token');
    return store;
  });

  describe('AzureBlobStore errors', () => {
    it('a missing container is ContainerNotFound (404), for every operation, not a missing blob', async () => {
      const store = new AzureBlobStore({ connectionString: azurite.connectionString, containerName: 'no-such-container', maxTries: 1 });
      const check = (err: unknown) => {
        expectCode('ContainerNotFound')(err);
        assert.equal((err as BlobStoreError).status, 404);
        assert.match((err as Error).message, /no-such-container/);
        assert.match((err as Error).message, /does not exist/);
        return true;
      };
      await assert.rejects(store.put('k', Buffer.from('x'), { contentType: 'text/plain' }), check);
      await assert.rejects(store.put('k', chunksOf(Buffer.from('x'), 1), { contentType: 'text/plain' }), check);
      await assert.rejects(store.get('k'), check);
      await assert.rejects(store.head('k'), check);
      await assert.rejects(store.delete('k'), check);
      await assert.rejects(store.list(''), check);
    });

    it('a tampered or expired SAS token is AuthenticationFailed with the status, and the token is never in the message', async () => {
      await service.getContainerClient('auth').createIfNotExists();
      const good = containerSasUrl(azurite, 'auth', 'racwdl');
      const sig = new URL(good).searchParams.get('sig')!;
      const tampered = new URL(good);
      tampered.searchParams.set('sig', Buffer.alloc(32, 7).toString('base64'));
      const expired = containerSasUrl(azurite, 'auth', 'racwdl', new Date(Date.now() - 60_000));
      for (const url of [tampered.toString(), expired]) {
        const store = new AzureBlobStore({ containerUrl: url, maxTries: 1 });
        for (const op of [() => store.put('k', Buffer.from('x'), { contentType: 'text/plain' }), () => store.get('k'), () => store.list('')]) {
          await assert.rejects(op(), (err) => {
            expectCode('AuthenticationFailed')(err);
            assert.equal((err as BlobStoreError).status, 403);
            assert.match((err as Error).message, /403/);
            assert.ok(!(err as Error).message.includes(sig), 'no token in the message');
            assert.ok(!(err as Error).message.includes(new URL(url).searchParams.get('sig')!), 'no token in the message');
            return true;
          });
        }
      }
      const wrongKey = azurite.connectionString.replace(DEV_KEY, Buffer.alloc(64, 1).toString('base64'));
      const store = new AzureBlobStore({ connectionString: wrongKey, containerName: 'auth', maxTries: 1 });
      await assert.rejects(store.head('k'), (err) => expectCode('AuthenticationFailed')(err) && (err as BlobStoreError).status === 403);
    });

    it('a SAS without write permission is refused on put (403) while reads work', async () => {
      await service.getContainerClient('readonly').createIfNotExists();
      await service.getContainerClient('readonly').getBlockBlobClient('seen').uploadData(Buffer.from('hi'));
      const store = new AzureBlobStore({ containerUrl: containerSasUrl(azurite, 'readonly', 'rl'), maxTries: 1 });
      assert.deepEqual(await getBytes(store, 'seen'), Buffer.from('hi'));
      await assert.rejects(store.put('k', Buffer.from('x'), { contentType: 'text/plain' }), (err) => {
        expectCode('AuthenticationFailed')(err);
        assert.equal((err as BlobStoreError).status, 403);
        return true;
      });
    });

    it('an unreachable service is a Network error naming the host', async () => {
      const port = await closedPort();
      const store = new AzureBlobStore({ containerUrl: `http://127.0.0.1:${port}/${DEV_ACCOUNT}/c?sv=2020-01-01&sig=abc`, maxTries: 1 });
      await assert.rejects(store.put('k', Buffer.from('x'), { contentType: 'text/plain' }), (err) => {
        expectCode('Network')(err);
        assert.match((err as Error).message, new RegExp(`127\\.0\\.0\\.1:${port}`));
        assert.ok(!(err as Error).message.includes('sig=abc'));
        return true;
      });
      await assert.rejects(store.get('k'), expectCode('Network'));
    });

    it('refuses bad configuration before any request', () => {
      assert.throws(() => new AzureBlobStore({ containerUrl: 'not a url' }), expectCode('InvalidArgument'));
      assert.throws(() => new AzureBlobStore({ containerUrl: 'ftp://host/c' }), expectCode('InvalidArgument'));
      assert.throws(() => new AzureBlobStore({ containerUrl: 'http://blob.example.com/c?sig=secret' }), (err) => {
        expectCode('InvalidArgument')(err);
        assert.ok(!(err as Error).message.includes('secret'));
        return true;
      });
      assert.throws(() => new AzureBlobStore({ connectionString: azurite.connectionString, containerName: 'Bad_Name' }), expectCode('InvalidArgument'));
      assert.throws(() => new AzureBlobStore({ connectionString: 'AccountKey=secret;nonsense', containerName: 'ok-name' }), (err) => {
        expectCode('InvalidArgument')(err);
        assert.ok(!(err as Error).message.includes('secret'));
        return true;
      });
      assert.throws(
        () => new AzureBlobStore({ connectionString: azurite.connectionString, containerName: 'ok-name', blockSizeBytes: 10 }),
        expectCode('InvalidArgument'),
      );
    });
  });
});
