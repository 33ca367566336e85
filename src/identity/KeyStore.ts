// The platform's RS256 signing key, made on first start and kept in the data directory so tokens
// and notification signatures stay valid across restarts. Published as a JWKS.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, type KeyLike } from 'jose';

export class KeyStore {
  private constructor(
    readonly kid: string,
    readonly privateKey: KeyLike,
    readonly publicJwk: JWK,
  ) {}

  static async open(dataDir: string | null): Promise<KeyStore> {
    const file = dataDir ? join(dataDir, 'keys', 'signing-key.json') : null;
    let privateJwk: JWK;
    if (file && existsSync(file)) {
      privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    } else {
      const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
      privateJwk = await exportJWK(privateKey);
      privateJwk.kid = await calculateJwkThumbprint(privateJwk);
      if (file) {
        mkdirSync(join(dataDir!, 'keys'), { recursive: true });
        writeFileSync(file, JSON.stringify(privateJwk), { mode: 0o600 });
      }
    }
    const key = (await importJWK(privateJwk, 'RS256')) as KeyLike;
    const { d, p, q, dp, dq, qi, ...pub } = privateJwk;
    void d; void p; void q; void dp; void dq; void qi;
    return new KeyStore(privateJwk.kid!, key, { ...pub, use: 'sig', alg: 'RS256', kid: privateJwk.kid! });
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }
}
