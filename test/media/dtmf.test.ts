/**
 * DTMF detection against the standard stated in src/media/dtmf/DtmfDetector.ts (ITU-T Q.23/Q.24
 * with spandsp's figures, ETSI ES 201 235-3 timing): one test per clause, vectors generated here
 * (noise from a seeded PRNG, so every run is identical), plus the generator.
 *
 * Levels are dBFS per tone, 0 dBFS being a full-scale sine; nominal is −10 dBFS per tone.
 * The talk-off test needs Debian's espeak-ng (scripts/test.sh installs it); without it the test
 * fails, it is never skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DtmfDetector } from '../../src/media/dtmf/DtmfDetector.ts';
import { DtmfGenerator } from '../../src/media/dtmf/DtmfGenerator.ts';
import {
  DTMF_HIGH as HIGH,
  DTMF_KEYS as KEYS,
  DTMF_LOW as LOW,
  DTMF_NOMINAL_DBFS as NOMINAL,
  addDtmfTone,
  addGaussianNoise,
  dtmfNoiseRms as noiseRmsFor,
  gaussian,
  openSpeechSynth,
  prng,
  speechInNoise,
  toInt16,
  whiteNoiseAt,
  type DtmfLevels,
} from '../helpers/audio.ts';

const FS = 16000;
const FRAME = 320;

// --- vectors --------------------------------------------------------------------------------------

interface Tone extends DtmfLevels {
  key: string;
  /** Start, ms from the beginning of the vector (fractions allowed). */
  at: number;
  ms: number;
}

/** Renders tones (and optional white noise of `noiseRms`) into 16 kHz Int16 samples. */
function render(tones: Tone[], totalMs: number, noiseRms = 0, seed = 1): Int16Array {
  const buf = new Float64Array(Math.ceil((totalMs * FS) / 1000));
  for (const t of tones) {
    assert.ok(KEYS.indexOf(t.key) >= 0, `bad key ${t.key}`);
    const n0 = Math.round((t.at * FS) / 1000);
    addDtmfTone(buf, t.key, n0, n0 + Math.round((t.ms * FS) / 1000), t, FS);
  }
  if (noiseRms > 0) addGaussianNoise(buf, noiseRms, prng(seed));
  return toInt16(buf);
}

/** Back-to-back tones of `onMs` separated by `offMs`, starting at `leadMs`. */
function sequence(keys: string, onMs: number, offMs: number, leadMs = 10, extra: Partial<Tone> = {}): { tones: Tone[]; totalMs: number } {
  const tones: Tone[] = [];
  let t = leadMs;
  for (const key of keys) {
    tones.push({ ...extra, key, at: t, ms: onMs });
    t += onMs + offMs;
  }
  return { tones, totalMs: t + 100 };
}

interface Hit {
  key: string;
  atMs: number;
  startMs: number;
  low: number;
  high: number;
}

/** Feeds samples frame by frame (then 200 ms of silence) and collects the keys reported. */
function detect(samples: Int16Array, det = new DtmfDetector()): Hit[] {
  const hits: Hit[] = [];
  const frame = new Int16Array(FRAME);
  const total = samples.length + 10 * FRAME;
  for (let i = 0; i < total; i += FRAME) {
    frame.fill(0);
    if (i < samples.length) frame.set(samples.subarray(i, Math.min(samples.length, i + FRAME)));
    const key = det.process(frame);
    if (key) hits.push({ key, atMs: det.digitAtMs, startMs: det.digitStartMs, low: det.lowLevelDbfs, high: det.highLevelDbfs });
  }
  return hits;
}

const keysOf = (hits: Hit[]) => hits.map((h) => h.key).join('');

// --- clauses --------------------------------------------------------------------------------------

test('all 16 digits are detected, once each, with onset time and level (50 ms on / 50 ms off, −10 dBFS)', () => {
  const keys = KEYS.repeat(10);
  const { tones, totalMs } = sequence(keys, 50, 50, 7.3);
  const hits = detect(render(tones, totalMs));
  assert.equal(keysOf(hits), keys);
  for (let i = 0; i < hits.length; i++) {
    const h = hits[i]!;
    assert.ok(Math.abs(h.startMs - tones[i]!.at) < 3, `onset ${h.startMs} ms vs ${tones[i]!.at} ms`);
    assert.ok(h.atMs > tones[i]!.at && h.atMs < tones[i]!.at + 60, `decided at ${h.atMs} ms`);
    assert.ok(Math.abs(h.low - NOMINAL) < 0.5 && Math.abs(h.high - NOMINAL) < 0.5, `levels ${h.low} / ${h.high} dBFS`);
  }
});

