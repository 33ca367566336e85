// CommunicationIdentifierModel parsing, rendering and the mapping to the domain Identity; checked
// against what the official SDK sends (createGroupCall, getParticipant) and what it can read back
// (listParticipants, createCall's targets).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CallAutomationClient } from '@azure/communication-call-automation';
import type { Identity } from '../../src/calls/CallTypes.ts';
import { AcsError } from '../../src/api/acs/AcsError.ts';
import {
  acsToIdentity,
  identifierFromRawId,
  identityToAcs,
  parseAcsIdentifier,
  parseAcsIdentity,
  renderAcsIdentifier,
  renderIdentity,
  type AcsIdentityContext,
} from '../../src/api/acs/AcsIdentifiers.ts';
import { formatConnectionString } from '../../src/identity/AcsHmac.ts';
import { FakeAcsServer } from './fakeAcsServer.ts';

const RES = 'b5f5-telegraph-res';
const ctx: AcsIdentityContext = { resourceId: RES, isApplicationInstance: (id) => id.startsWith('inst-') };

function user(id: string): Identity { return { kind: 'user', id, displayName: null }; }

function rejects400(fn: () => unknown, target: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AcsError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.target, target, err.message);
    assert.match(err.message, message);
    return true;
  });
}

// ---- parsing, every kind

test('parse: every kind with its sub-object, with and without kind', () => {
  const cases: [unknown, Identity][] = [
    [{ kind: 'communicationUser', rawId: `8:acs:${RES}_alice`, communicationUser: { id: `8:acs:${RES}_alice` } }, user('alice')],
    [{ communicationUser: { id: `8:acs:${RES}_bob` } }, user('bob')],
    [{ kind: 'phoneNumber', rawId: '4:+15551234567', phoneNumber: { value: '+15551234567' } }, { kind: 'phone', id: '+15551234567', displayName: null }],
    [{ phoneNumber: { value: '+4930123456', isAnonymous: false } }, { kind: 'phone', id: '+4930123456', displayName: null }],
    [{ phoneNumber: { value: 'anonymous', isAnonymous: true } }, { kind: 'phone', id: 'anonymous', displayName: null }],
    [{ kind: 'microsoftTeamsUser', microsoftTeamsUser: { userId: 'carol', isAnonymous: false, cloud: 'public' } }, user('carol')],
    [{ microsoftTeamsUser: { userId: 'g1', isAnonymous: true } }, { kind: 'guest', id: 'g1', displayName: null }],
    [{ kind: 'microsoftTeamsApp', microsoftTeamsApp: { appId: 'app-1', cloud: 'public' } }, { kind: 'application', id: 'app-1', displayName: null }],
    [{ microsoftTeamsApp: { appId: 'inst-7' } }, { kind: 'applicationInstance', id: 'inst-7', displayName: null }],
  ];
  for (const [wire, identity] of cases) assert.deepEqual(parseAcsIdentity(wire, 'target', ctx), identity, JSON.stringify(wire));
});

