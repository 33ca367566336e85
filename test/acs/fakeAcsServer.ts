// A tiny node:http server that authenticates every request with verifyAcsRequest and answers just
// enough of the ACS Call Automation API for the official SDK to complete the calls the tests make.
// It records each request and each verification result so that tests can look at both.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyAcsRequest, type AcsVerifyResult } from '../../src/identity/AcsHmac.ts';
import { AcsError } from '../../src/api/acs/AcsError.ts';

export interface SeenRequest {
  method: string;
  rawPath: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  result: AcsVerifyResult;
}

export interface Reply {
  status: number;
  json?: unknown;
  bytes?: Buffer;
  headers?: Record<string, string>;
  /** Close the connection without answering (the client sees a reset and may retry). */
  drop?: boolean;
}

export type Route = (req: SeenRequest) => Reply | undefined | Promise<Reply | undefined>;

export class FakeAcsServer {
  readonly seen: SeenRequest[] = [];
  keys: Buffer[];
  /** The server's clock, replaceable to fake a skewed client. */
  clock: () => number = Date.now;
  windowMs: number | undefined = undefined;
  routes: Route[] = [];

  private constructor(private readonly server: Server, keys: Buffer[]) {
    this.keys = keys;
  }

  static async start(keys: Buffer[]): Promise<FakeAcsServer> {
    let self!: FakeAcsServer;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const body = Buffer.concat(chunks);
        const rawPath = req.url ?? '/';
        const contentUrl = rawPath.startsWith('/v1/objects/');
        const result = verifyAcsRequest(
          { method: req.method ?? 'GET', rawPath, headers: req.headers, body, mode: contentUrl ? 'contentUrl' : 'request' },
          self.keys,
          self.clock(),
          self.windowMs,
        );
        const seen: SeenRequest = { method: req.method ?? 'GET', rawPath, headers: req.headers, body, result };
        self.seen.push(seen);
        let reply: Reply;
        if (!result.ok) {
          const err = AcsError.unauthorized(result.message);
          reply = { status: 401, json: contentUrl ? err.toContentBody() : err.toBody() };
        } else {
          reply = await self.route(seen);
        }
        for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
        if (reply.drop) {
          req.socket.destroy();
        } else if (reply.bytes) {
          res.writeHead(reply.status, { 'content-type': 'application/octet-stream', 'content-length': reply.bytes.length });
          res.end(reply.bytes);
        } else if (reply.json !== undefined) {
          const text = JSON.stringify(reply.json);
          res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        } else {
          res.writeHead(reply.status, { 'content-length': 0 });
          res.end();
        }
      });
    });
    self = new FakeAcsServer(server, keys);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get last(): SeenRequest {
    const r = this.seen.at(-1);
    if (!r) throw new Error('no request seen');
    return r;
  }

  private async route(req: SeenRequest): Promise<Reply> {
    for (const r of this.routes) {
      const reply = await r(req);
      if (reply) return reply;
    }
    const path = req.rawPath.split('?')[0]!;
    let m: RegExpExecArray | null;
    if (req.method === 'GET' && (m = /^\/calling\/callConnections\/([^/:]+)$/.exec(path))) {
      return { status: 200, json: { callConnectionId: decodeURIComponent(m[1]!), callConnectionState: 'connected' } };
    }
    if (req.method === 'POST' && /^\/calling\/callConnections\/[^/:]+:terminate$/.test(path)) return { status: 204 };
    if (req.method === 'POST' && path === '/calling/recordings') {
      return { status: 200, json: { recordingId: 'rec1', recordingState: 'active', recordingKind: 'azureCommunicationServices' } };
    }
    if (req.method === 'GET' && (m = /^\/calling\/recordings\/([^/:]+)$/.exec(path))) {
      return { status: 200, json: { recordingId: decodeURIComponent(m[1]!), recordingState: 'active', recordingKind: 'azureCommunicationServices' } };
    }
    if (req.method === 'POST' && /^\/calling\/recordings\/[^/:]+:(pause|resume)$/.test(path)) return { status: 202 };
    if (req.method === 'DELETE' && /^\/calling\/recordings\/[^/:]+$/.test(path)) return { status: 204 };
    if (req.method === 'GET' && path.startsWith('/v1/objects/')) return { status: 200, bytes: Buffer.from('RIFF-fake-audio') };
    if (req.method === 'DELETE' && path.startsWith('/v1/objects/')) return { status: 200 };
    return { status: 404, json: AcsError.notFound(`No resource matches ${req.method} ${path}.`).toBody() };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