test('frequency deviation: within ±1.5 % detected, beyond ±3.5 % rejected (each tone, every key)', () => {
  // accepted: ±1.5 % on the low tone, the high tone, both the same way and both opposite ways
  const accept: Tone[] = [];
  let t = 10;
  const pairs: [number, number][] = [];
  for (const d of [0.015, -0.015]) pairs.push([d, 0], [0, d], [d, d], [d, -d]);
  for (const [ld, hd] of pairs) {
    for (const key of KEYS) {
      accept.push({ key, at: t, ms: 50, lowDev: ld, highDev: hd });
      t += 100;
    }
  }
  const got = keysOf(detect(render(accept, t + 100)));
  assert.equal(got, accept.map((x) => x.key).join(''), 'every tone pair within ±1.5 % must be detected');

  // rejected: every deviation from 3.5 % to 6 % in 0.25 % steps, on the low tone, the high tone
  // and both, both signs. Nominal frequencies are ~10.5 % apart, so 6 % is past half way to the
  // next key yet still more than 3.5 % from it (further on, the tone belongs to that key). Tones
  // with no neighbour on that side are swept on to 10 %.
  const reject: Tone[] = [];
  t = 10;
  for (let d = 0.035; d <= 0.1 + 1e-9; d += 0.0025) {
    for (const s of [1, -1]) {
      for (const key of KEYS) {
        const k = KEYS.indexOf(key);
        const lowFree = d <= 0.06 + 1e-9 || (s > 0 ? k >> 2 === 3 : k >> 2 === 0);
        const highFree = d <= 0.06 + 1e-9 || (s > 0 ? (k & 3) === 3 : (k & 3) === 0);
        if (lowFree) reject.push({ key, at: t, ms: 60, lowDev: s * d }), (t += 120);
        if (highFree) reject.push({ key, at: t, ms: 60, highDev: s * d }), (t += 120);
        if (lowFree && highFree) reject.push({ key, at: t, ms: 60, lowDev: s * d, highDev: s * d }), (t += 120);
      }
    }
  }
  const false_ = detect(render(reject, t + 100));
  assert.equal(false_.length, 0, `${reject.length} off-frequency pairs, detected: ${keysOf(false_)}`);
});

test('twist: low group up to 8 dB and high group up to 4 dB stronger detected, beyond rejected', () => {
  const accept: Tone[] = [];
  let t = 10;
  for (const strong of [-6, NOMINAL]) {
    for (const tw of [0, 2, 4, 6, 8]) for (const key of KEYS) accept.push({ key, at: t, ms: 50, lowDb: strong, highDb: strong - tw }), (t += 100);
    for (const tw of [2, 4]) for (const key of KEYS) accept.push({ key, at: t, ms: 50, highDb: strong, lowDb: strong - tw }), (t += 100);
  }
  // with the ±1.5 % deviation at the same time
  for (const key of KEYS) accept.push({ key, at: t, ms: 50, lowDb: -6, highDb: -14, lowDev: 0.015, highDev: -0.015 }), (t += 100);
  for (const key of KEYS) accept.push({ key, at: t, ms: 50, highDb: -6, lowDb: -10, lowDev: -0.015, highDev: 0.015 }), (t += 100);
  assert.equal(keysOf(detect(render(accept, t + 100))), accept.map((x) => x.key).join(''));

  const reject: Tone[] = [];
  t = 10;
  for (const strong of [-6, NOMINAL]) {
    for (const tw of [9, 10, 12, 15, 20]) for (const key of KEYS) reject.push({ key, at: t, ms: 60, lowDb: strong, highDb: strong - tw }), (t += 120);
    for (const tw of [5, 6, 8, 10, 15]) for (const key of KEYS) reject.push({ key, at: t, ms: 60, highDb: strong, lowDb: strong - tw }), (t += 120);
  }
  const false_ = detect(render(reject, t + 100));
  assert.equal(false_.length, 0, `detected beyond the twist limits: ${keysOf(false_)}`);
});