test('parse: without kind or sub-object the kind is inferred from the rawId prefix', () => {
  const cases: [string, unknown][] = [
    [`8:acs:${RES}_alice`, { kind: 'communicationUser', rawId: `8:acs:${RES}_alice`, id: `8:acs:${RES}_alice` }],
    ['8:spool:abc', { kind: 'communicationUser', rawId: '8:spool:abc', id: '8:spool:abc' }],
    ['8:acs:r_t_u', { kind: 'teamsExtensionUser', rawId: '8:acs:r_t_u', resourceId: 'r', tenantId: 't', userId: 'u', cloud: 'public' }],
    ['8:gcch-acs:r_t_u', { kind: 'teamsExtensionUser', rawId: '8:gcch-acs:r_t_u', resourceId: 'r', tenantId: 't', userId: 'u', cloud: 'gcch' }],
    ['4:+15551234567', { kind: 'phoneNumber', rawId: '4:+15551234567', value: '+15551234567', isAnonymous: false }],
    ['4:+15551234567_asserted', { kind: 'phoneNumber', rawId: '4:+15551234567_asserted', value: '+15551234567', isAnonymous: false, assertedId: 'asserted' }],
    ['4:anonymous', { kind: 'phoneNumber', rawId: '4:anonymous', value: 'anonymous', isAnonymous: true }],
    ['8:orgid:aad-1', { kind: 'microsoftTeamsUser', rawId: '8:orgid:aad-1', userId: 'aad-1', isAnonymous: false, cloud: 'public' }],
    ['8:dod:aad-2', { kind: 'microsoftTeamsUser', rawId: '8:dod:aad-2', userId: 'aad-2', isAnonymous: false, cloud: 'dod' }],
    ['8:gcch:aad-3', { kind: 'microsoftTeamsUser', rawId: '8:gcch:aad-3', userId: 'aad-3', isAnonymous: false, cloud: 'gcch' }],
    ['8:teamsvisitor:v1', { kind: 'microsoftTeamsUser', rawId: '8:teamsvisitor:v1', userId: 'v1', isAnonymous: true, cloud: 'public' }],
    ['28:orgid:app-1', { kind: 'microsoftTeamsApp', rawId: '28:orgid:app-1', appId: 'app-1', cloud: 'public' }],
    ['28:dod:app-2', { kind: 'microsoftTeamsApp', rawId: '28:dod:app-2', appId: 'app-2', cloud: 'dod' }],
    ['28:gcch:app-3', { kind: 'microsoftTeamsApp', rawId: '28:gcch:app-3', appId: 'app-3', cloud: 'gcch' }],
    ['99:whatever', { kind: 'unknown', rawId: '99:whatever' }],
  ];
  for (const [rawId, parsed] of cases) {
    assert.deepEqual(parseAcsIdentifier({ rawId }, 't'), parsed, rawId);
    assert.deepEqual(parseAcsIdentifier({ kind: 'unknown', rawId }, 't'), parsed, `unknown ${rawId}`);
    assert.deepEqual(identifierFromRawId(rawId), parsed, rawId);
  }
});

test('parse: the received rawId is kept and echoed; the canonical one is computed when absent', () => {
  const a = parseAcsIdentifier({ phoneNumber: { value: '+15551234567' }, rawId: '4:+15551234567_x' }, 't');
  assert.equal(renderAcsIdentifier(a).rawId, '4:+15551234567_x');
  const b = parseAcsIdentifier({ microsoftTeamsUser: { userId: 'u', cloud: 'dod' } }, 't');
  assert.equal(b.rawId, '8:dod:u');
  assert.equal(parseAcsIdentifier({ microsoftTeamsApp: { appId: 'a', cloud: 'GCCH' } }, 't').rawId, '28:gcch:a');
  assert.equal(parseAcsIdentifier({ kind: 'PHONENUMBER', phoneNumber: { value: '+15551234567' } }, 't').kind, 'phoneNumber');
});

