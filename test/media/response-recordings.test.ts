// ResponseRecordings (src/media/ResponseRecordings.ts) on its own: written without blocking, read
// with its token, and deleted after the retention even when the call ends while the file is still
// being written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingAccessError, ResponseRecordings } from '../../src/media/ResponseRecordings.ts';
import { eventually } from '../helpers/wait.ts';

test('a recording saved as its call ends is still deleted after the retention, file included', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'telegraph-responses-'));
  const rr = new ResponseRecordings(dataDir, () => 'http://127.0.0.1:1', 60, 50);
  try {
    const dir = join(dataDir, 'recordings', 'responses');
    const saving = rr.save('call-1', new Int16Array(16000 * 10).fill(1000)); // 320 KB: the write takes a while
    rr.callEnded('call-1'); // before the write is done
    const { id, token } = await saving;
    const wav = await rr.read(id, `Bearer ${token}`);
    assert.equal(wav.length, 44 + 320000, 'readable until the retention runs out');
    await eventually(() => readdirSync(dir).length === 0, 'the file deleted after the retention', 5000, 10);
    await assert.rejects(rr.read(id, `Bearer ${token}`), (err) => err instanceof RecordingAccessError && err.status === 404);
    assert.ok(existsSync(dir));
  } finally {
    rr.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a recording saved as chunks (a recorder\'s blocks) is the same WAV file as saved whole', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'telegraph-responses-'));
  const rr = new ResponseRecordings(dataDir, () => 'http://127.0.0.1:1', 60, 60_000);
  const mem = new ResponseRecordings(null, () => 'http://127.0.0.1:1', 60, 60_000);
  try {
    const whole = Int16Array.from({ length: 16000 * 3 + 320 }, (_, i) => ((i * 37) % 65536) - 32768);
    const chunks = [whole.subarray(0, 16000), whole.subarray(16000, 32000), whole.subarray(32000)];
    const a = await rr.save('c', whole);
    const b = await rr.save('c', chunks);
    const c = await mem.save('c', chunks);
    const bytes = async (store: ResponseRecordings, r: { id: string; token: string }) => Buffer.from(await store.read(r.id, `Bearer ${r.token}`));
    const wa = await bytes(rr, a);
    assert.equal(wa.length, 44 + whole.length * 2);
    assert.ok(wa.equals(await bytes(rr, b)), 'file from chunks');
    assert.ok(wa.equals(await bytes(mem, c)), 'in memory from chunks');
  } finally {
    rr.close();
    mem.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a reserved recording has its location at once; its token reads it once written (a read waits for the write); one deleted unwritten ends the wait', async () => {
  for (const dataDir of [null, mkdtempSync(join(tmpdir(), 'telegraph-responses-'))]) {
    const rr = new ResponseRecordings(dataDir, () => 'http://127.0.0.1:1', 60, 60_000);
    try {
      const what = dataDir ? 'on disk' : 'in memory';
      const r = rr.reserve('call-1');
      assert.equal(r.location, `http://127.0.0.1:1/recordings/responses/${r.id}`);
      const token = rr.token(r.id);
      const reading = rr.read(r.id, `Bearer ${token}`); // before the audio: waits for it
      await new Promise((res) => setTimeout(res, 20));
      await rr.write(r, new Int16Array(320).fill(7));
      assert.equal((await reading).length, 44 + 640, what);
      await assert.rejects(rr.write(r, new Int16Array(320)), /not reserved/, `${what}: written once only`);
      assert.equal((await rr.read(r.id, `Bearer ${rr.token(r.id)}`)).length, 44 + 640, `${what}: a new token reads it too`);

      const gone = rr.reserve('call-1');
      const waiting = rr.read(gone.id, `Bearer ${rr.token(gone.id)}`);
      await new Promise((res) => setTimeout(res, 20));
      rr.delete(gone.id);
      await assert.rejects(waiting, (err) => err instanceof RecordingAccessError && err.status === 404, `${what}: the wait ends`);
      await assert.rejects(rr.write(gone, new Int16Array(320)), /not reserved/);
    } finally {
      rr.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  }
});