test('tone duration: 40 ms detected and 20 ms rejected at every alignment to the 20 ms frames', () => {
  // 64 alignments per frame (every 5 samples), every key, nominal and 26 dB down
  for (const level of [NOMINAL, NOMINAL - 26]) {
    for (const ms of [40, 20]) {
      const tones: Tone[] = [];
      let t = 10;
      for (let i = 0; i < 64 * 16; i++) {
        tones.push({ key: KEYS[i % 16]!, at: t + ((i % 64) * 5) / 16, ms, lowDb: level, highDb: level });
        t += 140;
      }
      const got = keysOf(detect(render(tones, t + 100)));
      if (ms === 40) assert.equal(got, tones.map((x) => x.key).join(''), `40 ms tones at ${level} dBFS`);
      else assert.equal(got, '', `20 ms tones at ${level} dBFS must not be detected`);
    }
  }
});

test('inter-digit pause: keys separated by 40 ms pauses are each reported (40 ms on / 40 ms off)', () => {
  for (const level of [NOMINAL, NOMINAL - 26]) {
    // each key repeated 8 times, then all keys in turn, at several alignments
    let keys = '';
    for (const k of KEYS) keys += k.repeat(8);
    keys += KEYS.repeat(4);
    for (const lead of [3, 8.3, 14.7, 19.1]) {
      const { tones, totalMs } = sequence(keys, 40, 40, lead, { lowDb: level, highDb: level });
      assert.equal(keysOf(detect(render(tones, totalMs))), keys, `lead ${lead} ms, ${level} dBFS`);
    }
  }
});

test('noise: detected at 15 dB S/N in white noise (one tone\'s power over the 0–4 kHz noise power)', () => {
  const keys = KEYS.repeat(20);
  // 50 ms on / 50 ms off as the Mitel/spandsp test, then the 40/40 ms minimum
  for (const [on, off] of [[50, 50], [40, 40]] as const) {
    const { tones, totalMs } = sequence(keys, on, off, 11);
    const hits = detect(render(tones, totalMs, noiseRmsFor(NOMINAL, 15), 15 + on));
    assert.equal(keysOf(hits), keys, `${on}/${off} ms at 15 dB S/N`);
  }
  // the same noise alone gives nothing
  assert.equal(detect(render([], 60_000, noiseRmsFor(NOMINAL, 15), 99)).length, 0);
});

test('attenuation: detected 26 dB below nominal (−36 dBFS per tone); dynamic range −3 … −40 dBFS', () => {
  const keys = KEYS.repeat(5);
  const { tones, totalMs } = sequence(keys, 50, 50, 5, { lowDb: NOMINAL - 26, highDb: NOMINAL - 26 });
  assert.equal(keysOf(detect(render(tones, totalMs))), keys);
  // every key at every level from −3 to −40 dBFS in 1 dB steps (the Mitel dynamic-range test)
  const sweep: Tone[] = [];
  let t = 5;
  for (let db = -3; db >= -40; db--) for (const key of KEYS) sweep.push({ key, at: t, ms: 50, lowDb: db, highDb: db }), (t += 100);
  assert.equal(keysOf(detect(render(sweep, t + 100))), sweep.map((x) => x.key).join(''));
});

// --- talk-off -------------------------------------------------------------------------------------

