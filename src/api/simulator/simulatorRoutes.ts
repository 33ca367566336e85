// The simulator API: drive virtual users (place, answer, reject, DTMF, hang up) and read what they saw.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { toneFromKey, type Tone, TONES } from '../../calls/CallTypes.ts';
import type { Directory } from '../../directory/Directory.ts';
import { SimulatorError, type VirtualEndpoints } from '../../endpoints/virtual/VirtualEndpoints.ts';
import { GraphError } from '../graph/GraphError.ts';
import { checkAdminKey } from '../admin/adminRoutes.ts';
import { scriptStep } from '../../config/ConfigSchema.ts';

type Json = Record<string, any>;

const placeBody = z
  .object({
    phone: z.string().regex(/^\+[1-9][0-9]{3,15}$/, 'must be an E.164 number such as +14255550100').optional(),
    application: z.string().min(1).optional(),
    applicationInstance: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    meeting: z
      .object({ id: z.string().optional(), joinMeetingId: z.string().optional(), passcode: z.string().optional(), threadId: z.string().optional() })
      .strict()
      .optional(),
  })
  .strict()
  .refine((b) => [b.phone, b.application, b.applicationInstance, b.user, b.meeting].filter((x) => x !== undefined).length === 1, {
    message: 'name exactly one of phone, application, applicationInstance, user, meeting',
  });