test('parse: malformed identifiers are 400s naming the field', () => {
  rejects400(() => parseAcsIdentifier('8:acs:x', 'targets[0]'), 'targets[0]', /must be a CommunicationIdentifierModel object/);
  rejects400(() => parseAcsIdentifier({}, 'targets[0]'), 'targets[0]', /needs one of communicationUser, phoneNumber/);
  rejects400(() => parseAcsIdentifier({ kind: 'robot', rawId: 'x' }, 'targets[0]'), 'targets[0].kind', /'robot' is not one of/);
  rejects400(() => parseAcsIdentifier({ kind: 'phoneNumber', rawId: '4:+15551234567' }, 'targets[0]'), 'targets[0].phoneNumber', /is required when kind is 'phoneNumber'/);
  rejects400(() => parseAcsIdentifier({ kind: 'phoneNumber', communicationUser: { id: '8:acs:x' } }, 'targets[0]'), 'targets[0].kind', /is 'phoneNumber' but the identifier carries communicationUser/);
  rejects400(() => parseAcsIdentifier({ communicationUser: { id: '8:acs:x' }, phoneNumber: { value: '+15551234567' } }, 'targets[1]'), 'targets[1]', /has both communicationUser and phoneNumber/);
  rejects400(() => parseAcsIdentifier({ communicationUser: {} }, 'source'), 'source.communicationUser.id', /is required/);
  rejects400(() => parseAcsIdentifier({ communicationUser: { id: 5 } }, 'source'), 'source.communicationUser.id', /non-empty string/);
  rejects400(() => parseAcsIdentifier({ communicationUser: 'x' }, 'source'), 'source.communicationUser', /must be an object/);
  rejects400(() => parseAcsIdentifier({ phoneNumber: { value: '555-1234' } }, 'targets[0]'), 'targets[0].phoneNumber.value', /'555-1234' is not an E.164 phone number/);
  rejects400(() => parseAcsIdentifier({ phoneNumber: { value: '+15551234567', isAnonymous: 'no' } }, 'p'), 'p.phoneNumber.isAnonymous', /true or false/);
  rejects400(() => parseAcsIdentifier({ phoneNumber: { value: '+15551234567', assertedId: 3 } }, 'p'), 'p.phoneNumber.assertedId', /must be a string/);
  rejects400(() => parseAcsIdentifier({ microsoftTeamsUser: { userId: 'u', cloud: 'mars' } }, 'p'), 'p.microsoftTeamsUser.cloud', /must be one of public, dod, gcch/);
  rejects400(() => parseAcsIdentifier({ microsoftTeamsApp: {} }, 'p'), 'p.microsoftTeamsApp.appId', /is required/);
  rejects400(() => parseAcsIdentifier({ teamsExtensionUser: { userId: 'u', tenantId: 't' } }, 'p'), 'p.teamsExtensionUser.resourceId', /is required/);
  rejects400(() => parseAcsIdentifier({ rawId: '' }, 'p'), 'p.rawId', /non-empty string/);
  rejects400(() => parseAcsIdentifier({ rawId: '4:12' }, 'p'), 'p.rawId', /not an E.164/);
  rejects400(() => parseAcsIdentifier({ rawId: '8:orgid:' }, 'p'), 'p.rawId', /nothing after its '8:orgid:' prefix/);
});

test('domain mapping: identifiers Telegraph cannot map are 400s naming the field', () => {
  rejects400(() => parseAcsIdentity({ communicationUser: { id: '8:acs:other-res_alice' } }, 'targets[0]', ctx), 'targets[0].communicationUser.id', new RegExp(`not a user of this Communication Services resource \\(expected 8:acs:${RES}_<userId>\\)`));
  rejects400(() => parseAcsIdentity({ communicationUser: { id: `8:acs:${RES}_` } }, 'targets[0]', ctx), 'targets[0].communicationUser.id', /not a user of this/);
  rejects400(() => parseAcsIdentity({ rawId: '8:spool:x' }, 'targets[0]', ctx), 'targets[0].communicationUser.id', /not a user of this/);
  rejects400(() => parseAcsIdentity({ rawId: '8:acs:r_t_u' }, 'targets[0]', ctx), 'targets[0].teamsExtensionUser', /not supported/);
  // A directory user whose id has a '_' looks like an extension user when given by rawId alone.
  assert.deepEqual(parseAcsIdentity({ rawId: `8:acs:${RES}_alice_smith` }, 'p', ctx), user('alice_smith'));
  assert.deepEqual(parseAcsIdentity({ communicationUser: { id: `8:acs:${RES}_alice_smith` } }, 'p', ctx), user('alice_smith'));
  assert.deepEqual(parseAcsIdentity({ rawId: `8:acs:${RES}_a_b_c` }, 'p', ctx), user('a_b_c'));
  rejects400(() => parseAcsIdentity({ rawId: 'x:y' }, 'targets[0]', ctx), 'targets[0].rawId', /'x:y' is not an identifier Telegraph recognises/);
  assert.throws(() => acsToIdentity({ kind: 'unknown', rawId: 'x' }, { resourceId: 'bad_res' }, 'f'), /resourceId 'bad_res'/);
});

