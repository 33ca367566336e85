// The `telegraph` command.
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { loadConfig, ConfigError } from './config/loadConfig.ts';
import { Telegraph } from './server.ts';
import { formatConnectionString } from './identity/AcsHmac.ts';

const USAGE = `Usage: telegraph start [options]

Options:
  --host <host>        listen address (default 127.0.0.1)
  --port <port>        HTTP port (default 8080)
  --https-port <port>  also listen on HTTPS on this port (local CA in <data-dir>/tls unless
                       server.https.certFile/keyFile are set); the public URL is then the HTTPS one
  --data-dir <dir>     where state, keys and recordings live (default ./.telegraph)
  --config <file>      YAML or JSON configuration (default: telegraph.yaml if present)
  --public-url <url>   the origin clients and bots use to reach Telegraph
  --log-level <level>  fatal|error|warn|info|debug|trace|silent
  -h, --help           this text

Environment variables override the file; flags override both (docs/configuration.md).`;

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'https-port': { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      'public-url': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0] ?? 'start';
  if (values.help || command === 'help') {
    console.log(USAGE);
    return;
  }
  if (command !== 'start') {
    console.error(`unknown command '${command}'\n\n${USAGE}`);
    process.exit(2);
  }

  let telegraph: Telegraph;
  try {
    const file = values.config ?? (existsSync('telegraph.yaml') ? 'telegraph.yaml' : existsSync('telegraph.json') ? 'telegraph.json' : null);
    const port = values.port !== undefined ? Number(values.port) : undefined;
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new ConfigError(`--port must be a port number, got "${values.port}"`);
    const httpsPort = values['https-port'] !== undefined ? Number(values['https-port']) : undefined;
    if (httpsPort !== undefined && (!Number.isInteger(httpsPort) || httpsPort < 0 || httpsPort > 65535)) throw new ConfigError(`--https-port must be a port number, got "${values['https-port']}"`);
    const config = loadConfig({
      file,
      overrides: { host: values.host, port, httpsPort, dataDir: values['data-dir'], publicUrl: values['public-url'], logLevel: values['log-level'] },
    });
    telegraph = await Telegraph.create(config);
    await telegraph.listen();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`telegraph: ${err.message}`);
      process.exit(2);
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      console.error(`telegraph: the port is already in use (${e.message}); choose another with --port (or --https-port)`);
      process.exit(2);
    }
    throw err;
  }

  printBanner(telegraph);

  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      telegraph.log.warn('second signal: exiting at once');
      process.exit(1);
    }
    telegraph.log.info({ signal }, 'stopping: ending active calls and flushing notifications');
    telegraph.stop().then(
      () => process.exit(0),
      (err) => {
        telegraph.log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/** The connection string for the public URL; ACS endpoints have no path, so a public URL with one cannot be used. */
function connectionString(url: string, key: string): string {
  try {
    return formatConnectionString(url, key);
  } catch (err) {
    return `(none: ${(err as Error).message})`;
  }
}

function printBanner(t: Telegraph): void {
  const url = t.publicUrl;
  const lines = [
    '',
    `Telegraph is listening on ${t.httpUrl ?? url}${t.httpsUrl ? ` and ${t.httpsUrl}` : ''}${t.httpsUrl && url !== t.httpsUrl ? ` (public URL ${url})` : ''}`,
    `  Graph API      ${url}/v1.0/communications/calls   (and ${url}/beta/...)`,
    `  ACS API        ${url}/calling/...   (Call Automation; connection string below)`,
    `  admin key      ${t.adminKey}`,
  ];
  if (t.httpsUrl) {
    lines.push(`  HTTPS          ${t.httpsUrl}`);
    if (t.tls?.caPath) {
      lines.push(
        `  local CA       ${t.tls.caPath} (SHA-256 ${t.tls.caFingerprint})`,
        `  trust it       NODE_EXTRA_CA_CERTS=${t.tls.caPath} node your-app.js   (curl --cacert ${t.tls.caPath})`,
      );
    }
  }
  const secure = url.startsWith('https:');
  const dev = t.developmentTenant;
  if (dev) {
    lines.push(
      '',
      'Development tenant (created on first start; also in <data-dir>/development-tenant.json):',
      `  tenant id      ${dev.tenantId}`,
      `  client id      ${dev.clientId}`,
      `  client secret  ${dev.clientSecret}`,
      `  token URL      ${url}/${dev.tenantId}/oauth2/v2.0/token`,
      `  bot number     ${dev.phoneNumber} (application instance ${dev.applicationInstanceId})`,
      `  virtual users  ${dev.userIds.join(', ')}`,
      ...(dev.acs
        ? [
            `  ACS resource   ${dev.acs.resourceId} (number ${dev.acs.phoneNumber}; its users are 8:acs:${dev.acs.resourceId}_<user id>)`,
            secure
              ? `  ACS connection string (HTTPS: new CallAutomationClient(cs)${t.tls?.caPath ? ', with NODE_EXTRA_CA_CERTS set' : ''}):`
              : `  ACS connection string (plain HTTP: new CallAutomationClient(cs, { allowInsecureConnection: true })):`,
            `    ${connectionString(url, dev.acs.accessKey)}`,
          ]
        : []),
      '',
      'Get a token:',
      `  curl -s${secure && t.tls?.caPath ? ` --cacert ${t.tls.caPath}` : ''} -d grant_type=client_credentials -d client_id=${dev.clientId} \\`,
      `       --data-urlencode client_secret=${dev.clientSecret} \\`,
      `       -d scope=https://graph.microsoft.com/.default ${url}/${dev.tenantId}/oauth2/v2.0/token`,
    );
  }
  lines.push('');
  process.stdout.write(lines.join('\n') + '\n');
}