test('an expired recording token is refused with 401, naming the reason', { timeout: 10_000 }, async () => {
  const rr = new ResponseRecordings(null, () => 'http://127.0.0.1:1', 2, 60_000);
  try {
    const { id, token } = await rr.save('call-1', new Int16Array(320));
    assert.equal((await rr.read(id, `Bearer ${token}`)).length, 44 + 640, 'valid at first');
    await new Promise((r) => setTimeout(r, 3100)); // past the 2 s lifetime (JWT times are whole seconds)
    await assert.rejects(rr.read(id, `Bearer ${token}`), (err) => err instanceof RecordingAccessError && err.status === 401 && /expired/.test(err.message));
  } finally {
    rr.close();
  }
});

test('a write that fails half-way leaves no file behind, and its recording is gone (404)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'telegraph-responses-'));
  // a disk that fills up after the first part: the file exists, partly written, when the write fails
  const failing = async (file: string, parts: Uint8Array[]) => {
    await writeFile(file, parts[0]!);
    throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
  };
  const rr = new ResponseRecordings(dataDir, () => 'http://127.0.0.1:1', 60, 60_000, failing);
  try {
    const dir = join(dataDir, 'recordings', 'responses');
    const r = rr.reserve('call-1');
    await assert.rejects(rr.write(r, new Int16Array(16000).fill(3)), /no space/);
    await eventually(() => readdirSync(dir).length === 0, 'the partial file removed', 2000, 10);
    await assert.rejects(rr.read(r.id, `Bearer ${rr.token(r.id)}`), (err) => err instanceof RecordingAccessError && err.status === 404);
  } finally {
    rr.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a recording reserved after its call ended is still deleted after the retention', async () => {
  const rr = new ResponseRecordings(null, () => 'http://127.0.0.1:1', 60, 50);
  try {
    rr.callEnded('call-1');
    const late = rr.reserve('call-1'); // (a write finishing after the call's end, say)
    await rr.write(late, new Int16Array(320));
    assert.equal((await rr.read(late.id, `Bearer ${rr.token(late.id)}`)).length, 44 + 640, 'readable at first');
    await eventually(async () => {
      try {
        await rr.read(late.id, `Bearer ${rr.token(late.id)}`);
        return false;
      } catch (err) {
        return err instanceof RecordingAccessError && err.status === 404;
      }
    }, 'deleted after the retention', 2000, 10);
  } finally {
    rr.close();
  }
});

test('close() (shutdown) deletes every recording\'s file, waiting for a write under way, and refuses a later write', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'telegraph-responses-'));
  let finish!: () => void;
  let hold = false;
  // The third write is held until the test lets it go: close() must wait for it, then delete its file.
  const slow = (file: string, parts: Uint8Array[]) =>
    hold ? new Promise<void>((r) => (finish = r)).then(() => writeFile(file, parts)) : writeFile(file, parts);
  const rr = new ResponseRecordings(dataDir, () => 'http://127.0.0.1:1', 60, 60_000, slow);
  const dir = join(dataDir, 'recordings', 'responses');
  try {
    await rr.save('call-1', new Int16Array(16000).fill(7)); // its call still up
    await rr.save('call-2', new Int16Array(16000).fill(7));
    rr.callEnded('call-2'); // within its retention
    hold = true;
    const writing = rr.write(rr.reserve('call-3'), new Int16Array(16000).fill(7));
    const unwritten = rr.reserve('call-4');
    assert.equal(readdirSync(dir).length, 2);
    let closed = false;
    const closing = rr.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(closed, false, 'close() waits for the write under way');
    finish();
    await closing;
    await writing;
    assert.deepEqual(readdirSync(dir), [], 'no recording left on disk');
    await assert.rejects(rr.write(unwritten, new Int16Array(320)), /not reserved/, 'a write after close() is refused');
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
