// Loads the configuration: defaults < file (YAML or JSON) < environment < command-line flags.
import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ZodError } from 'zod';
import { configSchema, type TelegraphConfig } from './ConfigSchema.ts';

export class ConfigError extends Error {}

export interface ConfigOverrides {
  host?: string;
  port?: number;
  /** Enables the HTTPS listener on this port. */
  httpsPort?: number;
  dataDir?: string;
  publicUrl?: string;
  adminKey?: string;
  logLevel?: string;
}

/** Environment variables and the config keys they set. */
export const ENVIRONMENT_VARIABLES: Record<string, (raw: Record<string, any>, value: string) => void> = {
  TELEGRAPH_HOST: (c, v) => (section(c, 'server').host = v),
  TELEGRAPH_PORT: (c, v) => (section(c, 'server').port = toInt('TELEGRAPH_PORT', v)),
  TELEGRAPH_HTTPS_PORT: (c, v) => Object.assign(httpsSection(c), { enabled: true, port: toInt('TELEGRAPH_HTTPS_PORT', v) }),
  TELEGRAPH_PUBLIC_URL: (c, v) => (section(c, 'server').publicUrl = v),
  TELEGRAPH_DATA_DIR: (c, v) => (c.dataDir = v),
  TELEGRAPH_ADMIN_KEY: (c, v) => (c.adminKey = v),
  TELEGRAPH_LOG_LEVEL: (c, v) => (section(c, 'log').level = v),
  TELEGRAPH_ANSWER_TIMEOUT_MS: (c, v) => (section(c, 'calls').answerTimeoutMs = toInt('TELEGRAPH_ANSWER_TIMEOUT_MS', v)),
  TELEGRAPH_KEEPALIVE_TIMEOUT_MS: (c, v) => (section(c, 'calls').keepAliveTimeoutMs = toInt('TELEGRAPH_KEEPALIVE_TIMEOUT_MS', v)),
  TELEGRAPH_RING_TIMEOUT_MS: (c, v) => (section(c, 'calls').ringTimeoutMs = toInt('TELEGRAPH_RING_TIMEOUT_MS', v)),
  TELEGRAPH_ALLOW_INSECURE_CALLBACKS: (c, v) => (section(c, 'calls').allowInsecureCallbacks = v === 'true' || v === '1'),
  TELEGRAPH_NOTIFY_MAX_ATTEMPTS: (c, v) => (section(c, 'notifications').maxAttempts = toInt('TELEGRAPH_NOTIFY_MAX_ATTEMPTS', v)),
  TELEGRAPH_NOTIFY_TIMEOUT_MS: (c, v) => (section(c, 'notifications').timeoutMs = toInt('TELEGRAPH_NOTIFY_TIMEOUT_MS', v)),
};

function section(c: Record<string, any>, key: string): Record<string, any> {
  c[key] ??= {};
  return c[key];
}

function httpsSection(c: Record<string, any>): Record<string, any> {
  const server = section(c, 'server');
  server.https ??= {};
  return server.https;
}

function toInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ConfigError(`${name} must be an integer, got "${v}"`);
  return n;
}

export function readConfigFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new ConfigError(`config file ${path} does not exist`);
  const text = readFileSync(path, 'utf8');
  try {
    const parsed = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${path} must hold an object`);
    return parsed as Record<string, unknown>;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`config file ${path} could not be parsed: ${(err as Error).message}`);
  }
}

export function loadConfig(options: {
  file?: string | null;
  raw?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  overrides?: ConfigOverrides;
}): TelegraphConfig {
  const raw: Record<string, any> = structuredClone(options.raw ?? (options.file ? readConfigFile(options.file) : {}));
  const env = options.env ?? process.env;
  for (const [name, apply] of Object.entries(ENVIRONMENT_VARIABLES)) {
    const value = env[name];
    if (value !== undefined && value !== '') apply(raw, value);
  }
  const o = options.overrides ?? {};
  if (o.host !== undefined) section(raw, 'server').host = o.host;
  if (o.port !== undefined) section(raw, 'server').port = o.port;
  if (o.httpsPort !== undefined) Object.assign(httpsSection(raw), { enabled: true, port: o.httpsPort });
  if (o.publicUrl !== undefined) section(raw, 'server').publicUrl = o.publicUrl;
  if (o.dataDir !== undefined) raw.dataDir = o.dataDir;
  if (o.adminKey !== undefined) raw.adminKey = o.adminKey;
  if (o.logLevel !== undefined) section(raw, 'log').level = o.logLevel;
  try {
    return configSchema.parse(raw);
  } catch (err) {
    if (err instanceof ZodError) {
      const lines = err.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
    }
    throw err;
  }
}
