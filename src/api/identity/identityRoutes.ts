// The identity platform's endpoints: OAuth2 client credentials, OpenID configuration and JWKS,
// in the shapes Microsoft Entra uses, so MSAL and plain HTTP clients work unchanged.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Directory } from '../../directory/Directory.ts';
import type { KeyStore } from '../../identity/KeyStore.ts';
import type { TokenService } from '../../identity/TokenService.ts';
import { GRAPH_AUDIENCES } from '../../identity/TokenService.ts';

export interface IdentityRouteOptions {
  directory: Directory;
  tokens: TokenService;
  keys: KeyStore;
  publicUrl: () => string;
}

function oauthError(reply: FastifyReply, status: number, error: string, description: string) {
  return reply.status(status).send({
    error,
    error_description: description,
    error_codes: [],
    timestamp: new Date().toISOString(),
    trace_id: reply.request.id,
    correlation_id: reply.request.id,
  });
}

export function registerIdentityRoutes(http: FastifyInstance, o: IdentityRouteOptions): void {
  http.post('/:tenantId/oauth2/v2.0/token', async (req, reply) => {
    const { tenantId } = req.params as { tenantId: string };
    const body = req.body;
    const isForm = (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
    if (!isForm || !body || typeof body !== 'object' || Buffer.isBuffer(body)) {
      return oauthError(reply, 400, 'invalid_request', 'The request body must be application/x-www-form-urlencoded with grant_type, client_id, client_secret and scope.');
    }
    const form = body as Record<string, string>;
    if (!o.directory.getTenant(tenantId)) return oauthError(reply, 400, 'invalid_tenant', `Tenant '${tenantId}' not found.`);
    if (form.grant_type !== 'client_credentials') {
      return oauthError(reply, 400, 'unsupported_grant_type', `grant_type must be 'client_credentials' (got '${form.grant_type ?? ''}'): the calls API accepts application tokens only.`);
    }
    if (!form.client_id) return oauthError(reply, 400, 'invalid_request', "The request body must contain the parameter 'client_id'.");
    const scope = form.scope ?? '';
    const okScope = GRAPH_AUDIENCES.some((a) => scope.split(/\s+/).includes(`${a}/.default`));
    if (!okScope) return oauthError(reply, 400, 'invalid_scope', `scope must be 'https://graph.microsoft.com/.default' (got '${scope}').`);
    const app = o.directory.getApplication(form.client_id);
    if (!app || app.tenantId !== tenantId) {
      return oauthError(reply, 400, 'unauthorized_client', `Application with identifier '${form.client_id}' was not found in tenant '${tenantId}'.`);
    }
    if (!form.client_secret) return oauthError(reply, 401, 'invalid_client', "The request body must contain the parameter 'client_secret'.");
    if (!o.directory.verifySecret(app, form.client_secret)) {
      return oauthError(reply, 401, 'invalid_client', `Invalid client secret provided for application '${app.appId}'.`);
    }
    const { token, expiresIn } = await o.tokens.issueAppToken({ tid: tenantId, appid: app.appId, roles: app.permissions });
    reply.header('cache-control', 'no-store');
    return { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: token };
  });

  const openid = (tenantId: string) => {
    const base = o.publicUrl();
    return {
      issuer: o.tokens.issuerFor(tenantId),
      token_endpoint: `${base}/${tenantId}/oauth2/v2.0/token`,
      jwks_uri: `${base}/${tenantId}/discovery/v2.0/keys`,
      token_endpoint_auth_methods_supported: ['client_secret_post'],
      grant_types_supported: ['client_credentials'],
      response_types_supported: ['token'],
      id_token_signing_alg_values_supported: ['RS256'],
      subject_types_supported: ['pairwise'],
      scopes_supported: ['https://graph.microsoft.com/.default'],
      tenant_region_scope: null,
      cloud_instance_name: 'telegraph',
    };
  };

  http.get('/:tenantId/v2.0/.well-known/openid-configuration', async (req, reply) => {
    const { tenantId } = req.params as { tenantId: string };
    if (!o.directory.getTenant(tenantId)) return oauthError(reply, 400, 'invalid_tenant', `Tenant '${tenantId}' not found.`);
    return openid(tenantId);
  });
  http.get('/:tenantId/discovery/v2.0/keys', async () => o.keys.jwks());

  // The platform's own issuer: notifications to bots are signed by it.
  http.get('/.well-known/openid-configuration', async () => ({
    issuer: o.tokens.platformIssuer(),
    jwks_uri: `${o.publicUrl()}/discovery/v2.0/keys`,
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
  }));
  http.get('/discovery/v2.0/keys', async () => o.keys.jwks());
}