test('domain mapping: rendering every domain kind, and the round trip', () => {
  const cases: [Identity, unknown][] = [
    [user('alice'), { kind: 'communicationUser', rawId: `8:acs:${RES}_alice`, communicationUser: { id: `8:acs:${RES}_alice` } }],
    [{ kind: 'phone', id: '+15551234567', displayName: null }, { kind: 'phoneNumber', rawId: '4:+15551234567', phoneNumber: { value: '+15551234567', isAnonymous: false } }],
    [{ kind: 'phone', id: 'anonymous', displayName: null }, { kind: 'phoneNumber', rawId: '4:anonymous', phoneNumber: { value: 'anonymous', isAnonymous: true } }],
    [{ kind: 'guest', id: 'g1', displayName: 'Guest' }, { kind: 'microsoftTeamsUser', rawId: '8:teamsvisitor:g1', microsoftTeamsUser: { userId: 'g1', isAnonymous: true, cloud: 'public' } }],
    [{ kind: 'application', id: 'app-1', displayName: 'Bot' }, { kind: 'microsoftTeamsApp', rawId: '28:orgid:app-1', microsoftTeamsApp: { appId: 'app-1', cloud: 'public' } }],
    [{ kind: 'applicationInstance', id: 'inst-7', displayName: 'IVR' }, { kind: 'microsoftTeamsApp', rawId: '28:orgid:inst-7', microsoftTeamsApp: { appId: 'inst-7', cloud: 'public' } }],
  ];
  for (const [identity, wire] of cases) {
    const rendered = renderIdentity(identity, ctx);
    assert.deepEqual(rendered, wire);
    // Round trip (display names are not carried by ACS identifiers).
    assert.deepEqual(parseAcsIdentity(JSON.parse(JSON.stringify(rendered)), 'x', ctx), { ...identity, displayName: null });
  }
  // Teams style for users, and a sovereign cloud.
  assert.deepEqual(renderIdentity(user('carol'), { resourceId: RES, userStyle: 'microsoftTeamsUser', cloud: 'gcch' }), {
    kind: 'microsoftTeamsUser', rawId: '8:gcch:carol', microsoftTeamsUser: { userId: 'carol', isAnonymous: false, cloud: 'gcch' },
  });
  assert.equal(identityToAcs({ kind: 'application', id: 'a', displayName: null }, { resourceId: RES, cloud: 'dod' }).rawId, '28:dod:a');
  assert.deepEqual(renderAcsIdentifier({ kind: 'unknown', rawId: '99:x' }), { kind: 'unknown', rawId: '99:x' });
});

// ---- against the SDK

const key = randomBytes(32);
let server: FakeAcsServer;
let sdk: CallAutomationClient;
const seenTargets: Identity[][] = [];

