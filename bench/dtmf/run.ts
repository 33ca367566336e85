/**
 * DTMF detection bench: Telegraph's DtmfDetector side by side with Debian's multimon-ng.
 *
 *   node --import tsx bench/dtmf/run.ts
 *
 * Every condition is one synthetic stream (16 kHz, Int16) of known keys. Telegraph's detector
 * reads it in 20 ms frames; multimon-ng reads the same stream resampled to its 22 050 Hz
 * (`multimon-ng -c -a DTMF -t raw`). For each, keys found in order (longest common subsequence with
 * the keys sent) are hits; everything else it reported is a false alarm. Conditions that must be
 * rejected (20 ms tones, ±3.5 % and beyond, excessive twist) expect nothing. The talk-off part
 * runs speech synthesised with espeak-ng (texts and voices different from the test suite's) and
 * noise through both. Writes bench/results/dtmf.json and prints a table.
 *
 * Needs the Debian packages espeak-ng and multimon-ng.
 */
import { execFile, execFileSync } from 'node:child_process';
import { rm, writeFile, mkdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { DtmfDetector } from '../../src/media/dtmf/DtmfDetector.ts';
import { Resampler } from '../../src/media/audio/Resampler.ts';
import {
  DTMF_KEYS as KEYS,
  SpeechSynth,
  addDtmfTone,
  addGaussianNoise,
  dtmfNoiseRms as noiseFor,
  prng,
  speechInNoise,
  toInt16,
  whiteNoiseAt,
  type DtmfLevels,
} from '../../test/helpers/audio.ts';
import { ROOT } from '../helpers.ts';

const exec = promisify(execFile);
const FS = 16000;
const FRAME = 320;

for (const tool of ['multimon-ng', 'espeak-ng']) {
  try {
    execFileSync(tool, ['-h'], { stdio: 'ignore' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error(`${tool} not found: apt-get install -y multimon-ng espeak-ng`);
      process.exit(2);
    }
  }
}

// --- signal building ------------------------------------------------------------------------------

interface ToneSpec extends DtmfLevels {
  onMs: number;
  offMs: number;
}

/** Keys one after another; each key's start is nudged by a varying fraction of a frame. */
function render(keys: string, spec: ToneSpec, noiseRms = 0, seed = 1): Int16Array {
  const slot = spec.onMs + spec.offMs + 20;
  const total = Math.ceil(((keys.length * slot + 200) * FS) / 1000);
  const buf = new Float64Array(total);
  let i = 0;
  for (const key of keys) {
    const n0 = Math.round(((50 + i * slot + ((i * 7) % 20)) * FS) / 1000);
    addDtmfTone(buf, key, n0, n0 + Math.round((spec.onMs * FS) / 1000), spec, FS);
    i++;
  }
  if (noiseRms > 0) addGaussianNoise(buf, noiseRms, prng(seed));
  return toInt16(buf);
}

// --- detectors ------------------------------------------------------------------------------------

let telegraphFrames = 0;
let telegraphNs = 0n;

function telegraph(samples: Int16Array): string {
  const det = new DtmfDetector();
  const frame = new Int16Array(FRAME);
  let out = '';
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < samples.length + 10 * FRAME; i += FRAME) {
    for (let j = 0; j < FRAME; j++) frame[j] = i + j < samples.length ? samples[i + j]! : 0;
    const k = det.process(frame);
    if (k) out += k;
  }
  telegraphNs += process.hrtime.bigint() - t0;
  telegraphFrames += Math.ceil((samples.length + 10 * FRAME) / FRAME);
  return out;
}

let synth: SpeechSynth;
let workDir = '';
let mmSeconds = 0;
let mmWallMs = 0;

async function multimon(samples: Int16Array, name: string): Promise<string> {
  const r = new Resampler(FS, 22050, { maxInput: samples.length });
  const out = new Int16Array(r.maxOutputLength(samples.length) + 64);
  let n = r.processInt16(samples, out);
  n += r.flushInt16(out.subarray(n));
  const file = join(workDir, `${name.replace(/[^a-z0-9]+/gi, '_')}.raw`);
  await writeFile(file, new Uint8Array(out.buffer, 0, n * 2)); // little-endian on x86/ARM
  const t0 = performance.now();
  const { stdout } = await exec('multimon-ng', ['-q', '-c', '-a', 'DTMF', '-t', 'raw', file], { maxBuffer: 1 << 26 });
  mmWallMs += performance.now() - t0;
  mmSeconds += n / 22050;
  await rm(file, { force: true });
  let keys = '';
  for (const line of stdout.split('\n')) {
    const m = /^DTMF: (.)/.exec(line.trim());
    if (m) keys += m[1];
  }
  return keys;
}

function lcs(a: string, b: string): number {
  const prev = new Uint32Array(b.length + 1);
  const cur = new Uint32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    }
    prev.set(cur);
  }
  return prev[b.length]!;
}

