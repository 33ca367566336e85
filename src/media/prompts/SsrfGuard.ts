/**
 * The server-side request forgery policy for fetching prompt audio from URIs that callers choose.
 *
 * Every host is resolved (all of its addresses) and every address is checked BEFORE any
 * connection is made; the connection is then made to one of the checked addresses only (the
 * resolved list is pinned into the socket's lookup, so a second DNS answer, as in DNS rebinding,
 * is never consulted), and the connected socket's remote address is checked once more.
 *
 * Decision order for a host name and each of its addresses:
 *   1. a configured `deny` entry (CIDR, address or host name) that matches → refused;
 *   2. a configured `allow` entry that matches → allowed (this overrides the default denies);
 *   3. a default deny that matches → refused: link-local (169.254.0.0/16, fe80::/10), the cloud
 *      metadata addresses (169.254.169.254, fd00:ec2::254, fd20:ce::254, 100.100.100.200,
 *      168.63.129.16) and the name metadata.google.internal, "this network" 0.0.0.0/8, the
 *      unspecified address ::, multicast (224.0.0.0/4, ff00::/8) and broadcast 255.255.255.255;
 *   4. anything else → allowed, loopback and private ranges included (Telegraph runs on laptops
 *      and inside private networks).
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are checked as the IPv4 address they reach. An IPv6
 * address that carries an IPv4 address in one of the standard embeddings (NAT64 64:ff9b::/96,
 * IPv4-translated ::ffff:0:a.b.c.d, IPv4-compatible ::a.b.c.d, 6to4 2002:aabb:ccdd::/48) is
 * checked as itself and as that IPv4 address, and refused if either is: on a network with NAT64 or
 * a 6to4 relay, 64:ff9b::a9fe:a9fe reaches 169.254.169.254.
 *
 * Entries: "10.0.0.0/8", "fd00::/8", "127.0.0.2", "::1", "prompts.example.com", or
 * "*.example.com" (any name below example.com, not example.com itself). Host-name entries match
 * the name in the URI, case-insensitively and ignoring a trailing dot.
 */
import dns from 'node:dns';
import net from 'node:net';
import type { Socket } from 'node:net';
import ipaddr from 'ipaddr.js';
import { buildConnector } from 'undici';

