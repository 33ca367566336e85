// Runs a benchmark script small, in a child process, and gives back the JSON it wrote (its
// BENCH_OUT, in a temporary directory): for the tests that keep the benches from breaking unseen.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(import.meta.dirname, '../..');

export async function runBench<T>(script: string, env: Record<string, string>, timeoutMs: number): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  try {
    const out = join(dir, 'result.json');
    await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, timeout: timeoutMs, env: { ...process.env, ...env, BENCH_OUT: out } });
    return JSON.parse(readFileSync(out, 'utf8')) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
