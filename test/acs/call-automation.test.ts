// The ACS Call Automation API end to end with the official SDK (@azure/communication-call-automation)
// against a real Telegraph: calls to and from virtual users, media (play, DTMF recognition, sending
// DTMF), participants, hold, transfer, incoming calls through Event Grid (with the validation
// handshake), HMAC failures, bad input, isolation between resources, repeatable requests.
// Every callback event is parsed with the SDK's own parseCallAutomationEvent.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { DtmfTone, type CallAutomationClient, type CallConnection } from '@azure/communication-call-automation';
import { Harness, createTenant, type Json, type TestTenant } from '../helpers/harness.ts';
import {
  AcsEventSink,
  acsClient,
  acsUser,
  createAcsResource,
  keysHeard,
  simCallIn,
  waitSimState,
  type TestAcsResource,
} from '../helpers/acs.ts';
import { sineTone } from '../../src/media/Tones.ts';
import { writeWav } from '../../src/media/audio/Wav.ts';
import { signAcsRequest } from '../../src/identity/AcsHmac.ts';

let h: Harness;
let sink: AcsEventSink;
let prompts: http.Server;
let promptBase = '';
let t: TestTenant;
let acs: TestAcsResource;
let client: CallAutomationClient;

/** user 0, 1: answer at once; 2: rings until told (manual); 3: rejects busy. */
const AUTO0 = 0, AUTO1 = 1, MANUAL = 2, BUSY = 3;