// --- conditions -----------------------------------------------------------------------------------

type Expect = 'detect' | 'reject' | 'either';

interface Condition {
  group: string;
  name: string;
  /** detect: every key must be found; reject: nothing may be reported; either: no requirement. */
  expect: Expect;
  keys: string;
  spec: ToneSpec;
  snr?: number;
}

const conditions: Condition[] = [];
const keys10 = KEYS.repeat(10);
const add = (c: Condition) => conditions.push(c);

add({ group: 'digits', name: 'all 16, 50/50 ms, −10 dBFS', expect: 'detect', keys: keys10, spec: { onMs: 50, offMs: 50 } });
// the standard asks for detection down to 26 dB below nominal; lower levels have no requirement
for (const db of [-3, -6, -10, -20, -30, -36, -40, -43, -46, -50]) {
  add({ group: 'level', name: `${db} dBFS per tone`, expect: db >= -36 ? 'detect' : 'either', keys: KEYS.repeat(5), spec: { onMs: 50, offMs: 50, lowDb: db, highDb: db } });
}
for (const snr of [30, 20, 15, 12, 10, 8, 6]) {
  add({ group: 'noise', name: `S/N ${snr} dB`, expect: snr >= 15 ? 'detect' : 'either', keys: keys10, spec: { onMs: 50, offMs: 50 }, snr });
}
for (const dev of [0.01, 0.015, -0.015, 0.025, -0.025, 0.035, -0.035, 0.05, -0.05]) {
  const pct = `${dev > 0 ? '+' : ''}${(dev * 100).toFixed(1)} %`;
  const expect: Expect = Math.abs(dev) <= 0.015 ? 'detect' : Math.abs(dev) >= 0.035 ? 'reject' : 'either';
  add({ group: 'deviation', name: `both tones ${pct}`, expect, keys: KEYS.repeat(5), spec: { onMs: 50, offMs: 50, lowDev: dev, highDev: dev } });
  add({ group: 'deviation', name: `opposite ${pct}`, expect, keys: KEYS.repeat(5), spec: { onMs: 50, offMs: 50, lowDev: dev, highDev: -dev } });
}
for (const tw of [4, 8, 10, 12]) {
  add({ group: 'twist', name: `normal ${tw} dB`, expect: tw <= 8 ? 'detect' : 'reject', keys: KEYS.repeat(5), spec: { onMs: 50, offMs: 50, lowDb: -6, highDb: -6 - tw } });
}
for (const tw of [2, 4, 6, 8]) {
  add({ group: 'twist', name: `reverse ${tw} dB`, expect: tw <= 4 ? 'detect' : 'reject', keys: KEYS.repeat(5), spec: { onMs: 50, offMs: 50, highDb: -6, lowDb: -6 - tw } });
}
// ≥ 40 ms must be detected, ≤ 20 ms must not; in between there is no requirement
for (const ms of [10, 15, 20, 25, 30, 35, 40, 50, 100]) {
  const expect: Expect = ms >= 40 ? 'detect' : ms <= 20 ? 'reject' : 'either';
  add({ group: 'duration', name: `${ms} ms tones`, expect, keys: KEYS.repeat(5), spec: { onMs: ms, offMs: 60 } });
}
let repeated = '';
for (const k of KEYS) repeated += k.repeat(5);
add({ group: 'pause', name: 'same key, 40 ms on / 40 ms off', expect: 'detect', keys: repeated, spec: { onMs: 40, offMs: 40 } });
add({ group: 'pause', name: 'same key, 50 ms on / 50 ms off', expect: 'detect', keys: repeated, spec: { onMs: 50, offMs: 50 } });

// --- talk-off corpus (held out from the test suite: other texts, voices, languages) ----------------

