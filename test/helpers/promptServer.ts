// A loopback HTTP server for prompt files (served from memory), counting the requests per path.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export class PromptServer {
  private readonly files = new Map<string, { body: Buffer; type: string }>();
  private readonly hits = new Map<string, number>();
  private server!: http.Server;
  base = '';

  /** Serves `body` at `path` (from now on); returns its URL (once started). */
  add(path: string, body: Buffer | Uint8Array, type = 'audio/wav'): string {
    this.files.set(path, { body: Buffer.from(body), type });
    return `${this.base}${path}`;
  }

  count(path: string): number {
    return this.hits.get(path) ?? 0;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      this.hits.set(path, this.count(path) + 1);
      const f = this.files.get(path);
      if (!f) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': f.type, 'content-length': f.body.length });
      res.end(f.body);
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
