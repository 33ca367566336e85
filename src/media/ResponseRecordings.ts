// Audio recorded by recordResponse: kept as WAV files in the data directory, each readable only
// with its own short-lived access token, and deleted a while after its call ends (as the cloud
// discards them "shortly after the call ends").
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jwtVerify, errors as joseErrors } from 'jose';
import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { joinBytes, wavParts } from './audio/Wav.ts';
import { SAMPLE_RATE } from './MediaFormat.ts';

export class RecordingAccessError extends Error {
  constructor(
    readonly status: 401 | 403 | 404,
    message: string,
  ) {
    super(message);
  }
}

interface Entry {
  id: string;
  callId: string;
  file: string | null;
  bytes: Uint8Array | null;
  /** The audio's write (settled once it is on disk, or failed); pending until write() is called. */
  written: Promise<void>;
  /** Settles `written`; null once write() has been called (or the entry deleted). */
  markWritten: ((p: Promise<void>) => void) | null;
  deleteTimer: NodeJS.Timeout | null;
}

/** A recording named before its audio is stored, so that it can be reported before the write ends. */
export interface ReservedRecording {
  readonly id: string;
  readonly location: string;
}

export class ResponseRecordings {
  private readonly entries = new Map<string, Entry>();
  private readonly byCall = new Map<string, Set<string>>();
  /** Calls ended within the retention time: a recording reserved for one of them is deleted like the others. */
  private readonly ended = new Map<string, NodeJS.Timeout>();
  private readonly key: KeyObject;
  private readonly dir: string | null;

  constructor(
    dataDir: string | null,
    private readonly publicUrl: () => string,
    private readonly tokenLifetimeSeconds: number,
    private readonly retentionMs: number,
    /** How a file is written (a test's stand-in may fail half-way). */
    private readonly writeFileTo: (file: string, parts: Uint8Array[]) => Promise<void> = writeFile,
  ) {
    // A per-process key: tokens are short-lived and recordings do not outlive a restart's cleanup.
    this.key = createSecretKey(randomBytes(32));
    this.dir = dataDir ? join(dataDir, 'recordings', 'responses') : null;
    if (this.dir) {
      // Whatever a previous run left behind is past its retention by now.
      rmSync(this.dir, { recursive: true, force: true });
      mkdirSync(this.dir, { recursive: true });
    }
  }

  location(id: string): string {
    return `${this.publicUrl()}/recordings/responses/${id}`;
  }

  /**
   * Names a recording of call `callId` before its audio is stored; write() must follow. From now on
   * the call's end schedules its deletion, and a read waits for the write.
   */
  reserve(callId: string): ReservedRecording {
    const id = randomUUID();
    const entry: Entry = { id, callId, file: null, bytes: null, written: Promise.resolve(), markWritten: null, deleteTimer: null };
    entry.written = new Promise<void>((resolve) => (entry.markWritten = resolve));
    entry.written.catch(() => undefined); // (read() and write() report it)
    this.entries.set(id, entry);
    if (this.ended.has(callId)) {
      this.expire(entry); // (its call is over: nothing else would ever delete it)
    } else {
      let set = this.byCall.get(callId);
      if (!set) this.byCall.set(callId, (set = new Set()));
      set.add(id);
    }
    return { id, location: this.location(id) };
  }

  /**
   * Stores a reserved recording's audio (its samples in one or more chunks, written one after the
   * other; they are read until the returned promise settles). If it cannot be stored, the
   * recording is deleted and the promise rejects.
   */
  async write(reserved: ReservedRecording, audio: Int16Array | readonly Int16Array[]): Promise<void> {
    const entry = this.entries.get(reserved.id);
    if (!entry?.markWritten) throw new Error(`recording ${reserved.id} is not reserved (written already, or deleted)`);
    const parts = wavParts(audio instanceof Int16Array ? [audio] : audio, SAMPLE_RATE, 1);
    let written: Promise<void>;
    if (this.dir) {
      entry.file = join(this.dir, `${entry.id}.wav`);
      // not writeFileSync: the media clock runs on this thread, and a recording is up to 3.8 MB.
      // The parts as they are (the recorder's blocks): no copy of the audio into one buffer first.
      written = this.writeFileTo(entry.file, parts);
    } else {
      entry.bytes = joinBytes(parts);
      written = Promise.resolve();
    }
    entry.markWritten(written);
    entry.markWritten = null;
    try {
      await written;
    } catch (err) {
      this.delete(entry.id);
      throw err;
    }
  }