/** Speech the detector must never mistake for a key (texts written for this test). */
const TEXTS: Record<string, string> = {
  en: `Good morning, and thank you for calling the regional office. All of our agents are currently helping other customers, so please stay on the line and your call will be answered in the order it was received. If you are calling about an order you placed within the last two weeks, press one, or simply say "order status". For billing questions, press two. To report a fault on your line, press three. You can also reach us on the web at any time of the day or night.
While you wait, here is some information that may be useful. Our opening hours are eight in the morning until six in the evening, Monday to Friday, and nine until one on Saturdays. We are closed on Sundays and on public holidays. If your call is about a power cut, a gas leak, or anything that puts people in danger, hang up now and dial the emergency number.
Yesterday the weather was dreadful: it rained from dawn to dusk, the river rose by almost a metre, and the old bridge near the mill had to be closed for several hours. The children were disappointed, because the school trip to the museum was cancelled, but the teachers organised a quiz instead, with questions about rivers, mountains, kings and queens, and the planets of the solar system. Everybody agreed it was the best quiz they had ever taken part in.
My grandmother used to say that a kettle that is watched never boils. She kept bees at the bottom of the garden, grew enormous pumpkins, and could whistle any tune after hearing it only once. On summer evenings she would sit on the porch, humming quietly, while the swallows dived over the meadow and the cows wandered slowly back to the farm.
Please listen carefully, as some of our menu options have changed. Your account number is seven four two, nine nine zero, one eight three six. Your balance is two hundred and fourteen pounds and sixty pence, due on the twenty-third of March. To pay now by card, say "pay". To hear this again, say "repeat". Otherwise, please hold. Hello? Hello, can you hear me? I think the line is breaking up. Oh, there you are. Yes, yes, that's right, the meeting moved to Thursday at half past three, in the big room on the fourth floor.
Whistling kettles, ringing bells, squeaking hinges and humming fridges all produce steady tones; so do singers holding a long note, like aaaah, eeeeh, ooooh, and mmmmm. Numbers come up constantly on the telephone: one, two, three, four, five, six, seven, eight, nine, zero, star, hash, and hundreds, thousands, millions.`,
  de: `Guten Tag und herzlich willkommen beim Kundendienst. Leider sind im Moment alle Leitungen belegt. Bitte bleiben Sie am Apparat, Sie werden mit dem nächsten freien Mitarbeiter verbunden. Wenn Sie Fragen zu Ihrer Rechnung haben, drücken Sie bitte die Eins. Für technische Störungen drücken Sie die Zwei. Unsere Öffnungszeiten sind montags bis freitags von acht bis achtzehn Uhr.
Gestern Abend sind wir mit dem Fahrrad an den See gefahren. Das Wasser war ruhig und klar, die Sonne ging langsam hinter den Bergen unter, und irgendwo in der Ferne läuteten die Kirchenglocken. Mein Bruder hat ein Lied gepfiffen, und die Enten sind neugierig näher geschwommen. Auf dem Rückweg hat es plötzlich angefangen zu regnen, aber das war uns ganz egal.
Ihre Kundennummer lautet vier acht fünf, drei drei zwei, null sieben neun. Der offene Betrag beträgt einhundertzweiundvierzig Euro und fünfzig Cent. Vielen Dank für Ihren Anruf und auf Wiederhören.`,
  fr: `Bonjour et bienvenue. Tous nos conseillers sont actuellement en ligne. Merci de patienter, votre appel sera traité dans les meilleurs délais. Pour le suivi d'une commande, tapez un. Pour une question sur votre facture, tapez deux. Pour signaler une panne, tapez trois. Nos services sont ouverts du lundi au vendredi, de huit heures à dix-huit heures, et le samedi matin.
Hier, nous nous sommes promenés le long de la Seine. Les bouquinistes ouvraient leurs boîtes vertes, un violoniste jouait sous le pont, et les enfants couraient après les pigeons en riant. Nous avons mangé une crêpe au sucre, puis nous avons regardé les bateaux passer lentement, chargés de touristes qui faisaient de grands signes de la main.
Votre numéro de dossier est le cinq six sept, huit neuf zéro, un deux trois. Le montant dû est de quatre-vingt-dix-neuf euros et quatre-vingt-dix centimes. Merci de votre appel, et très bonne journée.`,
  es: `Buenos días y gracias por llamar. En este momento todos nuestros agentes están ocupados. Por favor, no cuelgue; su llamada será atendida en breve. Para consultar el estado de un pedido, pulse uno. Para preguntas sobre su factura, pulse dos. Para informar de una avería, pulse tres. Nuestro horario es de lunes a viernes, de ocho de la mañana a seis de la tarde.
El domingo pasado fuimos al mercado del pueblo. Había naranjas, limones, aceitunas y quesos de todas clases, y un señor mayor tocaba la guitarra junto a la fuente mientras los niños bailaban. Después comimos una paella enorme en casa de mis abuelos, y por la tarde dimos un paseo hasta el faro para ver la puesta de sol sobre el mar.
Su número de cliente es el nueve ocho siete, seis cinco cuatro, tres dos uno. El importe pendiente es de ciento veinte euros con treinta céntimos. Muchas gracias por su llamada y que tenga un buen día.`,
};