export function registerSimulatorRoutes(http: FastifyInstance, o: { directory: Directory; virtual: VirtualEndpoints; adminKey: string }): void {
  const { directory, virtual } = o;

  http.register(async (sim) => {
    sim.addHook('onRequest', async (req) => checkAdminKey(req, o.adminKey));
    sim.setErrorHandler((err, _req, reply) => {
      if (err instanceof SimulatorError) throw new GraphError(err.status, err.status === 404 ? 'NotFound' : err.status === 409 ? 'Conflict' : 'BadRequest', err.message);
      throw err;
    });

    const userOf = (params: unknown) => {
      const { userId } = params as Json;
      const u = directory.getUser(userId);
      if (!u) throw new GraphError(404, 'NotFound', `No user ${userId}.`);
      if (u.endpoint.kind !== 'virtual') throw new GraphError(400, 'BadRequest', `User ${userId} is not a virtual user.`);
      return u;
    };

    sim.get('/users', async () => ({
      value: directory.listTenants().flatMap((t) => directory.listUsers(t.id))
        .filter((u) => u.endpoint.kind === 'virtual')
        .map((u) => ({ ...u, activeCalls: virtual.list(u.id).filter((c) => c.state !== 'ended').length })),
    }));

    sim.post('/users/:userId/calls', async (req, reply) => {
      const u = userOf(req.params);
      const r = placeBody.safeParse(req.body ?? {});
      if (!r.success) {
        const i = r.error.issues[0]!;
        throw GraphError.invalidField(i.path.join('.') || '(body)', i.message);
      }
      const b = r.data;
      let target: Parameters<VirtualEndpoints['place']>[1];
      if (b.meeting) {
        const m = b.meeting.id
          ? directory.getMeeting(b.meeting.id)
          : directory.findMeeting(u.tenantId, { joinMeetingId: b.meeting.joinMeetingId, threadId: b.meeting.threadId });
        if (!m || m.tenantId !== u.tenantId) throw GraphError.invalidField('meeting', 'no such meeting in the user\'s tenant.');
        if (b.meeting.joinMeetingId && m.passcode && b.meeting.passcode !== m.passcode) throw GraphError.invalidField('meeting.passcode', 'does not match.');
        target = { kind: 'meeting', meeting: m };
      } else if (b.phone) target = { kind: 'phone', id: b.phone };
      else if (b.application) target = { kind: 'application', id: b.application };
      else if (b.applicationInstance) target = { kind: 'applicationInstance', id: b.applicationInstance };
      else target = { kind: 'user', id: b.user! };
      if (target.kind === 'user' && target.id === u.id) throw GraphError.invalidField('user', 'a user cannot call itself.');
      if (target.kind === 'application' && !directory.getApplication(target.id)) throw GraphError.invalidField('application', `no application ${target.id}.`);
      if (target.kind === 'applicationInstance' && !directory.getApplicationInstance(target.id)) throw GraphError.invalidField('applicationInstance', `no application instance ${target.id}.`);
      if (target.kind === 'user' && !directory.getUser(target.id)) throw GraphError.invalidField('user', `no user ${target.id}.`);
      reply.status(201);
      return virtual.place(u, target);
    });

    sim.get('/users/:userId/calls', async (req) => ({ value: virtual.list(userOf(req.params).id) }));
    sim.get('/users/:userId/calls/:callId', async (req) => {
      const u = userOf(req.params);
      const x = virtual.get(u.id, (req.params as Json).callId);
      if (!x) throw new GraphError(404, 'NotFound', `User ${u.id} has no call ${(req.params as Json).callId}.`);
      return x.call;
    });
    sim.get('/users/:userId/events', async (req) => {
      const after = Number((req.query as Json).after ?? 0);
      return { value: virtual.events(userOf(req.params).id, Number.isFinite(after) ? after : 0) };
    });

    sim.post('/users/:userId/calls/:callId/answer', async (req) => {
      const u = userOf(req.params);
      virtual.answer(u.id, (req.params as Json).callId);
      return virtual.get(u.id, (req.params as Json).callId)!.call;
    });
    sim.post('/users/:userId/calls/:callId/reject', async (req) => {
      const u = userOf(req.params);
      const b = z.object({ reason: z.enum(['busy', 'declined']).default('declined') }).strict().safeParse(req.body ?? {});
      if (!b.success) throw GraphError.invalidField('reason', "must be 'busy' or 'declined'.");
      virtual.reject(u.id, (req.params as Json).callId, b.data.reason);
      return virtual.get(u.id, (req.params as Json).callId)!.call;
    });
    sim.post('/users/:userId/calls/:callId/hangup', async (req) => {
      const u = userOf(req.params);
      virtual.hangUp(u.id, (req.params as Json).callId);
      return virtual.get(u.id, (req.params as Json).callId)!.call;
    });
    sim.post('/users/:userId/calls/:callId/dtmf', async (req) => {
      const u = userOf(req.params);
      const body = (req.body ?? {}) as Json;
      const tones = parseTones(body.tones);
      const toneMs = body.toneMs ?? 100;
      const gapMs = body.gapMs ?? 100;
      if (!Number.isInteger(toneMs) || toneMs < 20 || toneMs > 2000) throw GraphError.invalidField('toneMs', 'must be an integer between 20 and 2000.');
      if (!Number.isInteger(gapMs) || gapMs < 20 || gapMs > 5000) throw GraphError.invalidField('gapMs', 'must be an integer between 20 and 5000.');
      virtual.pressKeys(u.id, (req.params as Json).callId, tones, toneMs, gapMs);
      return { sent: tones };
    });
    // The user speaks: {"wav": "<base64 WAV>"} or a script step ({"say": path|url}, {"tone": …}, {"noise": …}, {"silenceMs": n}).
    sim.post('/users/:userId/calls/:callId/say', async (req, reply) => {
      const u = userOf(req.params);
      const { callId } = req.params as Json;
      const body = (req.body ?? {}) as Json;
      if (typeof body.wav === 'string') {
        await virtual.sayWav(u.id, callId, new Uint8Array(Buffer.from(body.wav, 'base64')));
        return reply.status(202).send({ queued: 'wav' });
      }
      const r = scriptStep.safeParse(body);
      if (!r.success || 'hangUp' in r.data || 'dtmf' in r.data) {
        throw GraphError.badRequest('Give one of: wav (base64 WAV), say (a WAV path or http(s) URL), tone {frequencyHz, durationMs, dbfs?}, noise {durationMs, dbfs?}, silenceMs. Keys go to /dtmf, hang-ups to /hangup.');
      }
      await virtual.say(u.id, callId, r.data);
      return reply.status(202).send({ queued: Object.keys(r.data)[0] });
    });
    sim.get('/users/:userId/calls/:callId/recording', async (req, reply) => {
      const u = userOf(req.params);
      const wav = virtual.heard(u.id, (req.params as Json).callId);
      return reply.type('audio/wav').send(Buffer.from(wav.buffer, wav.byteOffset, wav.length));
    });
  }, { prefix: '/simulator' });
}

/** Accepts "12#*" or ["tone1", "pound"] (Graph's names) or a mix of keys and names. */
export function parseTones(input: unknown): Tone[] {
  const items: unknown[] = typeof input === 'string' ? [...input] : Array.isArray(input) ? input : [];
  if (items.length === 0) throw GraphError.invalidField('tones', 'give keys as a string ("12#") or a list of tone names (["tone1", "pound"]).');
  return items.map((x, i) => {
    const s = String(x);
    const t = toneFromKey(s) ?? (TONES.includes(s as Tone) && s !== 'flash' ? (s as Tone) : null);
    if (!t) throw GraphError.invalidField(`tones[${i}]`, `'${s}' is not a DTMF key (0-9, *, #, A-D) or tone name.`);
    return t;
  });
}
