// Which ACS resource signed a request: the one whose access key verifies its HMAC signature.
// Shared by the /calling API and the recording content URLs (signed over the pathname only).
import type { FastifyRequest } from 'fastify';
import type { Directory } from '../../directory/Directory.ts';
import type { AcsResource } from '../../directory/DirectoryTypes.ts';
import { DEFAULT_DATE_WINDOW_MS, headerValue, verifyAcsRequest } from '../../identity/AcsHmac.ts';
import { AcsError } from './AcsError.ts';

export class AcsAuthenticator {
  private readonly decodedKeys = new WeakMap<AcsResource, Buffer[]>();

  constructor(
    private readonly directory: Directory,
    private readonly windowMs: number = DEFAULT_DATE_WINDOW_MS,
  ) {}

  private keysOf(r: AcsResource): Buffer[] {
    let k = this.decodedKeys.get(r);
    if (!k) this.decodedKeys.set(r, (k = r.keys.map((x) => Buffer.from(x.key, 'base64'))));
    return k;
  }

  /**
   * Every resource's keys are tried (HMAC is cheap, and every key is tried whatever matches, so
   * timing tells nothing); when the host name's first label is a resource id
   * (`<resourceId>.example.com`), only that resource's keys are. Throws a 401 AcsError saying why.
   */
  authenticate(req: FastifyRequest, rawPath: string, body: Buffer, mode?: 'contentUrl'): AcsResource {
    const host = headerValue(req.headers, 'x-ms-host') ?? headerValue(req.headers, 'host') ?? '';
    const label = host.includes('.') ? host.split('.')[0]! : '';
    const named = label ? this.directory.getAcsResource(label) : undefined;
    const candidates = named ? [named] : this.directory.allAcsResources();
    const keys: Buffer[] = [];
    const owners: AcsResource[] = [];
    for (const r of candidates) for (const k of this.keysOf(r)) { keys.push(k); owners.push(r); }
    const result = verifyAcsRequest({ method: req.method, rawPath, headers: req.headers, body, ...(mode ? { mode } : {}) }, keys, Date.now(), this.windowMs);
    if (!result.ok) {
      const message = result.reason === 'signatureMismatch'
        ? result.message.replace(/^The signature matches none of this resource's \d+ access key\(s\)/, `The signature matches no access key of ${named ? `resource ${named.id}` : 'any Communication Services resource of this Telegraph'}`)
        : result.message;
      throw AcsError.unauthorized(message);
    }
    return owners[result.keyIndex]!;
  }
}