/** espeak-ng voice, text, words per minute (-s), pitch 0–99 (-p). */
const VOICES: [string, keyof typeof TEXTS, number, number][] = [
  ['en', 'en', 175, 50],
  ['en-us', 'en', 140, 40],
  ['en+f3', 'en', 210, 70],
  ['en-us+f4', 'en', 260, 85],
  ['en+m3', 'en', 120, 25],
  ['en-us+klatt4', 'en', 190, 60],
  ['en+croak', 'en', 300, 50],
  ['en-us+f2', 'en', 160, 99],
  ['en+whisper', 'en', 175, 50],
  ['de', 'de', 160, 50],
  ['de+f3', 'de', 230, 80],
  ['fr', 'fr', 170, 50],
  ['fr+f2', 'fr', 130, 75],
  ['es', 'es', 180, 50],
  ['es+m3', 'es', 240, 30],
];

test('talk-off: no false digit in ≥ 10 minutes of speech (espeak-ng: 4 languages, 15 voices, rates, gains) and noise', async (t) => {
  const synth = openSpeechSynth('telegraph-talkoff-', 'the talk-off test needs its speech');
  try {
    const files: Record<string, { file: string }> = {};
    for (const [lang, text] of Object.entries(TEXTS)) files[lang] = await synth.writeText(lang, text);
    // synthesise in parallel (a few processes), each read through Wav.ts
    const samples = await synth.speakAll(VOICES.map(([voice, lang, wpm, pitch]) => ({ voice, wpm, pitch, what: files[lang]! })), 3);
    const speech = VOICES.map(([voice, , rate, pitch], i) => ({ name: `${voice} -s ${rate} -p ${pitch}`, samples: samples[i]! }));

    const speechSeconds = speech.reduce((s, x) => s + x.samples.length, 0) / FS;
    assert.ok(speechSeconds >= 600, `only ${speechSeconds.toFixed(0)} s of speech`);

    // noise: white at three levels, pink, brown, babble (four voices at once), speech in noise
    const rnd = prng(4242);
    const seconds = (s: number) => new Float64Array(s * FS);
    const noises: { name: string; samples: Int16Array }[] = [];
    for (const db of [-15, -30, -45]) noises.push({ name: `white ${db} dBFS`, samples: whiteNoiseAt(db, 20, rnd) });
    {
      const pink = seconds(20);
      let b0 = 0, b1 = 0, b2 = 0;
      for (let i = 0; i < pink.length; i++) {
        const w = gaussian(rnd);
        b0 = 0.99765 * b0 + w * 0.099046;
        b1 = 0.963 * b1 + w * 0.2965164;
        b2 = 0.57 * b2 + w * 1.0526913;
        pink[i] = (b0 + b1 + b2 + w * 0.1848) * 1500;
      }
      noises.push({ name: 'pink', samples: toInt16(pink) });
      const brown = seconds(20);
      let y = 0;
      for (let i = 0; i < brown.length; i++) {
        y = 0.995 * y + gaussian(rnd);
        brown[i] = y * 300;
      }
      noises.push({ name: 'brown', samples: toInt16(brown) });
    }
    {
      const babble = seconds(30);
      for (let v = 0; v < 4; v++) {
        const src = speech[v * 3]!.samples;
        const off = (v * 7919 * 16) % Math.max(1, src.length - babble.length);
        for (let i = 0; i < babble.length && off + i < src.length; i++) babble[i] += src[off + i]! * 0.6;
      }
      noises.push({ name: 'babble', samples: toInt16(babble) });
      noises.push({ name: 'speech + white noise', samples: speechInNoise(speech[1]!.samples, 30, 700, rnd) });
    }
    const noiseSeconds = noises.reduce((s, x) => s + x.samples.length, 0) / FS;

    // every recording at its own level, 10 dB louder (clipping) and 10 dB quieter
    const falses: string[] = [];
    const frame = new Int16Array(FRAME);
    let frames = 0;
    for (const gain of [1, 3.16, 0.316]) {
      const det = new DtmfDetector();
      for (const { name, samples } of [...speech, ...noises]) {
        for (let i = 0; i + FRAME <= samples.length; i += FRAME) {
          for (let j = 0; j < FRAME; j++) {
            const v = Math.round(samples[i + j]! * gain);
            frame[j] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
          }
          frames++;
          const key = det.process(frame);
          if (key) falses.push(`${key} in ${name} ×${gain} at ${(i / FS).toFixed(2)} s`);
        }
      }
    }
    t.diagnostic(
      `talk-off: ${(speechSeconds / 60).toFixed(1)} min speech + ${(noiseSeconds / 60).toFixed(1)} min noise, ` +
        `×3 gains = ${((frames * FRAME) / FS / 60).toFixed(1)} min, false digits: ${falses.length}`,
    );
    assert.deepEqual(falses, []);
  } finally {
    synth.close();
  }
});

