// The admin API: manages the directory, shows calls and every notification attempt, admits from
// lobbies. Protected by the admin key (Authorization: Bearer <key> or x-admin-key).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { randomUUID, timingSafeEqual, createHash } from 'node:crypto';
import { z, type ZodTypeAny } from 'zod';
import type { CallService } from '../../calls/CallService.ts';
import {
  acsResourceSchema,
  applicationInstanceSchema,
  applicationSchema,
  eventGridSubscriptionSchema,
  meetingSchema,
  userSchema,
} from '../../config/ConfigSchema.ts';
import { acsKeyEntry, newSecret, type Directory } from '../../directory/Directory.ts';
import type { AcsResource } from '../../directory/DirectoryTypes.ts';
import { formatConnectionString, newAccessKey } from '../../identity/AcsHmac.ts';
import type { EventGridPublisher } from '../../notify/EventGridPublisher.ts';
import type { Outbox } from '../../notify/Outbox.ts';
import { GraphError } from '../graph/GraphError.ts';
import { renderParticipant } from '../graph/GraphWire.ts';

type Json = Record<string, any>;

export interface AdminRouteOptions {
  directory: Directory;
  calls: CallService;
  outbox: Outbox;
  adminKey: string;
  /** The media engine's counters: ticks, late ticks, skipped frames, tick time percentiles. */
  mediaStats: () => unknown;
  /** ACS resources: Event Grid handshakes, and the public URL their connection strings name. */
  acs?: { eventGrid: EventGridPublisher; publicUrl: () => string };
}

export function checkAdminKey(req: FastifyRequest, adminKey: string): void {
  const header = req.headers.authorization;
  const given = typeof req.headers['x-admin-key'] === 'string' ? req.headers['x-admin-key'] : header?.replace(/^Bearer\s+/i, '');
  const a = createHash('sha256').update(given ?? '').digest();
  const b = createHash('sha256').update(adminKey).digest();
  if (!given || !timingSafeEqual(a, b)) {
    throw new GraphError(401, 'Unauthorized', 'This endpoint needs the admin key: send Authorization: Bearer <adminKey> or x-admin-key. It is printed at startup and kept in the data directory.');
  }
}

function parse<S extends ZodTypeAny>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw GraphError.invalidField(i.path.join('.') || '(body)', i.message);
}