before(async () => {
  h = await Harness.start({ config: { calls: { answerTimeoutMs: 4000 } } });
  sink = await new AcsEventSink().start();
  const wav = Buffer.from(writeWav(sineTone(440, 400, -12), 16000, 1));
  prompts = http.createServer((req, res) => {
    if (req.url?.startsWith('/tone.wav')) {
      res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': wav.length });
      res.end(wav);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => prompts.listen(0, '127.0.0.1', resolve));
  promptBase = `http://127.0.0.1:${(prompts.address() as AddressInfo).port}`;
  t = await createTenant(h, {
    users: [
      { displayName: 'Ada' },
      { displayName: 'Grace' },
      { displayName: 'Manual', behaviour: { answer: 'manual' } },
      { displayName: 'Busy', behaviour: { answer: 'reject', rejectReason: 'busy' } },
    ],
  });
  acs = await createAcsResource(h, t.tenantId);
  client = acsClient(acs.connectionString);
});

after(async () => {
  await h.stop();
  await sink.stop();
  prompts.closeAllConnections?.();
  await new Promise<void>((resolve) => prompts.close(() => resolve()));
});

const user = (i: number) => acsUser(acs.resourceId, t.users[i]!.id);
const toneUrl = () => `${promptBase}/tone.wav`;

/** Calls user `i` and waits until the connection is connected. */
async function connectedCall(i = AUTO0, context = 'setup'): Promise<{ id: string; serverCallId: string; conn: CallConnection; simId: string }> {
  const res = await client.createCall({ targetParticipant: user(i) }, sink.events, { operationContext: context });
  const id = res.callConnectionProperties.callConnectionId!;
  await sink.waitForEvent('CallConnected', id);
  const serverCallId = res.callConnectionProperties.serverCallId!;
  const sim = await simCallIn(h, t.users[i]!.id, serverCallId);
  await waitSimState(h, t.users[i]!.id, sim.id, 'connected');
  return { id, serverCallId, conn: res.callConnection, simId: sim.id };
}

async function rejects(p: Promise<unknown>, status: number, message?: RegExp): Promise<any> {
  let caught: any;
  await assert.rejects(p, (err: any) => {
    caught = err;
    assert.equal(err.statusCode, status, `expected ${status}, got ${err.statusCode}: ${err.message}`);
    if (message) assert.match(err.message, message);
    return true;
  });
  return caught;
}

// ------------------------------------------------------------------------------------------ calls

describe('outgoing calls', () => {
  test('createCall to a virtual user: 201 properties, CallConnected (signed for the resource), ParticipantsUpdated, properties, participants, hangUp', async () => {
    const res = await client.createCall({ targetParticipant: user(AUTO0) }, sink.events, { operationContext: 'first' });
    const p = res.callConnectionProperties;
    assert.ok(p.callConnectionId);
    assert.ok(p.serverCallId);
    assert.ok(p.correlationId);
    assert.equal(p.callbackUrl ?? (p as Json).callbackUri, sink.events);
    assert.equal(p.callConnectionState, 'connecting');
    assert.deepEqual(p.targetParticipants, [user(AUTO0)]);
    const id = p.callConnectionId!;

    const { rec, parsed } = await sink.waitForEvent('CallConnected', id);
    assert.equal(parsed.kind, 'CallConnected');
    assert.equal(parsed.serverCallId, p.serverCallId);
    assert.equal(parsed.correlationId, p.correlationId);
    assert.equal(parsed.operationContext, 'first');
    assert.equal(rec.event.specversion, '1.0');
    assert.equal(rec.event.source, `calling/callConnections/${id}`);
    // The callback is signed like Graph notifications: a JWT from Telegraph, audience the resource id.
    const jwt = String(rec.headers.authorization).replace(/^Bearer /, '');
    const { payload } = await jwtVerify(jwt, createRemoteJWKSet(new URL(`${h.url}/discovery/v2.0/keys`)), { audience: acs.resourceId, issuer: `${h.url}/` });
    assert.equal(payload.aud, acs.resourceId);

    const { parsed: pu } = await sink.waitForEvent('ParticipantsUpdated', id);
    assert.equal(pu.sequenceNumber, 1);
    assert.deepEqual(pu.participants.map((x: Json) => x.identifier), [user(AUTO0)]);

    const props = await res.callConnection.getCallConnectionProperties();
    assert.equal(props.callConnectionState, 'connected');
    assert.equal(props.serverCallId, p.serverCallId);
    const list = await res.callConnection.listParticipants();
    assert.deepEqual(list.values!.map((x) => x.identifier), [user(AUTO0)]);
    assert.equal(list.values![0]!.isMuted, false);
    const one = await res.callConnection.getParticipant(user(AUTO0));
    assert.deepEqual(one.identifier, user(AUTO0));
    await rejects(res.callConnection.getParticipant(user(AUTO1)), 404);

    const sim = await simCallIn(h, t.users[AUTO0]!.id, p.serverCallId!);
    await res.callConnection.hangUp(false);
    const { parsed: d } = await sink.waitForEvent('CallDisconnected', id);
    assert.equal(d.kind, 'CallDisconnected');
    await waitSimState(h, t.users[AUTO0]!.id, sim.id, 'ended');
    assert.deepEqual(sink.typesFor(id), ['CallConnected', 'ParticipantsUpdated', 'CallDisconnected']);
    await rejects(res.callConnection.getCallConnectionProperties(), 404);
  });

  test('a target that declines: CreateCallFailed with the reason, then CallDisconnected', async () => {
    const res = await client.createCall({ targetParticipant: user(BUSY) }, sink.events);
    const id = res.callConnectionProperties.callConnectionId!;
    const { parsed } = await sink.waitForEvent('CreateCallFailed', id);
    assert.equal(parsed.resultInformation.code, 486);
    await sink.waitForEvent('CallDisconnected', id);
  });

  test('createGroupCall: connected at once, participants as they answer; terminate ends it for everyone', async () => {
    const res = await client.createGroupCall([user(AUTO0), user(AUTO1)], sink.events, { operationContext: 'group' });
    const id = res.callConnectionProperties.callConnectionId!;
    const scid = res.callConnectionProperties.serverCallId!;
    await sink.waitForEvent('CallConnected', id);
    await sink.waitForEvent('ParticipantsUpdated', id, 8000, (e) => e.data.participants.length === 2);
    const a = await simCallIn(h, t.users[AUTO0]!.id, scid);
    const b = await simCallIn(h, t.users[AUTO1]!.id, scid);
    await res.callConnection.hangUp(true);
    await sink.waitForEvent('CallDisconnected', id);
    await waitSimState(h, t.users[AUTO0]!.id, a.id, 'ended');
    await waitSimState(h, t.users[AUTO1]!.id, b.id, 'ended');
  });

  test('hangUp in a group call: the application leaves, the others stay', async () => {
    const res = await client.createGroupCall([user(AUTO0), user(AUTO1)], sink.events);
    const id = res.callConnectionProperties.callConnectionId!;
    const scid = res.callConnectionProperties.serverCallId!;
    await sink.waitForEvent('ParticipantsUpdated', id, 8000, (e) => e.data.participants.length === 2);
    await res.callConnection.hangUp(false);
    await sink.waitForEvent('CallDisconnected', id);
    const a = await simCallIn(h, t.users[AUTO0]!.id, scid);
    assert.equal(a.state, 'connected');
    await h.sim('POST', `/users/${t.users[AUTO0]!.id}/calls/${a.id}/hangup`);
  });
});

// ------------------------------------------------------------------------------------------ media

describe('media', () => {
  test('playToAll a file: PlayStarted then PlayCompleted (200/0); the user hears it', async () => {
    const c = await connectedCall();
    await c.conn.getCallMedia().playToAll([{ kind: 'fileSource', url: toneUrl() }], { operationContext: 'p1' });
    const { parsed: started } = await sink.waitForEvent('PlayStarted', c.id);
    assert.equal(started.operationContext, 'p1');
    const { parsed } = await sink.waitForEvent('PlayCompleted', c.id);
    assert.equal(parsed.operationContext, 'p1');
    assert.deepEqual([parsed.resultInformation.code, parsed.resultInformation.subCode], [200, 0]);
    // What the user heard has the tone in it.
    const wav = await fetch(`${h.url}/simulator/users/${t.users[AUTO0]!.id}/calls/${c.simId}/recording`, { headers: { authorization: `Bearer ${h.adminKey}` } });
    const bytes = Buffer.from(await wav.arrayBuffer());
    const samples = new Int16Array(bytes.buffer, bytes.byteOffset + 44, (bytes.length - 44) >> 1);
    assert.ok(samples.some((s) => Math.abs(s) > 3000), 'the prompt is audible in what the user heard');
    await c.conn.hangUp(true);
  });

  test('play to one participant; a looped play ends with cancelAllOperations (PlayCanceled); a missing file is PlayFailed', async () => {
    const c = await connectedCall();
    const media = c.conn.getCallMedia();
    await media.play([{ kind: 'fileSource', url: toneUrl() }], [user(AUTO0)], { operationContext: 'private' });
    await sink.waitForEvent('PlayCompleted', c.id, 8000, (e) => e.data.operationContext === 'private');
    await media.play([{ kind: 'fileSource', url: toneUrl() }], [], { loop: true, operationContext: 'loop' });
    await sink.waitForEvent('PlayStarted', c.id, 8000, (e) => e.data.operationContext === 'loop');
    await new Promise((r) => setTimeout(r, 600)); // longer than the prompt: it loops
    await media.cancelAllOperations();
    const { parsed } = await sink.waitForEvent('PlayCanceled', c.id, 8000, (e) => e.data.operationContext === 'loop');
    assert.equal(parsed.resultInformation.subCode, 8508);
    await media.playToAll([{ kind: 'fileSource', url: `${promptBase}/missing.wav` }], { operationContext: 'missing' });
    const { parsed: failed } = await sink.waitForEvent('PlayFailed', c.id, 8000, (e) => e.data.operationContext === 'missing');
    assert.equal(failed.resultInformation.code, 400);
    assert.equal(failed.failedPlaySourceIndex, 0);
    await c.conn.hangUp(true);
  });

  test('startRecognizing DTMF: max tones (8531), stop tone (8514), initial silence (8510), inter-digit timeout (8532), cancel (8508)', async () => {
    const c = await connectedCall();
    const media = c.conn.getCallMedia();
    const press = (keys: string) => h.sim('POST', `/users/${t.users[AUTO0]!.id}/calls/${c.simId}/dtmf`, { tones: keys });

    await media.startRecognizing(user(AUTO0), { kind: 'callMediaRecognizeDtmfOptions', maxTonesToCollect: 3, interToneTimeoutInSeconds: 3, initialSilenceTimeoutInSeconds: 5, operationContext: 'max' });
    await press('123');
    const { parsed: max } = await sink.waitForEvent('RecognizeCompleted', c.id, 8000, (e) => e.data.operationContext === 'max');
    assert.equal(max.recognitionType, 'dtmf');
    assert.deepEqual(max.dtmfResult.tones, ['one', 'two', 'three']);
    assert.deepEqual([max.resultInformation.code, max.resultInformation.subCode], [200, 8531]);

    await media.startRecognizing(user(AUTO0), { kind: 'callMediaRecognizeDtmfOptions', maxTonesToCollect: 5, stopDtmfTones: [DtmfTone.Pound], operationContext: 'stop' });
    await press('45#');
    const { parsed: stop } = await sink.waitForEvent('RecognizeCompleted', c.id, 8000, (e) => e.data.operationContext === 'stop');
    assert.deepEqual(stop.dtmfResult.tones, ['four', 'five']);
    assert.deepEqual([stop.resultInformation.code, stop.resultInformation.subCode], [200, 8514]);

    await media.startRecognizing(user(AUTO0), { kind: 'callMediaRecognizeDtmfOptions', maxTonesToCollect: 2, initialSilenceTimeoutInSeconds: 1, operationContext: 'silence' });
    const { parsed: silence } = await sink.waitForEvent('RecognizeFailed', c.id, 8000, (e) => e.data.operationContext === 'silence');
    assert.deepEqual([silence.resultInformation.code, silence.resultInformation.subCode], [400, 8510]);

    await media.startRecognizing(user(AUTO0), { kind: 'callMediaRecognizeDtmfOptions', maxTonesToCollect: 4, interToneTimeoutInSeconds: 1, operationContext: 'gap' });
    await press('7');
    const { parsed: gap } = await sink.waitForEvent('RecognizeFailed', c.id, 8000, (e) => e.data.operationContext === 'gap');
    assert.deepEqual([gap.resultInformation.code, gap.resultInformation.subCode], [400, 8532]);

    await media.startRecognizing(user(AUTO0), { kind: 'callMediaRecognizeDtmfOptions', maxTonesToCollect: 4, initialSilenceTimeoutInSeconds: 30, operationContext: 'cancel' });
    await new Promise((r) => setTimeout(r, 100));
    await media.cancelAllOperations();
    const { parsed: cancel } = await sink.waitForEvent('RecognizeCanceled', c.id, 8000, (e) => e.data.operationContext === 'cancel');
    assert.equal(cancel.resultInformation.subCode, 8508);
    await c.conn.hangUp(true);
  });

  test('startRecognizing with a prompt that a key interrupts', async () => {
    const c = await connectedCall();
    const media = c.conn.getCallMedia();
    await media.startRecognizing(user(AUTO0), {
      kind: 'callMediaRecognizeDtmfOptions', maxTonesToCollect: 2, interruptPrompt: true, operationContext: 'prompted',
      playPrompt: { kind: 'fileSource', url: toneUrl() },
    });
    await h.sim('POST', `/users/${t.users[AUTO0]!.id}/calls/${c.simId}/dtmf`, { tones: '58' });
    const { parsed } = await sink.waitForEvent('RecognizeCompleted', c.id, 8000, (e) => e.data.operationContext === 'prompted');
    assert.deepEqual(parsed.dtmfResult.tones, ['five', 'eight']);
    await c.conn.hangUp(true);
  });

  test('continuous DTMF recognition: each key is an event until stopped', async () => {
    const c = await connectedCall();
    const media = c.conn.getCallMedia();
    await media.startContinuousDtmfRecognition(user(AUTO0));
    await h.sim('POST', `/users/${t.users[AUTO0]!.id}/calls/${c.simId}/dtmf`, { tones: '9*' });
    const { parsed: nine } = await sink.waitForEvent('ContinuousDtmfRecognitionToneReceived', c.id, 8000, (e) => e.data.tone === 'nine');
    const { parsed: star } = await sink.waitForEvent('ContinuousDtmfRecognitionToneReceived', c.id, 8000, (e) => e.data.tone === 'asterisk');
    assert.ok(star.sequenceId > nine.sequenceId);
    await media.stopContinuousDtmfRecognition(user(AUTO0), { operationContext: 'stopped' });
    await sink.waitForEvent('ContinuousDtmfRecognitionStopped', c.id);
    await c.conn.hangUp(true);
  });

  test('sendDtmfTones: 202, SendDtmfTonesCompleted, and the user hears the tones', async () => {
    const c = await connectedCall();
    const r = await c.conn.getCallMedia().sendDtmfTones(['one', 'two', 'pound'], user(AUTO0), { operationContext: 'dtmf' });
    assert.equal(r.operationContext, 'dtmf');
    await sink.waitForEvent('SendDtmfTonesCompleted', c.id, 8000, (e) => e.data.operationContext === 'dtmf');
    await new Promise((r2) => setTimeout(r2, 200));
    assert.equal(await keysHeard(h, t.users[AUTO0]!.id, c.simId), '12#');
    await c.conn.hangUp(true);
  });

  test('hold and unhold: isOnHold in the roster; the held user hears the hold music', async () => {
    const c = await connectedCall();
    const media = c.conn.getCallMedia();
    await media.hold(user(AUTO0), { playSource: { kind: 'fileSource', url: toneUrl() } });
    await sink.waitForEvent('ParticipantsUpdated', c.id, 8000, (e) => e.data.participants[0]?.isOnHold === true);
    let one = await c.conn.getParticipant(user(AUTO0));
    assert.equal(one.isOnHold, true);
    await media.unhold(user(AUTO0));
    await sink.waitForEvent('ParticipantsUpdated', c.id, 8000, (e) => e.data.participants[0]?.isOnHold === false);
    one = await c.conn.getParticipant(user(AUTO0));
    assert.equal(one.isOnHold, false);
    await c.conn.hangUp(true);
  });
});

/** What a virtual user heard in a call so far (16 kHz samples). */
async function heard(userIndex: number, simId: string): Promise<Int16Array> {
  const r = await fetch(`${h.url}/simulator/users/${t.users[userIndex]!.id}/calls/${simId}/recording`, { headers: { authorization: `Bearer ${h.adminKey}` } });
  const bytes = Buffer.from(await r.arrayBuffer());
  return new Int16Array(bytes.buffer.slice(bytes.byteOffset + 44, bytes.byteOffset + bytes.length - ((bytes.length - 44) % 2)));
}

const peak = (x: Int16Array, from: number) => x.subarray(from).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('hold in a group call: the held user hears nothing of the others, and is not heard; unhold restores both', async () => {
  const res = await client.createGroupCall([user(AUTO0), user(AUTO1)], sink.events);
  const id = res.callConnectionProperties.callConnectionId!;
  const scid = res.callConnectionProperties.serverCallId!;
  await sink.waitForEvent('ParticipantsUpdated', id, 8000, (e) => e.data.participants.length === 2);
  const a = await simCallIn(h, t.users[AUTO0]!.id, scid);
  const b = await simCallIn(h, t.users[AUTO1]!.id, scid);
  const say = (userIndex: number, simId: string) => h.sim('POST', `/users/${t.users[userIndex]!.id}/calls/${simId}/say`, { tone: { frequencyHz: 1000, durationMs: 300 } });
  const media = res.callConnection.getCallMedia();

  await media.hold(user(AUTO0));
  await sink.waitForEvent('ParticipantsUpdated', id, 8000, (e) => e.data.participants.some((p: Json) => p.isOnHold));
  const aBefore = (await heard(AUTO0, a.id)).length;
  const bBefore = (await heard(AUTO1, b.id)).length;
  await say(AUTO1, b.id);
  await say(AUTO0, a.id);
  await new Promise((r) => setTimeout(r, 900));
  assert.ok(peak(await heard(AUTO0, a.id), aBefore) < 100, 'the held user hears silence');
  assert.ok(peak(await heard(AUTO1, b.id), bBefore) < 100, 'the held user is not heard');

  await media.unhold(user(AUTO0));
  await sink.waitForEvent('ParticipantsUpdated', id, 8000, (e) => e.data.participants.every((p: Json) => !p.isOnHold));
  const aAfter = (await heard(AUTO0, a.id)).length;
  const bAfter = (await heard(AUTO1, b.id)).length;
  await say(AUTO1, b.id);
  await say(AUTO0, a.id);
  await new Promise((r) => setTimeout(r, 900));
  assert.ok(peak(await heard(AUTO0, a.id), aAfter) > 3000, 'after unhold the user hears the others');
  assert.ok(peak(await heard(AUTO1, b.id), bAfter) > 3000, 'after unhold the user is heard');
  await res.callConnection.hangUp(true);
});

// ------------------------------------------------------------------------------------------ participants

describe('participants', () => {
  test('addParticipant (202 with invitationId) → AddParticipantSucceeded; removeParticipant → RemoveParticipantSucceeded', async () => {
    const c = await connectedCall();
    const added = await c.conn.addParticipant({ targetParticipant: user(AUTO1) }, { operationContext: 'add' });
    assert.ok(added.invitationId);
    assert.equal(added.operationContext, 'add');
    assert.deepEqual(added.participant?.identifier, user(AUTO1));
    const { parsed } = await sink.waitForEvent('AddParticipantSucceeded', c.id);
    assert.deepEqual(parsed.participant, user(AUTO1));
    assert.equal(parsed.operationContext, 'add');
    await sink.waitForEvent('ParticipantsUpdated', c.id, 8000, (e) => e.data.participants.length === 2);
    const list = await c.conn.listParticipants();
    assert.equal(list.values!.length, 2);

    const sim1 = await simCallIn(h, t.users[AUTO1]!.id, c.serverCallId);
    const removed = await c.conn.removeParticipant(user(AUTO1), { operationContext: 'remove' });
    assert.equal(removed.operationContext, 'remove');
    const { parsed: rp } = await sink.waitForEvent('RemoveParticipantSucceeded', c.id);
    assert.deepEqual(rp.participant, user(AUTO1));
    await waitSimState(h, t.users[AUTO1]!.id, sim1.id, 'ended');
    await sink.waitForEvent('ParticipantsUpdated', c.id, 8000, (e) => e.data.participants.length === 1);
    await c.conn.hangUp(true);
  });

  test('an invitee that declines: AddParticipantFailed; cancelAddParticipantOperation: CancelAddParticipantSucceeded', async () => {
    const c = await connectedCall();
    await c.conn.addParticipant({ targetParticipant: user(BUSY) }, { operationContext: 'busy' });
    const { parsed } = await sink.waitForEvent('AddParticipantFailed', c.id);
    assert.equal(parsed.resultInformation.code, 486);
    assert.deepEqual(parsed.participant, user(BUSY));

    const added = await c.conn.addParticipant({ targetParticipant: user(MANUAL) }, { operationContext: 'ringing' });
    const ringing = await simCallIn(h, t.users[MANUAL]!.id, c.serverCallId);
    assert.equal(ringing.state, 'ringing');
    await c.conn.cancelAddParticipantOperation(added.invitationId!, { operationContext: 'cancel' });
    const { parsed: canceled } = await sink.waitForEvent('CancelAddParticipantSucceeded', c.id);
    assert.equal(canceled.invitationId, added.invitationId);
    assert.equal(canceled.operationContext, 'cancel');
    await waitSimState(h, t.users[MANUAL]!.id, ringing.id, 'ended');
    // The canceled invitation is reported as canceled, not also as failed.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(sink.typesFor(c.id).filter((x) => x === 'AddParticipantFailed').length, 1);
    await c.conn.hangUp(true);
  });

  test('muteParticipant: 200 and isMuted in ParticipantsUpdated', async () => {
    const c = await connectedCall();
    const r = await c.conn.muteParticipant(user(AUTO0), { operationContext: 'mute' });
    assert.equal(r.operationContext, 'mute');
    await sink.waitForEvent('ParticipantsUpdated', c.id, 8000, (e) => e.data.participants[0]?.isMuted === true);
    await c.conn.hangUp(true);
  });

  test('transferCallToParticipant: CallTransferAccepted, the application leaves, the two users talk', async () => {
    const c = await connectedCall();
    const r = await c.conn.transferCallToParticipant(user(AUTO1), { operationContext: 'xfer' });
    assert.equal(r.operationContext, 'xfer');
    const { parsed } = await sink.waitForEvent('CallTransferAccepted', c.id);
    assert.equal(parsed.operationContext, 'xfer');
    // The parser hands transferTarget and transferee over as the wire models.
    assert.equal(parsed.transferTarget.rawId, user(AUTO1).communicationUserId);
    assert.equal(parsed.transferee.rawId, user(AUTO0).communicationUserId);
    await sink.waitForEvent('CallDisconnected', c.id);
    const other = await simCallIn(h, t.users[AUTO1]!.id, c.serverCallId);
    await waitSimState(h, t.users[AUTO1]!.id, other.id, 'connected');
    await h.sim('POST', `/users/${t.users[AUTO1]!.id}/calls/${other.id}/hangup`);
  });
});

// ------------------------------------------------------------------------------------------ incoming calls

describe('incoming calls through Event Grid', () => {
  test('an unvalidated endpoint gets nothing: a failed handshake is visible, GET validationUrl completes an asynchronous one', async () => {
    sink.validationMode = 'fail';
    const failed = await h.admin('POST', `/tenants/${t.tenantId}/acsResources/${acs.resourceId}/eventSubscriptions`, { name: 'broken', endpointUrl: `${sink.eventGrid}/broken` });
    assert.equal(failed.status, 201, JSON.stringify(failed.body));
    assert.equal(failed.body.validation.state, 'failed');
    assert.match(failed.body.validation.lastError, /HTTP 500/);
    sink.validationMode = 'wrong';
    const wrong = await h.admin('POST', `/tenants/${t.tenantId}/acsResources/${acs.resourceId}/eventSubscriptions/broken/validate`);
    assert.equal(wrong.body.validation.state, 'failed');
    assert.match(wrong.body.validation.lastError, /not the validationCode/);
    sink.validationMode = 'none';
    const manual = await h.admin('POST', `/tenants/${t.tenantId}/acsResources/${acs.resourceId}/eventSubscriptions/broken/validate`);
    assert.equal(manual.body.validation.state, 'awaitingManualAction');
    const url = manual.body.validation.validationUrl as string;
    assert.ok(url.startsWith(`${h.url}/eventgrid/validate?`));
    assert.equal((await fetch(url)).status, 200);
    const got = await h.admin('GET', `/tenants/${t.tenantId}/acsResources/${acs.resourceId}/eventSubscriptions/broken`);
    assert.equal(got.body.validation.state, 'validated');
    assert.equal((await h.admin('DELETE', `/tenants/${t.tenantId}/acsResources/${acs.resourceId}/eventSubscriptions/broken`)).status, 204);
    sink.validationMode = 'sync';
  });

  test('a call to a resource without an IncomingCall subscription is unreachable', async () => {
    const bare = await createAcsResource(h, t.tenantId);
    const placed = await h.sim('POST', `/users/${t.users[AUTO1]!.id}/calls`, { phone: bare.phoneNumber });
    const ended = await waitSimState(h, t.users[AUTO1]!.id, placed.body.id, 'ended');
    assert.equal(ended.result.code, 480);
  });

  test('subscription (validation handshake) → a user calls the number → IncomingCall → answerCall → CallConnected; rejectCall; redirectCall', async () => {
    const created = await h.admin('POST', `/tenants/${t.tenantId}/acsResources/${acs.resourceId}/eventSubscriptions`, {
      name: 'incoming-calls', endpointUrl: `${sink.eventGrid}/incoming`, includedEventTypes: ['Microsoft.Communication.IncomingCall'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.validation.state, 'validated');
    const v = sink.validations.at(-1)!;
    assert.equal(v.headers['aeg-event-type'], 'SubscriptionValidation');
    assert.equal(v.event.eventType, 'Microsoft.EventGrid.SubscriptionValidationEvent');
    assert.ok(v.event.data.validationCode && v.event.data.validationUrl);

    // answer
    const caller = t.users[AUTO1]!;
    const placed = await h.sim('POST', `/users/${caller.id}/calls`, { phone: acs.phoneNumber });
    const ic = await sink.waitForEventGrid('Microsoft.Communication.IncomingCall', (e) => e.data.from.rawId === `8:acs:${acs.resourceId}_${caller.id}`);
    assert.equal(ic.headers['aeg-event-type'], 'Notification');
    assert.equal(ic.headers['aeg-subscription-name'], 'INCOMING-CALLS');
    const e = ic.event;
    assert.equal(e.subject, `/caller/8:acs:${acs.resourceId}_${caller.id}/recipient/4:${acs.phoneNumber}`);
    assert.equal(e.data.to.rawId, `4:${acs.phoneNumber}`);
    assert.equal(e.data.to.phoneNumber.value, acs.phoneNumber);
    assert.equal(e.data.from.communicationUser.id, `8:acs:${acs.resourceId}_${caller.id}`);
    assert.equal(e.data.callerDisplayName, caller.displayName);
    assert.ok(e.data.serverCallId && e.data.correlationId && e.data.incomingCallContext);
    assert.equal(e.metadataVersion, '1');
    const answered = await client.answerCall(e.data.incomingCallContext, sink.events, { operationContext: 'answered' });
    const id = answered.callConnectionProperties.callConnectionId!;
    assert.equal(answered.callConnectionProperties.serverCallId, e.data.serverCallId);
    assert.equal(answered.callConnectionProperties.correlationId, e.data.correlationId);
    const { parsed } = await sink.waitForEvent('CallConnected', id);
    assert.equal(parsed.operationContext, 'answered');
    await waitSimState(h, caller.id, placed.body.id, 'connected');
    // The context is single-use: answering again is 404.
    await rejects(client.answerCall(e.data.incomingCallContext, sink.events), 404);
    const props = await answered.callConnection.getCallConnectionProperties();
    assert.deepEqual(props.source, { communicationUserId: `8:acs:${acs.resourceId}_${caller.id}` });
    await answered.callConnection.hangUp(false);
    await waitSimState(h, caller.id, placed.body.id, 'ended');

    // reject
    const second = await h.sim('POST', `/users/${caller.id}/calls`, { phone: acs.phoneNumber });
    const ic2 = await sink.waitForEventGrid('Microsoft.Communication.IncomingCall', (x) => x.data.serverCallId !== e.data.serverCallId);
    await client.rejectCall(ic2.event.data.incomingCallContext, { callRejectReason: 'busy' });
    const rejected = await waitSimState(h, caller.id, second.body.id, 'ended');
    assert.equal(rejected.result.code, 486);

    // redirect to another user of the resource
    const third = await h.sim('POST', `/users/${caller.id}/calls`, { phone: acs.phoneNumber });
    const ic3 = await sink.waitForEventGrid('Microsoft.Communication.IncomingCall', (x) => x.data.serverCallId !== e.data.serverCallId && x.data.serverCallId !== ic2.event.data.serverCallId);
    await client.redirectCall(ic3.event.data.incomingCallContext, { targetParticipant: user(AUTO0) });
    await waitSimState(h, caller.id, third.body.id, 'connected');
    const target = await simCallIn(h, t.users[AUTO0]!.id, ic3.event.data.serverCallId);
    await waitSimState(h, t.users[AUTO0]!.id, target.id, 'connected');
    await h.sim('POST', `/users/${caller.id}/calls/${third.body.id}/hangup`);
  });
});

// ------------------------------------------------------------------------------------------ errors

describe('authentication, bad input and isolation', () => {
  test('HMAC: a wrong key and a body changed after signing are 401, surfaced by the SDK as RestError 401', async () => {
    const wrongKey = Buffer.alloc(64, 7).toString('base64');
    const bad = acsClient(`endpoint=${h.url}/;accesskey=${wrongKey}`);
    const err = await rejects(bad.getCallConnection('anything').getCallConnectionProperties(), 401, /signature/i);
    assert.equal(err.name, 'RestError');
    const tampering = acsClient(acs.connectionString, {
      additionalPolicies: [{
        position: 'perRetry',
        policy: { name: 'tamper', sendRequest: (req, next) => { req.body = String(req.body).replace('tamper-me', 'tampered!'); return next(req); } },
      }],
    });
    await rejects(tampering.createCall({ targetParticipant: user(AUTO0) }, sink.events, { operationContext: 'tamper-me' }), 401, /x-ms-content-sha256/);
    // A request without any signature.
    const plain = await fetch(`${h.url}/calling/callConnections/x?api-version=2026-03-12`);
    assert.equal(plain.status, 401);
    assert.equal(((await plain.json()) as Json).error.code, 'Denied');
  });

  test('bad input: unknown connection 404, malformed identifier 400 naming the field, text play source 400 (no TTS), unknown user 400', async () => {
    await rejects(client.getCallConnection(randomUUID()).getCallConnectionProperties(), 404);
    const malformed = await rejects(client.createCall({ targetParticipant: { phoneNumber: '12345' } }, sink.events), 400);
    assert.match(malformed.message, /targets\[0\]\.phoneNumber\.value/);
    const unknownUser = await rejects(client.createCall({ targetParticipant: acsUser(acs.resourceId, 'nobody') }, sink.events), 400);
    assert.match(unknownUser.message, /targets\[0\]\.communicationUser/);
    const otherResource = await rejects(client.createCall({ targetParticipant: acsUser('some-other-resource', t.users[0]!.id) }, sink.events), 400);
    assert.match(otherResource.message, /not a user of this Communication Services resource/);
    const noCallerId = await rejects(client.createCall({ targetParticipant: { phoneNumber: t.users[AUTO0]!.phoneNumber } }, sink.events), 400);
    assert.match(noCallerId.message, /sourceCallerIdNumber/);
    await rejects(client.createCall({ targetParticipant: user(AUTO0) }, 'not a url'), 400, /callbackUri/);

    const c = await connectedCall();
    const tts = await rejects(c.conn.getCallMedia().playToAll([{ kind: 'textSource', text: 'Hello' }]), 400);
    assert.match(tts.message, /no TTS engine is configured/);
    await rejects(c.conn.getCallMedia().startRecognizing(user(AUTO0), { kind: 'callMediaRecognizeSpeechOptions' }), 400, /speech recognition/);
    await rejects(c.conn.getCallMedia().sendDtmfTones(['one'], user(AUTO1)), 404, /not connected/);
    await rejects(c.conn.getCallMedia().sendDtmfTones(['eleven' as any], user(AUTO0)), 400, /tones\[0\]/);
    await c.conn.hangUp(true);
  });

  test('a phone number target with the resource\'s caller id reaches the user who owns the number', async () => {
    const res = await client.createCall({ targetParticipant: { phoneNumber: t.users[AUTO1]!.phoneNumber }, sourceCallIdNumber: { phoneNumber: acs.phoneNumber } }, sink.events);
    const id = res.callConnectionProperties.callConnectionId!;
    await sink.waitForEvent('CallConnected', id);
    assert.deepEqual(res.callConnectionProperties.sourceCallerIdNumber, { phoneNumber: acs.phoneNumber });
    const sim = await simCallIn(h, t.users[AUTO1]!.id, res.callConnectionProperties.serverCallId!);
    assert.equal(sim.peer.kind, 'phone');
    assert.equal(sim.peer.id, acs.phoneNumber);
    const { parsed } = await sink.waitForEvent('ParticipantsUpdated', id);
    assert.equal(parsed.participants[0].identifier.phoneNumber, t.users[AUTO1]!.phoneNumber);
    await res.callConnection.hangUp(true);
  });

  test('isolation: another resource (another tenant) cannot see the call; a Graph call has a serverCallId but no ACS connection', async () => {
    const c = await connectedCall();
    const t2 = await createTenant(h, { users: [{}] });
    const other = await createAcsResource(h, t2.tenantId);
    await rejects(acsClient(other.connectionString).getCallConnection(c.id).getCallConnectionProperties(), 404);
    // A Graph-created call: it has a serverCallId (recording will locate it), and ACS does not show it.
    const g = await h.request('POST', '/v1.0/communications/calls', {
      token: t.token,
      body: {
        '@odata.type': '#microsoft.graph.call',
        callbackUri: sink.events,
        targets: [{ '@odata.type': '#microsoft.graph.invitationParticipantInfo', identity: { '@odata.type': '#microsoft.graph.identitySet', user: { '@odata.type': '#microsoft.graph.identity', id: t.users[AUTO1]!.id } } }],
        requestedModalities: ['audio'],
        mediaConfig: { '@odata.type': '#microsoft.graph.serviceHostedMediaConfig' },
      },
    });
    assert.equal(g.status, 201, JSON.stringify(g.body));
    assert.ok(g.body.serverCallId);
    assert.ok(h.telegraph.calls.getCall(g.body.serverCallId));
    await rejects(client.getCallConnection(g.body.id).getCallConnectionProperties(), 404);
    await h.request('DELETE', `/v1.0/communications/calls/${g.body.id}`, { token: t.token });
    await c.conn.hangUp(true);
  });

  test('Repeatability-Request-ID: a retried createCall returns the first answer and places one call', async () => {
    const url = `${h.url}/calling/callConnections?api-version=2026-03-12`;
    const body = JSON.stringify({ targets: [{ kind: 'communicationUser', rawId: user(AUTO0).communicationUserId, communicationUser: { id: user(AUTO0).communicationUserId } }], callbackUri: sink.events });
    const key = Buffer.from(acs.keys[0]!.key, 'base64');
    const headers = { 'repeatability-request-id': randomUUID(), 'repeatability-first-sent': new Date().toUTCString(), 'content-type': 'application/json' };
    const send = async () => {
      const signed = signAcsRequest({ method: 'POST', url, body }, key);
      const { host: _host, ...rest } = signed;
      const r = await fetch(url, { method: 'POST', headers: { ...rest, ...headers }, body });
      return { status: r.status, headers: r.headers, body: (await r.json()) as Json };
    };
    const first = await send();
    const second = await send();
    assert.equal(first.status, 201);
    assert.equal(second.status, 201);
    assert.equal(second.body.callConnectionId, first.body.callConnectionId);
    assert.equal(second.headers.get('repeatability-result'), 'accepted');
    await sink.waitForEvent('CallConnected', first.body.callConnectionId);
    await client.getCallConnection(first.body.callConnectionId).hangUp(true);
  });

  test('admin API: keys listed with connection strings, a new key works, a deleted key stops working', async () => {
    const keys = await h.admin('GET', `/tenants/${t.tenantId}/acsResources/${acs.resourceId}/keys`);
    assert.equal(keys.status, 200);
    assert.equal(keys.body.value.length, 2);
    assert.equal(keys.body.value[0].connectionString, `endpoint=${h.url}/;accesskey=${keys.body.value[0].key}`);
    const added = await h.admin('POST', `/tenants/${t.tenantId}/acsResources/${acs.resourceId}/keys`, {});
    assert.equal(added.status, 201);
    const withNew = acsClient(added.body.connectionString);
    await rejects(withNew.getCallConnection('nope').getCallConnectionProperties(), 404);
    assert.equal((await h.admin('DELETE', `/tenants/${t.tenantId}/acsResources/${acs.resourceId}/keys/${added.body.id}`)).status, 204);
    await rejects(withNew.getCallConnection('nope').getCallConnectionProperties(), 401);
    const listed = await h.admin('GET', `/tenants/${t.tenantId}`);
    assert.ok(listed.body.acsResources.some((r: Json) => r.id === acs.resourceId && r.keys.every((k: Json) => !('key' in k))));
  });
});

test('the development tenant has an ACS resource with a number whose connection string works', async () => {
  const dev = await Harness.start();
  try {
    const d = dev.telegraph.developmentTenant!;
    assert.ok(d.acs);
    const r = dev.telegraph.directory.getAcsResource(d.acs.resourceId)!;
    assert.deepEqual(r.phoneNumbers, [d.acs.phoneNumber]);
    const c = acsClient(`endpoint=${dev.url}/;accesskey=${d.acs.accessKey}`);
    await rejects(c.getCallConnection('none').getCallConnectionProperties(), 404);
  } finally {
    await dev.stop();
  }
});

test('a connection live when Telegraph died is told CallDisconnected (500/7101) at the next start', async () => {
  const first = await Harness.start({ keepData: true });
  const tenant = await createTenant(first, { users: [{}] });
  const res = await createAcsResource(first, tenant.tenantId);
  const c = acsClient(res.connectionString);
  const created = await c.createCall({ targetParticipant: acsUser(res.resourceId, tenant.users[0]!.id) }, sink.events);
  const id = created.callConnectionProperties.callConnectionId!;
  await sink.waitForEvent('CallConnected', id);
  await first.telegraph.outbox.flush(5000);
  // A crash: nothing is ended or told; the journal keeps the live connection.
  const tg = first.telegraph;
  tg.outbox.stop();
  tg.engine.stop();
  await tg.http.close();
  tg.store.close();
  const second = await Harness.start({ dataDir: first.dataDir });
  try {
    const { parsed } = await sink.waitForEvent('CallDisconnected', id);
    assert.deepEqual([parsed.resultInformation.code, parsed.resultInformation.subCode], [500, 7101]);
  } finally {
    await second.stop();
  }
});
