/**
 * MediaSession's N−1 mix (src/media/MediaSession.ts) against a reference written the plain way:
 * each leg hears the clipped sum of every other speaking, unmuted leg; `silent` says whether that
 * frame is all zero; taps see each leg's own frame. Random frames (loud ones that clip, all-zero
 * ones, legs that stop and start speaking, mute flips) for 1 to 5 legs, so the two-party fast path
 * and the general path are both held to the same result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { MediaEngine } from '../../src/media/MediaEngine.ts';
import { MediaSession } from '../../src/media/MediaSession.ts';
import { FRAME_SAMPLES, type FrameSink, type FrameSource } from '../../src/media/MediaFormat.ts';
import { prng } from '../helpers/audio.ts';

const rand = prng(12345);

/** Speaks a fresh random frame on most ticks: silence (returns false), all zeros, quiet, or loud. */
class RandomSource implements FrameSource {
  last: Int16Array | null = null;
  frame(out: Int16Array): Int16Array | null {
    const r = rand();
    if (r < 0.2) {
      this.last = null;
      return null;
    }
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      out[i] = r < 0.3 ? 0 : r < 0.7 ? Math.round((rand() - 0.5) * 2000) : rand() < 0.5 ? 32767 : -32768 + Math.floor(rand() * 100);
    }
    this.last = out.slice();
    return out;
  }
}

class Capture implements FrameSink {
  frame: Int16Array | null = null;
  silent = false;
  write(frame: Int16Array, silent: boolean): void {
    this.frame = frame.slice();
    this.silent = silent;
  }
}

for (const n of [1, 2, 3, 5]) {
  test(`mixing: ${n} leg(s) hear the clipped sum of the others, with the right silence flag`, () => {
    const session = new MediaSession('s');
    const legs = Array.from({ length: n }, (_, i) => {
      const leg = session.addLeg(`l${i}`);
      const src = new RandomSource();
      leg.addSource(src);
      const tap = new Capture();
      const sink = new Capture();
      leg.addTap(tap);
      leg.addSink(sink);
      return { leg, src, tap, sink };
    });
    for (let t = 0; t < 400; t++) {
      for (const l of legs) if (rand() < 0.1) l.leg.muted = !l.leg.muted;
      session.tick();
      for (let i = 0; i < n; i++) {
        const me = legs[i]!;
        // taps: the leg's own frame, silent when its source had nothing
        assert.equal(me.tap.silent, me.src.last === null, `tick ${t} leg ${i}: tap silence`);
        assert.deepEqual(me.tap.frame, me.src.last ?? new Int16Array(FRAME_SAMPLES), `tick ${t} leg ${i}: tap frame`);
        // sinks: the others' clipped sum
        const want = new Int16Array(FRAME_SAMPLES);
        for (let s = 0; s < FRAME_SAMPLES; s++) {
          let v = 0;
          for (let j = 0; j < n; j++) {
            const other = legs[j]!;
            if (j !== i && other.src.last && !other.leg.muted) v += other.src.last[s]!;
          }
          want[s] = Math.max(-32768, Math.min(32767, v));
        }
        assert.deepEqual(me.sink.frame, want, `tick ${t} leg ${i}: mix`);
        assert.equal(me.sink.silent, want.every((v) => v === 0), `tick ${t} leg ${i}: sink silence`);
      }
    }
  });
}

test('mixing: legs leaving and joining across the two-party path keep every sink hearing the right mix', () => {
  const session = new MediaSession('s');
  type L = { leg: ReturnType<MediaSession['addLeg']>; src: RandomSource; sink: Capture };
  const add = (i: number): L => {
    const leg = session.addLeg(`l${i}`);
    const src = new RandomSource();
    const sink = new Capture();
    leg.addSource(src);
    leg.addSink(sink);
    return { leg, src, sink };
  };
  let legs: L[] = [add(0), add(1), add(2)];
  let next = 3;
  for (let t = 0; t < 600; t++) {
    if (t % 100 === 50) {
      if (legs.length === 3) {
        const gone = legs.splice(Math.floor(rand() * 3), 1)[0]!;
        session.removeLeg(gone.leg);
      } else {
        legs.push(add(next++));
      }
    }
    session.tick();
    for (const me of legs) {
      const want = new Int16Array(FRAME_SAMPLES);
      for (const other of legs) {
        if (other === me || !other.src.last || other.leg.muted) continue;
        for (let s = 0; s < FRAME_SAMPLES; s++) want[s] = Math.max(-32768, Math.min(32767, want[s]! + other.src.last[s]!));
      }
      assert.deepEqual(me.sink.frame, want, `tick ${t}, ${legs.length} legs`);
      assert.equal(me.sink.silent, want.every((v) => v === 0), `tick ${t}: silence`);
    }
  }
});