  /**
   * An access token for recording `id`, valid `tokenLifetimeSeconds` from now: an HS256 JWT naming
   * the recording, for its location. Signed here, synchronously (jose signs only asynchronously,
   * and a recording cut short by its call's end is reported in the same turn as the end); read()
   * checks it with jose.
   */
  token(id: string): string {
    const now = Math.floor(Date.now() / 1000);
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const signed = `${part({ alg: 'HS256' })}.${part({ rec: id, aud: this.location(id), iat: now, exp: now + this.tokenLifetimeSeconds })}`;
    return `${signed}.${createHmac('sha256', this.key).update(signed).digest('base64url')}`;
  }

  /** reserve(), write() and token(): a recording once it is stored. */
  async save(callId: string, audio: Int16Array | readonly Int16Array[]): Promise<{ id: string; location: string; token: string }> {
    const r = this.reserve(callId);
    await this.write(r, audio);
    return { id: r.id, location: r.location, token: this.token(r.id) };
  }

  /** The call ended: its recordings are deleted after the retention time. */
  callEnded(callId: string): void {
    if (!this.ended.has(callId)) {
      const t = setTimeout(() => this.ended.delete(callId), this.retentionMs);
      t.unref();
      this.ended.set(callId, t);
    }
    const set = this.byCall.get(callId);
    if (!set) return;
    this.byCall.delete(callId);
    for (const id of set) {
      const e = this.entries.get(id);
      if (e) this.expire(e);
    }
  }

  private expire(e: Entry): void {
    e.deleteTimer = setTimeout(() => void this.delete(e.id), this.retentionMs);
    e.deleteTimer.unref();
  }

  /** Deletes a recording now; the promise settles once its file is gone (never rejects). */
  delete(id: string): Promise<void> {
    const e = this.entries.get(id);
    if (!e) return Promise.resolve();
    if (e.deleteTimer) clearTimeout(e.deleteTimer);
    this.entries.delete(id);
    // never written: a read waiting for it ends (404), and a later write() is refused
    e.markWritten?.(Promise.reject(new Error('deleted before it was written')));
    e.markWritten = null;
    // after its write, so that a write still under way cannot leave the file behind; whether it
    // succeeded or not (a failed write may have left part of the file)
    const file = e.file;
    if (!file) return Promise.resolve();
    return e.written
      .catch(() => undefined)
      .then(() => rm(file, { force: true }))
      .catch(() => undefined); // (gone already: nothing to do)
  }

  /** Reads a recording for a bearer token. Throws RecordingAccessError with the status to answer. */
  async read(id: string, authorization: string | undefined): Promise<Uint8Array> {
    const m = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization) : null;
    if (!m) throw new RecordingAccessError(401, 'Send the recordingAccessToken as Authorization: Bearer <token>.');
    let rec: unknown;
    try {
      const { payload } = await jwtVerify(m[1]!, this.key, { algorithms: ['HS256'] });
      rec = payload.rec;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new RecordingAccessError(401, 'The recording access token has expired.');
      throw new RecordingAccessError(401, 'The recording access token is not valid.');
    }
    if (rec !== id) throw new RecordingAccessError(403, 'This access token is for another recording.');
    const e = this.entries.get(id);
    if (!e) throw new RecordingAccessError(404, `Recording ${id} does not exist or was deleted after its call ended.`);
    try {
      await e.written;
      return e.bytes ?? (await readFile(e.file!));
    } catch {
      throw new RecordingAccessError(404, `Recording ${id} does not exist or was deleted after its call ended.`);
    }
  }

  /**
   * Shutdown: every recording is deleted, its file once any write under way has ended. They could
   * not be read after a restart anyway (the tokens' key is this process's), and a caller's words
   * should not stay on disk until the next start's cleanup. A write begun later is refused.
   */
  async close(): Promise<void> {
    for (const t of this.ended.values()) clearTimeout(t);
    this.ended.clear();
    this.byCall.clear();
    await Promise.all([...this.entries.keys()].map((id) => this.delete(id)));
  }
}
