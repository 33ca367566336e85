// incomingCallContext: the opaque string an IncomingCall event carries and answerCall, rejectCall
// and redirectCall hand back. Telegraph's is `<payload>.<signature>`, both base64url: the payload
// names the incoming leg and the resource it was offered to, the signature (HMAC-SHA256 with a key
// made at start) proves Telegraph issued it. Calls do not outlive the process, so neither do keys.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface IncomingCallRef {
  /** The incoming leg (its id becomes the callConnectionId once answered). */
  legId: string;
  /** The ACS resource the call was offered to. */
  resourceId: string;
}

export class IncomingCallContexts {
  private readonly key = randomBytes(32);

  issue(ref: IncomingCallRef): string {
    const payload = Buffer.from(JSON.stringify({ l: ref.legId, r: ref.resourceId, t: Date.now() }), 'utf8').toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  /** The leg and resource a context names, or null when it was not issued by this Telegraph. */
  open(context: string): IncomingCallRef | null {
    const dot = context.indexOf('.');
    if (dot <= 0) return null;
    const payload = context.slice(0, dot);
    const given = Buffer.from(context.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(payload), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    try {
      const v = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { l?: unknown; r?: unknown };
      if (typeof v.l !== 'string' || typeof v.r !== 'string') return null;
      return { legId: v.l, resourceId: v.r };
    } catch {
      return null;
    }
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}
