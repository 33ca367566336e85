// Compares this checkout's media engine with another checkout's in ONE process, tick by tick: both
// build the same N calls of bench/media/run.ts (same scenario, same seed), and their ticks
// alternate, the order swapped every tick. On a shared machine whose speed drifts over seconds
// (this project's CI and development VMs: the same code's tick p50 ranged ±30 % between runs a
// minute apart), runs of the two one after the other cannot tell a 5 % change; ticks 20 ms apart
// meet the same drift, and the ratio of their times can.
//
//   node --import tsx bench/media/compare.ts OTHER_CHECKOUT        # e.g. a `git worktree` of main
//   BENCH_CALLS=1000 BENCH_SCENARIOS=turns BENCH_ROUNDS=3 node --import tsx bench/media/compare.ts ../main
//
// OTHER_CHECKOUT's bench/media/run.ts must export what this one uses (World, TimedEngine, reseed…:
// from 0.3.4 on; for an older one, copy this run.ts over its own). Both sets of calls are live at
// once, so each tick finds its calls' state as cold as on a server twice as busy; the comparison
// is fair, the absolute times are not the benchmark's (run.ts is).
// Prints, per scenario and round: each side's tick p50 / p99 / mean (ms) and the median of the
// per-tick ratios this/other (< 1: this checkout is faster). BENCH_OUT writes them as JSON.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as here from './run.ts';

type Bench = typeof here;

const otherDir = process.argv[2];
if (!otherDir) {
  console.error('usage: node --import tsx bench/media/compare.ts OTHER_CHECKOUT');
  process.exit(2);
}
const there = (await import(pathToFileURL(resolve(otherDir, 'bench/media/run.ts')).href)) as Bench;
for (const name of ['World', 'TimedEngine', 'reseed', 'nextTurn'] as const) {
  if (typeof there[name] !== 'function') throw new Error(`${otherDir}/bench/media/run.ts does not export ${name}: copy this checkout's run.ts over it`);
}

const calls = Number(process.env.BENCH_CALLS ?? 1000);
/**
 * Ticks measured per round: BENCH_TICKS when given, else 500. (run.ts measures 30 s, after 0.3.7, for
 * its p99; the median of per-tick ratios needs no more than 10 s, and shorter rounds allow more.)
 */
const ticks = process.env.BENCH_TICKS ? here.TICKS : 500;
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const scenarios = (process.env.BENCH_SCENARIOS ?? 'turns,talk').split(',').map((v) => {
  const s = v.trim();
  if (s !== 'turns' && s !== 'talk') throw new Error(`BENCH_SCENARIOS: "${s}" is not turns or talk`);
  return s;
});
if (!Number.isInteger(calls) || calls < 1 || calls > 5000) throw new Error('BENCH_CALLS: one call count in [1, 5000]');
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('BENCH_ROUNDS: an integer in [1, 20]');

const speech = here.espeakSpeech() ?? here.syntheticSpeech();
const prompt = here.makePrompt(here.syntheticSpeech(3));

interface Side {
  bench: Bench;
  engine: InstanceType<Bench['TimedEngine']>;
  world: InstanceType<Bench['World']>;
  ms: number[];
}

function side(bench: Bench, scenario: 'turns' | 'talk'): Side {
  bench.reseed();
  const engine = new bench.TimedEngine(null);
  const world = new bench.World(engine, scenario, prompt, speech);
  for (let i = 0; i < calls; i++) world.addCall(i, 0, bench.SPREAD_TICKS);
  engine.stop(); // attach() started the real clock: the ticks are driven here
  return { bench, engine, world, ms: [] };
}

function step(s: Side, t: number, timed: boolean): void {
  s.world.script(t);
  const t0 = performance.now();
  s.engine.tick();
  if (timed) s.ms.push(performance.now() - t0);
}

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const summary = (ms: number[]) => ({ p50: r3(q(ms, 0.5)), p99: r3(q(ms, 0.99)), mean: r3(mean(ms)) });

const out: unknown[] = [];
console.log(`compare: this checkout against ${otherDir}; ${calls} calls each, both live; ${ticks} ticks measured after ${here.WARMUP_TICKS}`);
for (const scenario of scenarios) {
  for (let round = 0; round < rounds; round++) {
    const a = side(here, scenario);
    const b = side(there, scenario);
    const end = here.WARMUP_TICKS + ticks;
    for (let t = 0; t < end; t++) {
      const timed = t >= here.WARMUP_TICKS;
      // who goes first alternates: the second finds the caches as the first left them
      if (t % 2 === 0) {
        step(a, t, timed);
        step(b, t, timed);
      } else {
        step(b, t, timed);
        step(a, t, timed);
      }
      await here.nextTurn(); // the operations' callbacks, as under the clock
    }
    const ratios = a.ms.map((x, i) => x / b.ms[i]!);
    const row = { scenario, round, calls, this: summary(a.ms), other: summary(b.ms), ratioMedian: r3(q(ratios, 0.5)), ratioOfMeans: r3(mean(a.ms) / mean(b.ms)) };
    out.push(row);
    console.log(
      `  ${scenario} round ${round + 1}: this p50 ${row.this.p50} p99 ${row.this.p99} mean ${row.this.mean} ms · ` +
        `other p50 ${row.other.p50} p99 ${row.other.p99} mean ${row.other.mean} ms · this/other: median ${row.ratioMedian}, of means ${row.ratioOfMeans}`,
    );
    a.world.teardown();
    b.world.teardown();
    await here.nextTurn();
  }
}
if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, JSON.stringify({ benchmark: 'media-compare', other: otherDir, results: out }, null, 2) + '\n');
