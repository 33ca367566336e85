// Starts a real Azurite blob service (Microsoft's Azure Storage emulator, the `azurite` dev
// dependency) for a test: its own process, loopback only, a free port chosen by the OS, a fresh
// temporary workspace, telemetry off. Throws a clear error (never skips) when it cannot start.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  /** e.g. http://127.0.0.1:41234/devstoreaccount1 */
  blobEndpoint: string;
  connectionString: string;
  stop(): Promise<void>;
}

function azuriteBlobBin(): string {
  const require = createRequire(import.meta.url);
  let pkgPath: string;
  try {
    pkgPath = require.resolve('azurite/package.json');
  } catch {
    throw new Error('Azurite is not installed: run `npm ci` (it is a devDependency of Telegraph)');
  }
  const pkg = require(pkgPath) as { bin: Record<string, string> };
  return join(dirname(pkgPath), pkg.bin['azurite-blob']!);
}

export async function startAzurite(opts: { startTimeoutMs?: number } = {}): Promise<Azurite> {
  const timeoutMs = opts.startTimeoutMs ?? 20_000;
  const location = mkdtempSync(join(tmpdir(), 'telegraph-azurite-'));
  const args = [
    azuriteBlobBin(),
    '--blobHost', '127.0.0.1',
    '--blobPort', '0',
    '--location', location,
    '--silent',
    '--skipApiVersionCheck',
    '--disableTelemetry',
  ];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AZURITE_DISABLE_TELEMETRY: 'true' } });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const cleanup = () => {
    process.removeListener('exit', killOnExit);
    rmSync(location, { recursive: true, force: true });
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    cleanup();
  };

  try {
    const base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Azurite did not start within ${timeoutMs} ms`)), timeoutMs);
      const onData = () => {
        const m = /successfully listens on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      child.stdout!.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`Azurite could not be spawned: ${err.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`Azurite exited during start (code ${code}, signal ${signal})`));
      });
    });
    // Wait until it answers HTTP (an unauthenticated request: any status will do).
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const res = await fetch(`${base}/${DEV_ACCOUNT}?comp=list`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`Azurite listens at ${base} but does not answer: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const blobEndpoint = `${base}/${DEV_ACCOUNT}`;
    return {
      blobEndpoint,
      connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${blobEndpoint};`,
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw new Error(`cannot start Azurite (the Azure Blob emulator the Azure blob store tests run against): ${(err as Error).message}\n--- Azurite output ---\n${output.slice(-2000)}`);
  }
}