// --- generator ------------------------------------------------------------------------------------

/** Level (dBFS) of the component at `hz` in `x`, by a Hann-windowed DFT. */
function levelAt(x: Int16Array, hz: number): number {
  let re = 0, im = 0, sw = 0;
  for (let n = 0; n < x.length; n++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / x.length);
    sw += w;
    re += w * x[n]! * Math.cos((2 * Math.PI * hz * n) / FS);
    im -= w * x[n]! * Math.sin((2 * Math.PI * hz * n) / FS);
  }
  const a = (2 * Math.hypot(re, im)) / sw;
  return 20 * Math.log10(a / 32767);
}

test('generator: Q.23/Q.24 defaults (100 ms tone, 100 ms gap, −10 dBFS per tone), events, detected back', () => {
  const events: string[] = [];
  const gen = new DtmfGenerator({
    listener: {
      keyStarted: (k, s) => events.push(`+${k}@${s}`),
      keyEnded: (k, s) => events.push(`-${k}@${s}`),
      queueDone: (s) => events.push(`done@${s}`),
    },
  });
  gen.enqueue(KEYS);
  assert.equal(gen.pending, 16);
  const out: Int16Array[] = [];
  const frame = new Int16Array(FRAME);
  while (gen.busy || out.length < 5) {
    gen.generate(frame);
    out.push(frame.slice());
  }
  const all = new Int16Array(out.length * FRAME);
  out.forEach((f, i) => all.set(f, i * FRAME));
  // timing: key i starts at i·200 ms and lasts 100 ms
  const expected: string[] = [];
  for (let i = 0; i < 16; i++) expected.push(`+${KEYS[i]}@${i * 3200}`, `-${KEYS[i]}@${i * 3200 + 1600}`);
  expected.push(`done@${15 * 3200 + 1600}`);
  assert.deepEqual(events, expected);
  // levels: each tone at −10 dBFS; the gap is silent
  for (let i = 0; i < 16; i++) {
    const tone = all.subarray(i * 3200, i * 3200 + 1600);
    const k = KEYS.indexOf(KEYS[i]!);
    assert.ok(Math.abs(levelAt(tone, LOW[k >> 2]!) - NOMINAL) < 0.1);
    assert.ok(Math.abs(levelAt(tone, HIGH[k & 3]!) - NOMINAL) < 0.1);
    assert.ok(all.subarray(i * 3200 + 1600, i * 3200 + 3200).every((v) => v === 0));
  }
  assert.equal(keysOf(detect(all)), KEYS);

  // a later enqueue still keeps the gap; custom timing and levels; invalid keys refused
  const g2 = new DtmfGenerator({ toneMs: 40, gapMs: 40, lowDbfs: -6, highDbfs: -8 });
  g2.enqueue('55');
  const f2 = new Int16Array(160); // any frame length
  const chunks: Int16Array[] = [];
  for (let i = 0; i < 3; i++) g2.generate(f2), chunks.push(f2.slice());
  g2.enqueue('5#', { toneMs: 60 });
  while (g2.busy) g2.generate(f2), chunks.push(f2.slice());
  for (let i = 0; i < 5; i++) g2.generate(f2), chunks.push(f2.slice());
  const s2 = new Int16Array(chunks.length * 160);
  chunks.forEach((c, i) => s2.set(c, i * 160));
  assert.equal(keysOf(detect(s2)), '555#');
  assert.throws(() => g2.enqueue('12x'), RangeError);
});