type IP = ipaddr.IPv4 | ipaddr.IPv6;

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all of its addresses (dns.lookup with all: true by default). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) => {
  const list = await dns.promises.lookup(hostname, { all: true, verbatim: true });
  return list.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** A host or address refused by the policy. `rule` names the rule that refused it. */
export class SsrfError extends Error {
  readonly host: string;
  readonly address: string | null;
  readonly rule: string;
  constructor(host: string, address: string | null, rule: string) {
    super(
      address && address !== host
        ? `${host} resolves to ${address}, which is ${rule}`
        : `${host} is ${rule}`,
    );
    this.name = 'SsrfError';
    this.host = host;
    this.address = address;
    this.rule = rule;
  }
}

/** The host name could not be resolved. `code` is the resolver's (ENOTFOUND, EAI_AGAIN, …). */
export class DnsError extends Error {
  readonly host: string;
  readonly code: string;
  constructor(host: string, code: string, detail?: string) {
    super(`could not resolve ${host} (${code}${detail ? `: ${detail}` : ''})`);
    this.name = 'DnsError';
    this.host = host;
    this.code = code;
  }
}

interface CidrEntry {
  kind: 'cidr';
  text: string;
  range: [IP, number];
  label: string;
}
interface HostEntry {
  kind: 'host';
  text: string;
  name: string;
  /** "*.example.com": matches names below example.com. */
  wildcard: boolean;
  label: string;
}
type Entry = CidrEntry | HostEntry;

const HOST_RE = /^(?:\*\.)?(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/;

function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.') && !net.isIP(h)) h = h.slice(0, -1);
  return h;
}

/** Parses an address, treating IPv4-mapped IPv6 as the IPv4 address it is. */
function parseIp(text: string): IP | null {
  const t = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  // Only standard notations (net.isIP), not ipaddr.js's lenient "127.1" or "0x7f000001" forms.
  const bare = t.replace(/%.*$/, '');
  if (!net.isIP(bare)) return null;
  try {
    return ipaddr.process(bare);
  } catch {
    return null;
  }
}

/**
 * The IPv4 address an IPv6 address carries in a standard embedding (see the header), or null.
 * (IPv4-mapped ::ffff:a.b.c.d never gets here: parseIp() turns it into the IPv4 address.)
 */
function embeddedIPv4(ip: ipaddr.IPv6): ipaddr.IPv4 | null {
  const p = ip.parts; // eight 16-bit groups
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
  const zeros = (from: number, to: number) => p.slice(from, to).every((x) => x === 0);
  if (p[0] === 0x64 && p[1] === 0xff9b && zeros(2, 6)) return v4(p[6]!, p[7]!); // NAT64 64:ff9b::/96
  if (zeros(0, 4) && p[4] === 0xffff && p[5] === 0) return v4(p[6]!, p[7]!); // IPv4-translated
  if (zeros(0, 6) && (p[6] !== 0 || p[7]! > 1)) return v4(p[6]!, p[7]!); // IPv4-compatible (not :: nor ::1)
  if (p[0] === 0x2002) return v4(p[1]!, p[2]!); // 6to4
  return null;
}

/** Parses one allow/deny entry; throws an Error saying why when it is not one. */
export function parsePolicyEntry(text: string, label?: string): Entry {
  const raw = String(text).trim();
  const lower = raw.toLowerCase();
  if (lower.includes('/')) {
    const [addr, bitsText] = lower.split('/', 2) as [string, string];
    const ip = net.isIP(addr) ? ipaddr.parse(addr) : null;
    const bits = /^[0-9]{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
    if (!ip || !Number.isInteger(bits) || bits > (ip.kind() === 'ipv4' ? 32 : 128)) {
      throw new Error(`"${raw}" is not a valid CIDR range (expected e.g. 10.0.0.0/8 or fd00::/8)`);
    }
    let range: [IP, number] = [ip, bits];
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      range = [(ip as ipaddr.IPv6).toIPv4Address(), bits - 96];
    }
    return { kind: 'cidr', text: raw, range, label: label ?? raw };
  }
  const ip = parseIp(lower);
  if (ip) return { kind: 'cidr', text: raw, range: [ip, ip.kind() === 'ipv4' ? 32 : 128], label: label ?? raw };
  if (HOST_RE.test(lower)) {
    const wildcard = lower.startsWith('*.');
    const name = normalizeHost(wildcard ? lower.slice(2) : lower);
    return { kind: 'host', text: raw, name, wildcard, label: label ?? raw };
  }
  throw new Error(`"${raw}" is neither a CIDR range, an IP address nor a host name`);
}

/** Why `entry` is not a valid allow/deny entry, or null when it is. */
export function policyEntryProblem(entry: string): string | null {
  try {
    parsePolicyEntry(entry);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

const DEFAULT_DENY: Entry[] = [
  ['169.254.169.254/32', 'the cloud metadata address (169.254.169.254)'],
  ['fd00:ec2::254/128', 'the AWS IPv6 metadata address (fd00:ec2::254)'],
  ['fd20:ce::254/128', 'the Google Cloud IPv6 metadata address (fd20:ce::254)'],
  ['100.100.100.200/32', 'the Alibaba Cloud metadata address (100.100.100.200)'],
  ['168.63.129.16/32', 'the Azure WireServer address (168.63.129.16)'],
  ['169.254.0.0/16', 'link-local (169.254.0.0/16)'],
  ['fe80::/10', 'link-local (fe80::/10)'],
  ['0.0.0.0/8', 'in "this network" (0.0.0.0/8)'],
  ['::/128', 'the unspecified address (::)'],
  ['224.0.0.0/4', 'multicast (224.0.0.0/4)'],
  ['ff00::/8', 'multicast (ff00::/8)'],
  ['255.255.255.255/32', 'the broadcast address (255.255.255.255)'],
  ['metadata.google.internal', 'the Google Cloud metadata server name (metadata.google.internal)'],
].map(([text, label]) => parsePolicyEntry(text!, label));

export interface Decision {
  allowed: boolean;
  /** The rule that decided, in words ("link-local (169.254.0.0/16), denied by default"); empty when nothing matched. */
  rule: string;
}

function matches(e: Entry, host: string | null, ip: IP | null): boolean {
  if (e.kind === 'host') {
    if (!host) return false;
    return e.wildcard ? host.endsWith('.' + e.name) : host === e.name;
  }
  if (!ip || ip.kind() !== e.range[0].kind()) return false;
  return ip.match(e.range);
}

export interface SsrfPolicy {
  allow?: readonly string[];
  deny?: readonly string[];
}

export class SsrfGuard {
  private readonly allow: Entry[];
  private readonly deny: Entry[];
  private readonly resolver: Resolver;

  constructor(policy: SsrfPolicy = {}, resolver: Resolver = systemResolver) {
    this.allow = (policy.allow ?? []).map((t) => parsePolicyEntry(t));
    this.deny = (policy.deny ?? []).map((t) => parsePolicyEntry(t));
    this.resolver = resolver;
  }

  /**
   * Decides for a host name (null for an IP literal) and/or an address (null to check the name
   * alone, before resolving it).
   */
  decide(host: string | null, address: string | null): Decision {
    const name = host === null ? null : normalizeHost(host);
    const ip = address === null ? null : parseIp(address);
    if (address !== null && !ip) return { allowed: false, rule: `not a valid IP address ("${address}")` };
    const d = this.decideOne(name, ip);
    const inner = ip !== null && ip.kind() === 'ipv6' ? embeddedIPv4(ip as ipaddr.IPv6) : null;
    if (!d.allowed || inner === null) return d;
    const di = this.decideOne(name, inner);
    return di.allowed ? d : { allowed: false, rule: `${di.rule} (the IPv4 address ${inner.toString()} embedded in ${address})` };
  }

  private decideOne(name: string | null, ip: IP | null): Decision {
    for (const e of this.deny) {
      if (matches(e, name, ip)) return { allowed: false, rule: `refused by the configured deny entry "${e.text}"` };
    }
    for (const e of this.allow) {
      if (matches(e, name, ip)) return { allowed: true, rule: `allowed by the configured allow entry "${e.text}"` };
    }
    for (const e of DEFAULT_DENY) {
      if (matches(e, name, ip)) return { allowed: false, rule: `${e.label}, denied by default` };
    }
    return { allowed: true, rule: '' };
  }

  /**
   * Resolves `hostname` (a name or an IP literal, as in URL.hostname) and checks the name and
   * every address. Returns the addresses, all allowed; throws SsrfError or DnsError.
   */
  async check(hostname: string): Promise<ResolvedAddress[]> {
    const host = normalizeHost(hostname);
    if (host === '') throw new DnsError(hostname, 'EINVAL', 'empty host');
    const family = net.isIP(host);
    if (family) {
      const d = this.decide(null, host);
      if (!d.allowed) throw new SsrfError(host, null, d.rule);
      return [{ address: host, family: family === 6 ? 6 : 4 }];
    }
    const byName = this.decide(host, null);
    if (!byName.allowed) throw new SsrfError(host, null, byName.rule);
    let addrs: ResolvedAddress[];
    try {
      addrs = await this.resolver(host);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new DnsError(host, typeof err.code === 'string' ? err.code : 'ERROR', err.code ? undefined : err.message);
    }
    if (addrs.length === 0) throw new DnsError(host, 'ENODATA', 'no addresses');
    for (const a of addrs) {
      const d = this.decide(host, a.address);
      if (!d.allowed) throw new SsrfError(host, a.address, d.rule);
    }
    return addrs;
  }

  /**
   * An undici connector that connects only to `pinned` (addresses already checked for `host`)
   * and checks the connected socket's remote address against the policy once more.
   */
  connector(host: string, pinned: readonly ResolvedAddress[], opts: { timeoutMs: number }): buildConnector.connector {
    const base = buildConnector({ timeout: opts.timeoutMs, lookup: pinnedLookup(pinned) });
    return (options, callback) => {
      base(options, (err, socket) => {
        if (err || !socket) {
          callback(err ?? new Error('connection failed'), null);
          return;
        }
        const remote = (socket as Socket).remoteAddress;
        const d = remote ? this.decide(net.isIP(normalizeHost(host)) ? null : host, remote) : { allowed: false, rule: 'an unknown remote address' };
        if (!d.allowed) {
          socket.destroy();
          callback(new SsrfError(normalizeHost(host), remote ?? null, d.rule), null);
          return;
        }
        callback(null, socket);
      });
    };
  }
}

/** A net.connect lookup that answers with the given (checked) addresses and never asks DNS. */
export function pinnedLookup(pinned: readonly ResolvedAddress[]): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    const fam = options?.family === 4 || options?.family === 'IPv4' ? 4 : options?.family === 6 || options?.family === 'IPv6' ? 6 : 0;
    const list = fam ? pinned.filter((a) => a.family === fam) : [...pinned];
    process.nextTick(() => {
      if (list.length === 0) {
        const err: NodeJS.ErrnoException = new Error(`no IPv${fam} address for ${hostname}`);
        err.code = 'ENOTFOUND';
        callback(err, options?.all ? [] : '', fam || 4);
      } else if (options?.all) {
        callback(null, list.map((a) => ({ address: a.address, family: a.family })));
      } else {
        callback(null, list[0]!.address, list[0]!.family);
      }
    });
  }) as unknown as net.LookupFunction;
}