test('the engine ticks every session once per tick, in groups it warms up first (parts with and without warm())', () => {
  const engine = new MediaEngine();
  // 37 sessions (two groups and a part), every third with three legs (not warmed up: only two-party sessions are)
  const counts: { frames: number; writes: number; warms: number }[] = [];
  class Counted implements FrameSource, FrameSink {
    readonly c = { frames: 0, writes: 0, warms: 0 };
    constructor(private readonly warmable: boolean) {
      counts.push(this.c);
      if (warmable) this.warm = () => ++this.c.warms;
    }
    warm?: () => number;
    frame(out: Int16Array): Int16Array | null {
      this.c.frames++;
      out.fill(1);
      return out;
    }
    write(): void {
      this.c.writes++;
    }
  }
  const twoParty: Counted[] = [];
  for (let s = 0; s < 37; s++) {
    const session = engine.createSession(`s${s}`);
    for (let l = 0; l < (s % 3 === 0 ? 3 : 2); l++) {
      const leg = session.addLeg(`l${l}`);
      const part = new Counted(l === 0);
      leg.addSource(part);
      leg.addTap(part);
      leg.addSink(part);
      if (s % 3 !== 0 && l === 0) twoParty.push(part);
    }
  }
  for (let t = 0; t < 3; t++) engine.tick();
  for (const c of counts) {
    assert.equal(c.frames, 3, 'one frame a tick from every source');
    assert.equal(c.writes, 6, 'every tap and sink written once a tick');
  }
  // a warmable part is asked once for each list it heads (source, tap, sink), each tick
  for (const p of twoParty) assert.equal(p.c.warms, 9);
  assert.equal(counts.filter((c) => c.warms > 0).length, twoParty.length);
  engine.stop();
});

test('the engine counts its ticks and reports their durations (p50 ≤ p99 ≤ max)', () => {
  const engine = new MediaEngine();
  const s = engine.createSession('stats');
  s.addLeg('a').addSource(new RandomSource());
  s.addLeg('b').addSource(new RandomSource());
  for (let t = 0; t < 40; t++) engine.tick();
  const st = engine.stats();
  assert.equal(engine.tickCount, 40);
  assert.equal(st.ticks, 40);
  assert.equal(st.sessions, 1);
  assert.equal(st.legs, 2);
  assert.ok(st.tickMs.p50 >= 0 && st.tickMs.p50 <= st.tickMs.p99 && st.tickMs.p99 <= st.tickMs.max, JSON.stringify(st.tickMs));
});

test("a session whose tick throws is counted and logged once per 5 s; the other sessions' frames go on", () => {
  const lines: { level: number; msg: string; session: string; sessionErrors: number; err: { message: string } }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const engine = new MediaEngine(log);
  const bad = engine.createSession('faulty');
  let throws = true;
  bad.addLeg('a').addSource({ frame: (out) => {
    if (throws) throw new Error('source exploded');
    out.fill(7);
    return out;
  } });
  const heard = new Capture();
  bad.addLeg('b').addSink(heard);
  const good = engine.createSession('fine');
  good.addLeg('a').addSource(new RandomSource());
  let writes = 0;
  good.addLeg('b').addSink({ write: () => void writes++ });

  for (let t = 0; t < 10; t++) assert.doesNotThrow(() => engine.tick());
  assert.equal(writes, 10, 'the healthy session is ticked every time');
  assert.equal(engine.stats().sessionErrors, 10);
  assert.equal(engine.stats().sessions, 2, 'the faulty session is kept: it may recover');
  const errors = lines.filter((l) => l.msg === 'media session tick failed');
  assert.equal(errors.length, 1, 'logged at most once per 5 s');
  assert.equal(errors[0]!.level, 50);
  assert.equal(errors[0]!.session, 'faulty');
  assert.equal(errors[0]!.err.message, 'source exploded');

  throws = false;
  engine.tick();
  assert.equal(engine.stats().sessionErrors, 10);
  assert.equal(heard.frame?.[0], 7, 'once the fault is gone, the session carries audio again');
});

test('a stalled clock counts its late tick, catches up 5 frames, skips the rest, and logs it', async () => {
  const lines: { level: number; msg: string; lateTicks: number; skippedFrames: number; lateByMs: number }[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const engine = new MediaEngine(log);
  const s = engine.createSession('stalled');
  let written = 0;
  s.addLeg('a').addSource(new RandomSource());
  s.addLeg('b').addSink({ write: () => void written++ });
  engine.start();
  try {
    // The stall comes at once: a tick made late before it (a slow machine) would take the one log
    // line of these 5 s.
    const before = engine.stats();
    const ticked = written;
    const until = performance.now() + 300; // the thread held for 15 frames
    while (performance.now() < until) { /* a stall */ }
    await new Promise((r) => setTimeout(r, 5)); // the clock's next timer
    const after = engine.stats();
    assert.ok(after.lateTicks >= before.lateTicks + 1, `late ticks ${before.lateTicks} → ${after.lateTicks}`);
    assert.ok(after.skippedFrames - before.skippedFrames >= 9, `skipped ${after.skippedFrames - before.skippedFrames} frames of the ~15 due`);
    // The frames not skipped were processed back to back: the 5 of the catch-up at least.
    assert.ok(written - ticked >= 5, `${written - ticked} frames processed after the stall`);
    const late = lines.filter((l) => l.msg === 'media clock: tick late');
    assert.equal(late.length, 1, 'logged (at most once per 5 s)');
    assert.equal(late[0]!.level, 40);
    assert.ok(late[0]!.skippedFrames >= 9 && late[0]!.lateByMs >= 200, JSON.stringify(late[0]));
  } finally {
    engine.stop();
  }
});