const TEXTS: Record<string, string> = {
  en: `The lighthouse keeper kept a diary for forty-one years. Every morning he wrote down the wind, the colour of the sea and the ships that passed, and every evening he climbed the hundred and twelve steps to light the lamp. "People think it is lonely," he told a visiting reporter, "but the gulls are loud, the radio never stops, and my sister telephones every Sunday at noon, whether I want her to or not." He laughed, a deep rumbling laugh, and poured two cups of strong tea.
Thank you for holding. Your call is important to us. Did you know you can manage your appointments online? Visit our website and select "my bookings". If you would like a call back instead of waiting, press the star key now and enter your number, followed by the hash key. Calls may be recorded for training and quality purposes.
Right, so the plan is: we meet at the station at a quarter to nine, take the slow train to the coast, walk along the cliffs to the old harbour, and have lunch at that fish restaurant your cousin keeps talking about. If it rains, and it probably will, we'll visit the aquarium instead. Bring boots. Bring a scarf. And please, this time, bring the tickets.
Order number four seven seven one, three zero zero two. Delivery is scheduled for Tuesday between ten a.m. and two p.m. To change the date, say "change". To speak to an agent, say "agent". Sorry, I didn't catch that. Could you say it again? Oh, lovely, thank you. Goodbye!`,
  it: `Buongiorno, grazie per aver chiamato. Il tempo di attesa previsto è di circa tre minuti. Per informazioni sugli orari, prema uno; per parlare con un operatore, prema zero. Ieri pomeriggio siamo andati al mare: l'acqua era fredda ma limpida, e i bambini hanno costruito un castello di sabbia enorme, con torri, ponti e un fossato pieno di conchiglie. La sera abbiamo mangiato una pizza margherita e un gelato al pistacchio in piazza, mentre un musicista suonava la fisarmonica.`,
  pt: `Bom dia e obrigado por ligar. Todos os nossos assistentes estão ocupados. Por favor, aguarde em linha. Para saber o saldo da sua conta, marque um; para falar com um assistente, marque nove. No sábado fomos à feira da aldeia: havia pão quente, queijo da serra, laranjas, castanhas e um senhor que tocava guitarra portuguesa debaixo da grande árvore da praça. À noite jantámos sardinhas assadas com os vizinhos e ficámos a conversar até muito tarde.`,
  nl: `Goedemiddag, u spreekt met de klantenservice. Op dit moment zijn al onze medewerkers in gesprek. Blijft u aan de lijn, dan wordt u zo snel mogelijk geholpen. Vorige week zijn we met de fiets langs de rivier naar de molen gereden. Het waaide hard, de koeien stonden dicht bij elkaar in de wei en we hebben onderweg warme chocolademelk met slagroom gedronken in een klein café bij de sluis.`,
};
const VOICES: [string, keyof typeof TEXTS, number, number][] = [
  ['en+f1', 'en', 150, 90],
  ['en+f5', 'en', 200, 95],
  ['en-us+Annie', 'en', 170, 80],
  ['en+klatt2', 'en', 220, 70],
  ['en+m1', 'en', 180, 10],
  ['en-us+m7', 'en', 250, 45],
  ['en+Alicia', 'en', 175, 75],
  ['en-us+linda', 'en', 140, 99],
  ['en+steph', 'en', 190, 80],
  ['en+Tweaky', 'en', 175, 60],
  ['it', 'it', 170, 50],
  ['it+f2', 'it', 150, 85],
  ['pt', 'pt', 170, 50],
  ['pt+f4', 'pt', 210, 90],
  ['nl', 'nl', 160, 50],
  ['nl+m2', 'nl', 230, 30],
];

async function speechCorpus(): Promise<{ name: string; samples: Int16Array }[]> {
  const files: Record<string, { file: string }> = {};
  for (const [lang, text] of Object.entries(TEXTS)) files[lang] = await synth.writeText(lang, text);
  const jobs = VOICES.map(([voice, lang, wpm, pitch]) => ({ voice, wpm, pitch, what: files[lang]! }));
  const samples = await synth.speakAll(jobs, Math.max(2, cpus().length));
  return VOICES.map(([voice], i) => ({ name: voice, samples: samples[i]! }));
}

function noiseCorpus(speech: { samples: Int16Array }[]): { name: string; samples: Int16Array }[] {
  const rnd = prng(777);
  const sec = (s: number) => new Float64Array(s * FS);
  const out: { name: string; samples: Int16Array }[] = [];
  for (const db of [-10, -25, -40]) out.push({ name: `white ${db} dBFS`, samples: whiteNoiseAt(db, 30, rnd) });
  const babble = sec(60);
  for (let v = 0; v < 5; v++) {
    const src = speech[v * 3]!.samples;
    for (let i = 0; i < babble.length && i + v * 9000 < src.length; i++) babble[i] += 0.5 * src[i + v * 9000]!;
  }
  out.push({ name: 'babble (5 voices)', samples: toInt16(babble) });
  out.push({ name: 'speech + white noise', samples: speechInNoise(speech[2]!.samples, 60, 1000, rnd) });
  return out;
}

// --- allocation check -----------------------------------------------------------------------------

