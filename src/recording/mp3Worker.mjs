// The MP3 encoders of every recording in the process, on a worker thread: LAME costs ~90 µs per
// stereo recording per 20 ms, which belongs anywhere but on the media thread's tick. Plain
// JavaScript because worker threads start without the TypeScript loader the main thread has.
// Protocol (Mp3ChunkWriter in ChunkWriter.ts is the other end), in order per encoder id:
//   → {t: 'open', id, channels, kbps}           an encoder for one recording
//   → {t: 'begin', id}                          a new chunk: the encoder reconfigured
//   → {t: 'encode', id, pcm: Int16Array[]}       one batch, a buffer per channel (transferred)
//   → {t: 'end', id, seq}                        the chunk's end: ← {t: 'chunk', id, seq, bytes, error?}
//   → {t: 'close', id}                          the recording is over
//   ← {t: 'ready'} once the encoder module is compiled, or {t: 'failed', error}
//   ← {t: 'load', done, busy, lagMs}            how far it has got: every LOAD_MS while it works,
//                                                and once more when it falls idle (see report())
// `encode` carries `at` (Date.now() when posted), so that the thread can say how late it is.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import { createEncoder } from 'wasm-media-encoders';

const SAMPLE_RATE = 16000;
const port = parentPort;
/** @type {Map<number, {channels: number, kbps: number, enc: Promise<any>, parts: Uint8Array[], size: number, planar: Float32Array[]}>} */
const encoders = new Map();

const module = readFile(createRequire(import.meta.url).resolve('wasm-media-encoders/wasm/mp3')).then((b) => WebAssembly.compile(b));
module.then(
  () => port.postMessage({ t: 'ready' }),
  (err) => port.postMessage({ t: 'failed', error: String(err?.message ?? err) }),
);

// Load: encode messages done, the share of the last LOAD_MS spent encoding, and the largest delay
// between posting and encoding seen in it. The media thread admits no new MP3 recording to a thread
// that is saturated or late (ChunkWriter.ts), since every recording on it would then lag further.
const LOAD_MS = 250;
let done = 0;
let busyMs = 0;
let lagMs = 0;
let windowStart = performance.now();
let idleReport = null;

function report() {
  const now = performance.now();
  port.postMessage({ t: 'load', done, busy: busyMs / Math.max(1, now - windowStart), lagMs });
  windowStart = now;
  busyMs = 0;
  lagMs = 0;
}

function encoded(at, ms) {
  done++;
  busyMs += ms;
  lagMs = Math.max(lagMs, Date.now() - at);
  if (performance.now() - windowStart >= LOAD_MS) report();
  // when the messages stop (the load met, or every recording ended), a last word: otherwise the
  // media thread would keep the load of the last busy moment
  if (idleReport === null) {
    idleReport = setTimeout(() => {
      idleReport = null;
      report();
    }, LOAD_MS + 50);
  } else {
    idleReport.refresh();
  }
}

/** The encoder's output is a view into its memory, valid until its next call: copied. */
function keep(e, out) {
  if (out.byteLength === 0) return;
  e.parts.push(out.slice());
  e.size += out.byteLength;
}

// Each encoder's operations run in order on its promise chain (creation is asynchronous).
port.on('message', (m) => {
  if (m.t === 'open') {
    encoders.set(m.id, {
      channels: m.channels,
      kbps: m.kbps,
      enc: module.then((mod) => createEncoder('audio/mpeg', mod)),
      parts: [],
      size: 0,
      planar: [],
    });
    return;
  }
  const e = encoders.get(m.id);
  if (!e) return;
  if (m.t === 'close') {
    encoders.delete(m.id);
    return;
  }
  e.enc = e.enc.then((enc) => {
    if (m.t === 'begin') {
      enc.configure({ channels: e.channels, sampleRate: SAMPLE_RATE, bitrate: e.kbps });
      e.parts = [];
      e.size = 0;
    } else if (m.t === 'encode') {
      const t0 = performance.now();
      const n = m.pcm[0].length;
      if (e.planar.length === 0 || e.planar[0].length < n) e.planar = m.pcm.map(() => new Float32Array(n));
      const planar = e.planar.map((p) => (p.length === n ? p : p.subarray(0, n)));
      for (let c = 0; c < m.pcm.length; c++) {
        const src = m.pcm[c];
        const dst = planar[c];
        for (let i = 0; i < n; i++) dst[i] = src[i] / 32768;
      }
      keep(e, enc.encode(planar));
      encoded(m.at, performance.now() - t0);
    } else if (m.t === 'end') {
      keep(e, enc.finalize());
      const bytes = new Uint8Array(e.size);
      let at = 0;
      for (const p of e.parts) {
        bytes.set(p, at);
        at += p.length;
      }
      e.parts = [];
      e.size = 0;
      port.postMessage({ t: 'chunk', id: m.id, seq: m.seq, bytes }, [bytes.buffer]);
    }
    return enc;
  });
  e.enc.catch((err) => {
    if (m.t === 'encode') encoded(m.at, 0); // (counted as done: the batch will never be encoded)
    // the encoder is unusable: every chunk still to come fails
    if (m.t === 'end') port.postMessage({ t: 'chunk', id: m.id, seq: m.seq, error: String(err?.message ?? err) });
  });
});
