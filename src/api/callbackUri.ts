// Where Telegraph may POST a bot's notifications: https anywhere, plain http only on loopback
// (or everywhere with calls.allowInsecureCallbacks). One rule for every API; each API wraps the
// reason in its own error format.
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i;

/** Returns null when the URI is acceptable, else the reason it is not. */
export function callbackUriProblem(value: string, allowInsecure: boolean): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `'${value}' is not an absolute URI.`;
  }
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && (LOOPBACK.test(url.hostname) || allowInsecure)) return null;
  return `must be an https URI (http is accepted only for loopback hosts, or everywhere with calls.allowInsecureCallbacks); got '${value}'.`;
}