/** Copies frame `i` of `x` into `frame` without creating a view (the harness must not allocate). */
function copyFrame(x: Int16Array, i: number, frame: Int16Array): void {
  const o = i * FRAME;
  for (let j = 0; j < FRAME; j++) frame[j] = x[o + j]!;
}

async function allocationPerFrame(samples: Int16Array): Promise<{ frames: number; gcs: number; newSpaceBytes: number }> {
  const det = new DtmfDetector();
  const frame = new Int16Array(FRAME);
  const frames = Math.floor(samples.length / FRAME);
  const run = (n: number) => {
    for (let i = 0; i < n; i++) {
      copyFrame(samples, i % frames, frame);
      det.process(frame);
    }
  };
  run(Math.min(frames, 20000)); // warm up (JIT)
  let gcs = 0;
  const obs = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  await new Promise((r) => setImmediate(r));
  const used = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size;
  const n = 50000; // 1000 s of audio, well under the new space's capacity if nothing is allocated
  const a0 = used();
  const before = used(); // before − a0: what a used() call itself allocates
  run(n);
  const after = used() - (before - a0);
  await new Promise((r) => setTimeout(r, 50)); // GC entries are delivered asynchronously
  obs.disconnect();
  return { frames: n, gcs, newSpaceBytes: after - before };
}

// --- main -----------------------------------------------------------------------------------------

interface Row {
  group: string;
  name: string;
  expect: Expect;
  sent: number;
  telegraph: { hits: number; falseAlarms: number };
  multimon: { hits: number; falseAlarms: number };
}