before(async () => {
  server = await FakeAcsServer.start([key]);
  sdk = new CallAutomationClient(formatConnectionString(`http://127.0.0.1:${server.port}`, key), { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
});
after(async () => {
  await server.stop();
});
beforeEach(() => {
  seenTargets.length = 0;
  server.routes = [
    (req) => {
      const path = req.rawPath.split('?')[0]!;
      if (req.method === 'POST' && path === '/calling/callConnections') {
        const body = JSON.parse(req.body.toString());
        try {
          const targets = (body.targets as unknown[]).map((t, i) => parseAcsIdentity(t, `targets[${i}]`, ctx));
          seenTargets.push(targets);
          return { status: 201, json: { callConnectionId: 'cc1', callConnectionState: 'connecting', targets: targets.map((t) => renderIdentity(t, ctx)) } };
        } catch (err) {
          if (err instanceof AcsError) return { status: err.status, json: err.toBody() };
          throw err;
        }
      }
      if (req.method === 'GET' && path === '/calling/callConnections/cc1/participants') {
        return { status: 200, json: { value: PARTICIPANTS.map((p) => ({ identifier: renderIdentity(p, ctx), isMuted: false, isOnHold: false })) } };
      }
      const m = /^\/calling\/callConnections\/cc1\/participants\/([^/]+)$/.exec(path);
      if (req.method === 'GET' && m) {
        const identity = acsToIdentity(identifierFromRawId(decodeURIComponent(m[1]!)), ctx, 'participantRawId');
        return { status: 200, json: { identifier: renderIdentity(identity, ctx), isMuted: true, isOnHold: false } };
      }
      return undefined;
    },
  ];
});

const PARTICIPANTS: Identity[] = [
  user('alice'),
  { kind: 'phone', id: '+15551234567', displayName: null },
  { kind: 'guest', id: 'g1', displayName: null },
  { kind: 'application', id: 'app-1', displayName: null },
];

test('SDK: the identifiers the SDK serialises (with kind) parse to the right identities', async () => {
  const res = await sdk.createGroupCall(
    [
      { communicationUserId: `8:acs:${RES}_alice` },
      { phoneNumber: '+15551234567' },
      { microsoftTeamsUserId: 'carol' },
      { microsoftTeamsUserId: 'g1', isAnonymous: true },
      { teamsAppId: 'app-1' },
      { teamsAppId: 'inst-7', cloud: 'public' },
    ],
    'https://app.example/callbacks',
    { sourceCallIdNumber: { phoneNumber: '+15550000000' } },
  );
  assert.deepEqual(seenTargets[0], [
    user('alice'),
    { kind: 'phone', id: '+15551234567', displayName: null },
    user('carol'),
    { kind: 'guest', id: 'g1', displayName: null },
    { kind: 'application', id: 'app-1', displayName: null },
    { kind: 'applicationInstance', id: 'inst-7', displayName: null },
  ]);
  // The SDK reads the rendered targets back.
  assert.deepEqual(res.callConnectionProperties.targetParticipants, [
    { communicationUserId: `8:acs:${RES}_alice` },
    { phoneNumber: '+15551234567', rawId: '4:+15551234567' },
    { communicationUserId: `8:acs:${RES}_carol` },
    { rawId: '8:teamsvisitor:g1', microsoftTeamsUserId: 'g1', isAnonymous: true, cloud: 'public' },
    { rawId: '28:orgid:app-1', teamsAppId: 'app-1', cloud: 'public' },
    { rawId: '28:orgid:inst-7', teamsAppId: 'inst-7', cloud: 'public' },
  ]);
});

test('SDK: an identifier Telegraph refuses comes back to the SDK as a 400 with the field', async () => {
  await assert.rejects(sdk.createCall({ targetParticipant: { communicationUserId: '8:acs:elsewhere_bob' } }, 'https://app.example/cb'), (err: any) => {
    assert.equal(err.statusCode, 400);
    assert.match(err.message, /Invalid value for 'targets\[0\]\.communicationUser\.id': '8:acs:elsewhere_bob' is not a user of this/);
    return true;
  });
});

test('SDK: rendered participants of every kind are read back by the SDK', async () => {
  const list = await sdk.getCallConnection('cc1').listParticipants();
  assert.deepEqual(list.values?.map((p) => p.identifier), [
    { communicationUserId: `8:acs:${RES}_alice` },
    { phoneNumber: '+15551234567', rawId: '4:+15551234567' },
    { rawId: '8:teamsvisitor:g1', microsoftTeamsUserId: 'g1', isAnonymous: true, cloud: 'public' },
    { rawId: '28:orgid:app-1', teamsAppId: 'app-1', cloud: 'public' },
  ]);
});

test('SDK: getParticipant addresses a participant by its encoded rawId', async () => {
  const p = await sdk.getCallConnection('cc1').getParticipant({ communicationUserId: `8:acs:${RES}_alice` });
  assert.match(server.last.rawPath, new RegExp(`/participants/8%3Aacs%3A${RES}_alice\\?`));
  assert.deepEqual(p.identifier, { communicationUserId: `8:acs:${RES}_alice` });
  assert.equal(p.isMuted, true);
  const q = await sdk.getCallConnection('cc1').getParticipant({ phoneNumber: '+15551234567' });
  assert.match(server.last.rawPath, /\/participants\/4%3A%2B15551234567\?/);
  assert.deepEqual(q.identifier, { phoneNumber: '+15551234567', rawId: '4:+15551234567' });
  const r = await sdk.getCallConnection('cc1').getParticipant({ communicationUserId: `8:acs:${RES}_alice_smith` });
  assert.deepEqual(r.identifier, { communicationUserId: `8:acs:${RES}_alice_smith` });
});