export function registerAdminRoutes(http: FastifyInstance, o: AdminRouteOptions): void {
  const { directory, calls, outbox } = o;

  http.register(async (admin) => {
    admin.addHook('onRequest', async (req) => checkAdminKey(req, o.adminKey));

    const tenantOf = (req: FastifyRequest) => {
      const { tid } = req.params as Json;
      const t = directory.getTenant(tid);
      if (!t) throw new GraphError(404, 'NotFound', `Tenant ${tid} does not exist.`);
      return t;
    };
    const inTenant = <T extends { tenantId: string }>(e: T | undefined, tid: string, what: string, id: string): T => {
      if (!e || e.tenantId !== tid) throw new GraphError(404, 'NotFound', `${what} ${id} does not exist in tenant ${tid}.`);
      return e;
    };

    // ---- tenants
    admin.get('/tenants', async () => ({ value: directory.listTenants() }));
    admin.post('/tenants', async (req, reply) => {
      const b = parse(z.object({ id: z.string().min(1).optional(), displayName: z.string().min(1).default('Tenant') }).strict(), req.body);
      const id = b.id ?? randomUUID();
      if (directory.getTenant(id)) throw new GraphError(409, 'Conflict', `Tenant ${id} already exists.`);
      reply.status(201);
      return directory.upsertTenant({ id, displayName: b.displayName });
    });
    admin.get('/tenants/:tid', async (req) => {
      const t = tenantOf(req);
      return {
        ...t,
        applications: directory.listApplications(t.id).map(publicApp),
        applicationInstances: directory.listApplicationInstances(t.id),
        users: directory.listUsers(t.id),
        meetings: directory.listMeetings(t.id),
        acsResources: directory.listAcsResources(t.id).map(publicAcs),
      };
    });
    admin.delete('/tenants/:tid', async (req, reply) => {
      directory.deleteTenant(tenantOf(req).id);
      return reply.status(204).send();
    });

    // ---- applications
    const appInput = applicationSchema.omit({ secrets: true }).extend({ appId: z.string().min(1).optional() });
    admin.get('/tenants/:tid/applications', async (req) => ({ value: directory.listApplications(tenantOf(req).id).map(publicApp) }));
    admin.post('/tenants/:tid/applications', async (req, reply) => {
      const t = tenantOf(req);
      const b = parse(appInput, req.body);
      const appId = b.appId ?? randomUUID();
      if (directory.getApplication(appId)) throw new GraphError(409, 'Conflict', `Application ${appId} already exists.`);
      directory.upsertApplication({ tenantId: t.id, appId, displayName: b.displayName, permissions: b.permissions, callingWebhook: b.callingWebhook, secrets: [] });
      const secret = directory.addSecret(appId, newSecret());
      reply.status(201);
      return { ...publicApp(directory.getApplication(appId)!), secret: secret.secret, secretId: secret.id };
    });
    admin.get('/tenants/:tid/applications/:id', async (req) => {
      const { tid, id } = req.params as Json;
      tenantOf(req);
      return publicApp(inTenant(directory.getApplication(id), tid, 'Application', id));
    });
    admin.patch('/tenants/:tid/applications/:id', async (req) => {
      const { tid, id } = req.params as Json;
      tenantOf(req);
      const app = inTenant(directory.getApplication(id), tid, 'Application', id);
      const b = parse(appInput.partial().omit({ appId: true }).strict(), req.body);
      return publicApp(directory.upsertApplication({ ...app, ...stripUndefined(b) }));
    });
    admin.delete('/tenants/:tid/applications/:id', async (req, reply) => {
      const { tid, id } = req.params as Json;
      tenantOf(req);
      inTenant(directory.getApplication(id), tid, 'Application', id);
      directory.deleteApplication(id);
      return reply.status(204).send();
    });
    admin.post('/tenants/:tid/applications/:id/secrets', async (req, reply) => {
      const { tid, id } = req.params as Json;
      tenantOf(req);
      inTenant(directory.getApplication(id), tid, 'Application', id);
      reply.status(201);
      return directory.addSecret(id);
    });
    admin.delete('/tenants/:tid/applications/:id/secrets/:sid', async (req, reply) => {
      const { tid, id, sid } = req.params as Json;
      tenantOf(req);
      const app = inTenant(directory.getApplication(id), tid, 'Application', id);
      const before = app.secrets.length;
      const remaining = app.secrets.filter((s) => s.id !== sid);
      if (remaining.length === before) throw new GraphError(404, 'NotFound', `Secret ${sid} does not exist.`);
      directory.upsertApplication({ ...app, secrets: remaining });
      return reply.status(204).send();
    });

    // ---- application instances, users, meetings: the same five routes each
    crud(admin, 'applicationInstances', applicationInstanceSchema, {
      list: (tid) => directory.listApplicationInstances(tid),
      get: (id) => directory.getApplicationInstance(id),
      put: (tid, v) => directory.upsertApplicationInstance({ tenantId: tid, ...v }),
      remove: (id) => directory.deleteApplicationInstance(id),
    });
    crud(admin, 'users', userSchema, {
      list: (tid) => directory.listUsers(tid),
      get: (id) => directory.getUser(id),
      put: (tid, v) => directory.upsertUser({ tenantId: tid, ...v }),
      remove: (id) => directory.deleteUser(id),
    });
    crud(admin, 'meetings', meetingSchema, {
      list: (tid) => directory.listMeetings(tid),
      get: (id) => directory.getMeeting(id),
      put: (tid, v) => directory.upsertMeeting({ tenantId: tid, ...v }),
      remove: (id) => directory.deleteMeeting(id),
    });

    function crud<S extends z.AnyZodObject>(
      scope: FastifyInstance,
      name: string,
      schema: S,
      ops: { list(tid: string): { tenantId: string }[]; get(id: string): { tenantId: string } | undefined; put(tid: string, v: any): unknown; remove(id: string): void },
    ): void {
      const create = schema.extend({ id: z.string().min(1).optional() });
      scope.get(`/tenants/:tid/${name}`, async (req) => ({ value: ops.list(tenantOf(req).id) }));
      scope.post(`/tenants/:tid/${name}`, async (req, reply) => {
        const t = tenantOf(req);
        const b = parse(create, req.body);
        const id = (b.id as string | undefined) ?? randomUUID();
        if (ops.get(id)) throw new GraphError(409, 'Conflict', `${name} entry ${id} already exists.`);
        reply.status(201);
        return ops.put(t.id, { ...b, id });
      });
      scope.get(`/tenants/:tid/${name}/:id`, async (req) => {
        const { tid, id } = req.params as Json;
        tenantOf(req);
        return inTenant(ops.get(id), tid, name, id);
      });
      scope.patch(`/tenants/:tid/${name}/:id`, async (req) => {
        const { tid, id } = req.params as Json;
        tenantOf(req);
        const { tenantId: _t, ...current } = inTenant(ops.get(id), tid, name, id) as Json;
        const b = parse(schema.partial().omit({ id: true } as any).strict(), req.body);
        return ops.put(tid, parse(schema, { ...current, ...stripUndefined(b), id }));
      });
      scope.delete(`/tenants/:tid/${name}/:id`, async (req, reply) => {
        const { tid, id } = req.params as Json;
        tenantOf(req);
        inTenant(ops.get(id), tid, name, id);
        ops.remove(id);
        return reply.status(204).send();
      });
    }

    // ---- ACS resources: keys (connection strings) and Event Grid subscriptions
    const acs = o.acs;
    if (acs) {
      const connectionString = (key: string) => formatConnectionString(acs.publicUrl(), key);
      const resourceOf = (req: FastifyRequest) => {
        const { tid, rid } = req.params as Json;
        tenantOf(req);
        return inTenant(directory.getAcsResource(rid), tid, 'ACS resource', rid);
      };
      const withKeys = (r: AcsResource) => ({
        ...publicAcs(r),
        keys: r.keys.map((k) => ({ id: k.id, key: k.key, createdAt: k.createdAt, connectionString: connectionString(k.key) })),
      });
      const resourceInput = acsResourceSchema.omit({ keys: true, eventGridSubscriptions: true }).extend({ id: acsResourceSchema.shape.id.optional() });

      admin.get('/tenants/:tid/acsResources', async (req) => ({ value: directory.listAcsResources(tenantOf(req).id).map(publicAcs) }));
      admin.post('/tenants/:tid/acsResources', async (req, reply) => {
        const t = tenantOf(req);
        const b = parse(resourceInput, req.body);
        const id = b.id ?? randomUUID();
        if (directory.getAcsResource(id)) throw new GraphError(409, 'Conflict', `ACS resource ${id} already exists.`);
        const created = directory.upsertAcsResource({ tenantId: t.id, id, displayName: b.displayName, phoneNumbers: b.phoneNumbers, keys: [acsKeyEntry(newAccessKey()), acsKeyEntry(newAccessKey())] });
        reply.status(201);
        // The only answer that carries the keys unasked (GET …/keys lists them again, like Azure's listKeys).
        return withKeys(created);
      });
      admin.get('/tenants/:tid/acsResources/:rid', async (req) => {
        const r = resourceOf(req);
        return { ...publicAcs(r), eventGridSubscriptions: directory.listEventGridSubscriptions(r.id).map((s) => publicSubscription(s, acs.eventGrid)) };
      });
      admin.patch('/tenants/:tid/acsResources/:rid', async (req) => {
        const r = resourceOf(req);
        const b = parse(resourceInput.omit({ id: true }).partial().strict(), req.body);
        return publicAcs(directory.upsertAcsResource({ ...r, ...stripUndefined(b) }));
      });
      admin.delete('/tenants/:tid/acsResources/:rid', async (req, reply) => {
        directory.deleteAcsResource(resourceOf(req).id);
        return reply.status(204).send();
      });
      admin.get('/tenants/:tid/acsResources/:rid/keys', async (req) => ({ value: withKeys(resourceOf(req)).keys }));
      admin.post('/tenants/:tid/acsResources/:rid/keys', async (req, reply) => {
        const r = resourceOf(req);
        const b = parse(z.object({ key: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64').min(4).optional() }).strict(), req.body);
        const entry = acsKeyEntry(b.key ?? newAccessKey());
        if (r.keys.some((k) => k.id === entry.id)) throw new GraphError(409, 'Conflict', 'The resource already has this key.');
        directory.upsertAcsResource({ ...r, keys: [...r.keys, entry] });
        reply.status(201);
        return { id: entry.id, key: entry.key, createdAt: entry.createdAt, connectionString: connectionString(entry.key) };
      });
      admin.delete('/tenants/:tid/acsResources/:rid/keys/:kid', async (req, reply) => {
        const r = resourceOf(req);
        const { kid } = req.params as Json;
        const remaining = r.keys.filter((k) => k.id !== kid);
        if (remaining.length === r.keys.length) throw new GraphError(404, 'NotFound', `Key ${kid} does not exist.`);
        directory.upsertAcsResource({ ...r, keys: remaining });
        return reply.status(204).send();
      });

      const subscriptionOf = (req: FastifyRequest) => {
        const r = resourceOf(req);
        const { name } = req.params as Json;
        const s = directory.getEventGridSubscription(r.id, name);
        if (!s) throw new GraphError(404, 'NotFound', `Event subscription ${name} does not exist on ACS resource ${r.id}.`);
        return s;
      };
      admin.get('/tenants/:tid/acsResources/:rid/eventSubscriptions', async (req) => ({
        value: directory.listEventGridSubscriptions(resourceOf(req).id).map((s) => publicSubscription(s, acs.eventGrid)),
      }));
      // Creating (or replacing) a subscription runs the validation handshake before answering, as Event Grid does.
      admin.post('/tenants/:tid/acsResources/:rid/eventSubscriptions', async (req, reply) => {
        const r = resourceOf(req);
        const b = parse(eventGridSubscriptionSchema, req.body);
        const existed = directory.getEventGridSubscription(r.id, b.name) !== undefined;
        const sub = directory.upsertEventGridSubscription(directory.newEventGridSubscription(r.tenantId, r.id, b));
        const validated = sub.validation.state === 'validated' ? sub : await acs.eventGrid.validate(sub);
        reply.status(existed ? 200 : 201);
        return publicSubscription(validated, acs.eventGrid);
      });
      admin.get('/tenants/:tid/acsResources/:rid/eventSubscriptions/:name', async (req) => publicSubscription(subscriptionOf(req), acs.eventGrid));
      admin.post('/tenants/:tid/acsResources/:rid/eventSubscriptions/:name/validate', async (req) => {
        const s = subscriptionOf(req);
        const reset = directory.upsertEventGridSubscription({ ...s, validation: { ...s.validation, state: 'pending', lastError: null } });
        return publicSubscription(await acs.eventGrid.validate(reset), acs.eventGrid);
      });
      admin.delete('/tenants/:tid/acsResources/:rid/eventSubscriptions/:name', async (req, reply) => {
        directory.deleteEventGridSubscription(subscriptionOf(req).id);
        return reply.status(204).send();
      });
    }

    // ---- calls and lobbies
    admin.get('/media', async () => o.mediaStats());
    admin.get('/calls', async () => ({
      value: calls.activeCalls().map((c) => ({
        serverCallId: c.id,
        tenantId: c.tenantId,
        kind: c.kind,
        meetingId: c.meeting?.id ?? null,
        createdAt: c.createdAt.toISOString(),
        participants: c.active().map((p) => ({ ...renderParticipant(p), state: p.state, legId: p.endpoint.kind === 'app' ? p.endpoint.leg.id : null })),
      })),
    }));
    admin.post('/participants/:pid/admit', async (req) => renderParticipant(calls.admit((req.params as Json).pid)));
    admin.post('/participants/:pid/deny', async (req) => renderParticipant(calls.deny((req.params as Json).pid)));

    // ---- notifications
    admin.get('/notifications', async (req) => {
      const q = req.query as Json;
      const limit = q.limit !== undefined ? Number(q.limit) : 100;
      if (!Number.isInteger(limit) || limit < 1) throw GraphError.invalidField('limit', 'must be a positive integer.');
      if (q.status && !['pending', 'delivered', 'failed'].includes(q.status)) throw GraphError.invalidField('status', "must be 'pending', 'delivered' or 'failed'.");
      return { value: outbox.list({ callId: q.callId, tenantId: q.tenantId, status: q.status, limit, after: q.after ? Number(q.after) : undefined }) };
    });
    admin.get('/notifications/:id', async (req) => {
      const rec = outbox.get((req.params as Json).id);
      if (!rec) throw new GraphError(404, 'NotFound', `Notification ${(req.params as Json).id} does not exist (or was pruned).`);
      return rec;
    });
  }, { prefix: '/admin' });
}

function publicApp(a: { secrets: { id: string; hint: string; createdAt: string }[] } & Json) {
  return { ...a, secrets: a.secrets.map((s) => ({ id: s.id, hint: `${s.hint}…`, createdAt: s.createdAt })) };
}

/** An ACS resource without its keys (GET …/keys shows them): key ids and hints only. */
function publicAcs(r: AcsResource) {
  return { ...r, keys: r.keys.map((k) => ({ id: k.id, hint: `${k.key.slice(0, 4)}…`, createdAt: k.createdAt })) };
}

function publicSubscription(s: import('../../directory/DirectoryTypes.ts').EventGridSubscription, eventGrid: EventGridPublisher) {
  const { code: _code, ...validation } = s.validation;
  return { ...s, validation: { ...validation, validationUrl: s.validation.state === 'validated' ? null : eventGrid.validationUrl(s) } };
}

function stripUndefined<T extends Json>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