async function main() {
  synth = new SpeechSynth('telegraph-dtmf-bench-');
  workDir = synth.dir;
  const rows: Row[] = [];
  try {
    let seed = 1;
    for (const c of conditions) {
      const noise = c.snr !== undefined ? noiseFor(-10, c.snr) : 0;
      const samples = render(c.keys, c.spec, noise, seed++);
      const [tg, mm] = [telegraph(samples), await multimon(samples, `${c.group}-${c.name}`)];
      const score = (got: string) => {
        const hits = c.expect === 'reject' ? 0 : lcs(c.keys, got);
        return { hits, falseAlarms: got.length - hits };
      };
      rows.push({ group: c.group, name: c.name, expect: c.expect, sent: c.keys.length, telegraph: score(tg), multimon: score(mm) });
    }

    const speech = await speechCorpus();
    const noises = noiseCorpus(speech);
    let speechSeconds = 0;
    let noiseSeconds = 0;
    const talk = { telegraph: 0, multimon: 0 };
    for (const [list, kind] of [[speech, 'speech'], [noises, 'noise']] as const) {
      for (const s of list) {
        const sec = s.samples.length / FS;
        if (kind === 'speech') speechSeconds += sec;
        else noiseSeconds += sec;
        for (const gain of [1, 3.16]) {
          let x = s.samples;
          if (gain !== 1) x = Int16Array.from(s.samples, (v) => Math.max(-32768, Math.min(32767, Math.round(v * gain))));
          const tg = telegraph(x);
          const mm = await multimon(x, `talk-${s.name}-${gain}`);
          talk.telegraph += tg.length;
          talk.multimon += mm.length;
          if (tg.length || mm.length) console.log(`  talk-off ${kind} ${s.name} ×${gain}: telegraph "${tg}", multimon-ng "${mm}"`);
        }
      }
    }
    const talkMinutes = ((speechSeconds + noiseSeconds) * 2) / 60;

    // cost per frame on speech alone and on a dense key stream, and allocation
    const allSpeech = new Int16Array(speech.reduce((n, s) => n + s.samples.length, 0));
    speech.reduce((o, s) => (allSpeech.set(s.samples, o), o + s.samples.length), 0);
    const dense = render(KEYS.repeat(40), { onMs: 100, offMs: 100 });
    const cost = (x: Int16Array) => {
      const det = new DtmfDetector();
      const frame = new Int16Array(FRAME);
      const frames = Math.floor(x.length / FRAME);
      let best = Infinity;
      for (let rep = 0; rep < 5; rep++) {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < frames; i++) {
          copyFrame(x, i, frame);
          det.process(frame);
        }
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1000 / frames);
      }
      return best;
    };
    const usSpeech = cost(allSpeech);
    const usKeys = cost(dense);
    const alloc = await allocationPerFrame(dense);

    const accept = rows.filter((r) => r.expect === 'detect');
    const either = rows.filter((r) => r.expect === 'either');
    const reject = rows.filter((r) => r.expect === 'reject');
    const sum = (rs: Row[], f: (r: Row) => number) => rs.reduce((s, r) => s + f(r), 0);
    const summary = {
      telegraph: {
        detectionRate: sum(accept, (r) => r.telegraph.hits) / sum(accept, (r) => r.sent),
        falseAlarmsOnTones: sum([...accept, ...either], (r) => r.telegraph.falseAlarms),
        acceptedOutOfSpec: sum(reject, (r) => r.telegraph.falseAlarms),
        detectedBeyondRequirement: sum(either, (r) => r.telegraph.hits) / sum(either, (r) => r.sent),
        talkOffFalseDigits: talk.telegraph,
        microsecondsPerFrame: { speech: round(usSpeech, 2), keys: round(usKeys, 2) },
      },
      multimon: {
        detectionRate: sum(accept, (r) => r.multimon.hits) / sum(accept, (r) => r.sent),
        falseAlarmsOnTones: sum([...accept, ...either], (r) => r.multimon.falseAlarms),
        acceptedOutOfSpec: sum(reject, (r) => r.multimon.falseAlarms),
        detectedBeyondRequirement: sum(either, (r) => r.multimon.hits) / sum(either, (r) => r.sent),
        talkOffFalseDigits: talk.multimon,
        realTimeFactor: round(mmSeconds / (mmWallMs / 1000), 0),
      },
    };
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      method:
        'Synthetic streams at 16 kHz; Telegraph reads 20 ms frames, multimon-ng 1.2 (Debian) reads the same audio resampled to 22050 Hz ' +
        '(multimon-ng -c -a DTMF -t raw). Hits = longest common subsequence of the keys sent and reported; false alarms = the rest. ' +
        'S/N = one tone over white noise in 0–4 kHz. Levels dBFS per tone (0 dBFS = full-scale sine).',
      summary,
      talkOff: { speechMinutes: round(speechSeconds / 60, 1), noiseMinutes: round(noiseSeconds / 60, 1), gains: [1, 3.16], totalMinutes: round(talkMinutes, 1), voices: VOICES.map((v) => v[0]) },
      allocation: { ...alloc, note: 'new-space bytes grown and GCs while the detector ran the frames (after warm-up); 0 = no allocation per frame' },
      telegraphTotal: { frames: telegraphFrames, microsecondsPerFrame: round(Number(telegraphNs) / 1000 / telegraphFrames, 2) },
      conditions: rows,
    };
    await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
    await writeFile(join(ROOT, 'bench', 'results', 'dtmf.json'), JSON.stringify(result, null, 2) + '\n');

    // table
    const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
    const cell = (r: Row, d: 'telegraph' | 'multimon') => {
      const x = r[d];
      return r.expect === 'reject' ? `${x.falseAlarms} accepted` : `${x.hits}/${r.sent}${x.falseAlarms ? ` +${x.falseAlarms}` : ''}`;
    };
    console.log(`\n${pad('group', 10)}${pad('condition', 34)}${pad('expect', 8)}${pad('Telegraph', 16)}multimon-ng`);
    for (const r of rows) console.log(`${pad(r.group, 10)}${pad(r.name, 34)}${pad(r.expect, 8)}${pad(cell(r, 'telegraph'), 16)}${cell(r, 'multimon')}`);
    console.log(
      `\nin-spec detection rate: Telegraph ${(summary.telegraph.detectionRate * 100).toFixed(2)} %, multimon-ng ${(summary.multimon.detectionRate * 100).toFixed(2)} %` +
        `\nmust-reject tones accepted: Telegraph ${summary.telegraph.acceptedOutOfSpec} of ${sum(reject, (r) => r.sent)}, multimon-ng ${summary.multimon.acceptedOutOfSpec}` +
        `\nextra/wrong keys on tone streams: Telegraph ${summary.telegraph.falseAlarmsOnTones}, multimon-ng ${summary.multimon.falseAlarmsOnTones}` +
        `\ntalk-off (${talkMinutes.toFixed(1)} min of speech and noise): Telegraph ${talk.telegraph}, multimon-ng ${talk.multimon} false digits` +
        `\nTelegraph cost: ${usSpeech.toFixed(2)} µs per 20 ms frame on speech, ${usKeys.toFixed(2)} µs on keys; ` +
        `allocation: ${alloc.newSpaceBytes} bytes / ${alloc.gcs} GCs over ${alloc.frames} frames` +
        `\nmultimon-ng: ${summary.multimon.realTimeFactor}× real time (process, incl. start-up)` +
        `\nwrote bench/results/dtmf.json`,
    );
  } finally {
    synth.close();
  }
}

function round(x: number, d: number): number {
  const f = Math.pow(10, d);
  return Math.round(x * f) / f;
}

await main();
