// Issues and checks the OAuth2 access tokens of the Graph API, and signs the notifications Telegraph
// sends to bots, all with the one key in the KeyStore.
import { SignJWT, createLocalJWKSet, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import { randomUUID } from 'node:crypto';
import type { KeyStore } from './KeyStore.ts';

export const GRAPH_AUDIENCES = ['https://graph.microsoft.com', '00000003-0000-0000-c000-000000000000'];

export interface AppTokenClaims {
  tid: string;
  appid: string;
  roles: string[];
}

export class TokenError extends Error {
  constructor(
    readonly status: 401 | 403,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class TokenService {
  private readonly jwks;
  private readonly notificationTokens = new Map<string, { token: string; exp: number }>();
  /** Tokens that passed verifyAppToken, by their text, until their exp (the RS256 check is the costly part). */
  private readonly verified = new Map<string, { claims: AppTokenClaims; exp: number; iss: string }>();

  constructor(
    private readonly keys: KeyStore,
    private readonly publicUrl: () => string,
    private readonly lifetimeSeconds: number,
    private readonly notificationLifetimeSeconds: number,
  ) {
    this.jwks = createLocalJWKSet(keys.jwks());
  }

  issuerFor(tenantId: string): string {
    return `${this.publicUrl()}/${tenantId}/v2.0`;
  }

  /** The issuer of notification tokens: Telegraph itself, as the Skype/Bot platform is in the cloud. */
  platformIssuer(): string {
    return `${this.publicUrl()}/`;
  }

  async issueAppToken(claims: AppTokenClaims): Promise<{ token: string; expiresIn: number }> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({
      tid: claims.tid,
      appid: claims.appid,
      azp: claims.appid,
      roles: claims.roles,
      idtyp: 'app',
      oid: claims.appid,
      sub: claims.appid,
      ver: '2.0',
      uti: randomUUID(),
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.keys.kid })
      .setIssuer(this.issuerFor(claims.tid))
      .setAudience(GRAPH_AUDIENCES[0]!)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + this.lifetimeSeconds)
      .sign(this.keys.privateKey);
    return { token, expiresIn: this.lifetimeSeconds };
  }

  /** Verifies a Graph bearer token. Throws TokenError with the status and reason to report. */
  async verifyAppToken(token: string): Promise<AppTokenClaims> {
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.exp > Date.now() / 1000 && hit.iss === this.issuerFor(hit.claims.tid)) return { ...hit.claims, roles: [...hit.claims.roles] };
      this.verified.delete(token);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, { algorithms: ['RS256'], audience: GRAPH_AUDIENCES, clockTolerance: 30 }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new TokenError(401, 'InvalidAuthenticationToken', 'Access token has expired or is not yet valid.');
      if (err instanceof joseErrors.JWTClaimValidationFailed) throw new TokenError(401, 'InvalidAuthenticationToken', `Access token validation failure: invalid claim "${err.claim}" (${err.reason}).`);
      if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWSSignatureVerificationFailed)
        throw new TokenError(401, 'InvalidAuthenticationToken', 'Access token validation failure: the signature was not made by this Telegraph.');
      throw new TokenError(401, 'InvalidAuthenticationToken', 'Access token is malformed: it is not a JWT signed with RS256.');
    }
    if (typeof payload.scp === 'string' || payload.idtyp === 'user') {
      throw new TokenError(403, 'Forbidden', 'Delegated (user) tokens are not supported by the calls API: use an application token (client credentials).');
    }
    const tid = payload.tid, appid = payload.appid;
    if (typeof tid !== 'string' || typeof appid !== 'string') throw new TokenError(401, 'InvalidAuthenticationToken', 'Access token validation failure: tid and appid claims are required.');
    if (payload.iss !== this.issuerFor(tid)) throw new TokenError(401, 'InvalidAuthenticationToken', `Access token validation failure: issuer "${String(payload.iss)}" is not this Telegraph's issuer for tenant ${tid}.`);
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    if (typeof payload.exp === 'number') {
      if (this.verified.size >= 10_000) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, { claims: { tid, appid, roles: [...roles] }, exp: payload.exp, iss: payload.iss });
    }
    return { tid, appid, roles };
  }

  /** A bearer token for notifications to one bot, cached until close to expiry (signing is the costly part). */
  async notificationToken(tenantId: string, appId: string): Promise<string> {
    const key = `${tenantId}/${appId}`;
    const now = Math.floor(Date.now() / 1000);
    const cached = this.notificationTokens.get(key);
    if (cached && cached.exp - now > 300) return cached.token;
    const exp = now + this.notificationLifetimeSeconds;
    const token = await new SignJWT({ tid: tenantId, appid: appId, serviceurl: this.publicUrl() })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.keys.kid })
      .setIssuer(this.platformIssuer())
      .setAudience(appId)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(exp)
      .sign(this.keys.privateKey);
    this.notificationTokens.set(key, { token, exp });
    return token;
  }
}
