// ACS CommunicationIdentifierModel: parsing what clients send, rendering what Telegraph sends, and
// the mapping to and from the call domain's Identity (src/calls/CallTypes.ts).
//
// Wire model (reference §2): `{kind?, rawId?, communicationUser?{id}, phoneNumber?{value,isAnonymous?,assertedId?},
// microsoftTeamsUser?{userId,isAnonymous?,cloud?}, microsoftTeamsApp?{appId,cloud?}, teamsExtensionUser?{userId,tenantId,resourceId,cloud?}}`.
//
// Parsing (parseAcsIdentifier):
// - at most one sub-object may be present; `kind`, when given, must agree with it;
// - without `kind` the kind is inferred from the sub-object; with neither kind nor a sub-object (or
//   kind 'unknown'), from the rawId prefix, as the SDK's createIdentifierFromRawId does:
//     4:<number> | 4:anonymous              phoneNumber
//     8:acs: / 8:dod-acs: / 8:gcch-acs:      communicationUser (teamsExtensionUser when the rest is
//                                            <resourceId>_<tenantId>_<userId>, three '_' parts)
//     8:spool:                               communicationUser
//     8:orgid: / 8:dod: / 8:gcch:            microsoftTeamsUser (cloud public / dod / gcch)
//     8:teamsvisitor:                        microsoftTeamsUser, anonymous
//     28:orgid: / 28:dod: / 28:gcch:         microsoftTeamsApp
//   anything else stays kind 'unknown' (rendered back as `{kind:'unknown', rawId}`);
// - a malformed identifier is a 400 AcsError naming the field (e.g. `targets[0].phoneNumber.value`).
// The received rawId is kept (and echoed back when rendering) so clients can match what they sent;
// when absent, the canonical rawId is computed. Rendering always emits kind, rawId and the sub-object.
//
// Mapping to the domain (acsToIdentity / identityToAcs), with `resourceId` the id of the ACS
// resource the request was made against:
//   communicationUser  8:acs:<resourceId>_<userId>   <->  {kind:'user', id: userId}          (a directory user)
//   microsoftTeamsUser 8:orgid:<userId>               ->  {kind:'user', id: userId}          (Teams interop: directory
//                                                         users are the tenant's Teams users; rendered so with userStyle 'microsoftTeamsUser')
//   microsoftTeamsUser 8:teamsvisitor:<id> (anon.)   <->  {kind:'guest', id}
//   microsoftTeamsApp  28:orgid:<id>                 <->  {kind:'application', id}          (or 'applicationInstance'
//                                                         when ctx.isApplicationInstance(id): Teams resource accounts are Teams apps)
//   phoneNumber        4:+E164                       <->  {kind:'phone', id: '+E164'}
//   phoneNumber        4:anonymous (isAnonymous)     <->  {kind:'phone', id: 'anonymous'}
// A communicationUser of another resource (or any other 8: form), a teamsExtensionUser and an
// unknown identifier are rejected with a 400 naming the field. One exception: rawId-only parsing
// follows the SDK's '_' rule, so `8:acs:<resourceId>_a_b` (a directory user 'a_b', e.g. in a
// participant path) parses as a teamsExtensionUser of this resource; Telegraph has no extension
// users, so such an identifier maps to the directory user '<tenantId>_<userId>' ('a_b').
import type { Identity } from '../../calls/CallTypes.ts';
import { AcsError } from './AcsError.ts';

export type AcsCloud = 'public' | 'dod' | 'gcch';
export const ACS_CLOUDS: readonly AcsCloud[] = ['public', 'dod', 'gcch'];

export type AcsIdentifierKind =
  | 'communicationUser'
  | 'phoneNumber'
  | 'microsoftTeamsUser'
  | 'microsoftTeamsApp'
  | 'teamsExtensionUser'
  | 'unknown';

const SUB_OBJECT_KINDS = ['communicationUser', 'phoneNumber', 'microsoftTeamsUser', 'microsoftTeamsApp', 'teamsExtensionUser'] as const;
type SubObjectKind = (typeof SUB_OBJECT_KINDS)[number];

/** CommunicationIdentifierModel as it travels on the wire. */
export interface CommunicationIdentifierModel {
  kind?: AcsIdentifierKind;
  rawId?: string;
  communicationUser?: { id: string };
  phoneNumber?: { value: string; isAnonymous?: boolean; assertedId?: string };
  microsoftTeamsUser?: { userId: string; isAnonymous?: boolean; cloud?: AcsCloud };
  microsoftTeamsApp?: { appId: string; cloud?: AcsCloud };
  teamsExtensionUser?: { userId: string; tenantId: string; resourceId: string; cloud?: AcsCloud };
}

/** A parsed identifier: kind always known, rawId always set. */
export type AcsIdentifier =
  | { kind: 'communicationUser'; rawId: string; id: string }
  | { kind: 'phoneNumber'; rawId: string; value: string; isAnonymous: boolean; assertedId?: string }
  | { kind: 'microsoftTeamsUser'; rawId: string; userId: string; isAnonymous: boolean; cloud: AcsCloud }
  | { kind: 'microsoftTeamsApp'; rawId: string; appId: string; cloud: AcsCloud }
  | { kind: 'teamsExtensionUser'; rawId: string; userId: string; tenantId: string; resourceId: string; cloud: AcsCloud }
  | { kind: 'unknown'; rawId: string };

/** E.164 as the directory accepts it (config's phoneNumber rule). */
export const E164 = /^\+[1-9][0-9]{3,15}$/;

// ---- canonical rawIds

export function teamsUserRawId(userId: string, cloud: AcsCloud, isAnonymous: boolean): string {
  if (isAnonymous) return `8:teamsvisitor:${userId}`;
  return cloud === 'dod' ? `8:dod:${userId}` : cloud === 'gcch' ? `8:gcch:${userId}` : `8:orgid:${userId}`;
}

export function teamsAppRawId(appId: string, cloud: AcsCloud): string {
  return cloud === 'dod' ? `28:dod:${appId}` : cloud === 'gcch' ? `28:gcch:${appId}` : `28:orgid:${appId}`;
}

export function teamsExtensionUserRawId(resourceId: string, tenantId: string, userId: string, cloud: AcsCloud): string {
  const prefix = cloud === 'dod' ? '8:dod-acs:' : cloud === 'gcch' ? '8:gcch-acs:' : '8:acs:';
  return `${prefix}${resourceId}_${tenantId}_${userId}`;
}

export function phoneRawId(value: string): string {
  return `4:${value}`;
}

/** The canonical rawId of an identifier (ignores the rawId it carries). */
export function canonicalRawId(id: AcsIdentifier): string {
  switch (id.kind) {
    case 'communicationUser': return id.id;
    case 'phoneNumber': return phoneRawId(id.value);
    case 'microsoftTeamsUser': return teamsUserRawId(id.userId, id.cloud, id.isAnonymous);
    case 'microsoftTeamsApp': return teamsAppRawId(id.appId, id.cloud);
    case 'teamsExtensionUser': return teamsExtensionUserRawId(id.resourceId, id.tenantId, id.userId, id.cloud);
    case 'unknown': return id.rawId;
  }
}

// ---- parsing

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requireString(obj: Record<string, unknown>, key: string, field: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.trim() === '') {
    throw AcsError.invalidField(`${field}.${key}`, v === undefined || v === null ? 'is required.' : 'must be a non-empty string.');
  }
  return v;
}

function optionalBoolean(obj: Record<string, unknown>, key: string, field: string): boolean | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw AcsError.invalidField(`${field}.${key}`, 'must be true or false.');
  return v;
}

function optionalCloud(obj: Record<string, unknown>, field: string): AcsCloud {
  const v = obj.cloud;
  if (v === undefined || v === null) return 'public';
  const found = typeof v === 'string' ? ACS_CLOUDS.find((c) => c === v.toLowerCase()) : undefined;
  if (!found) throw AcsError.invalidField(`${field}.cloud`, `must be one of ${ACS_CLOUDS.join(', ')}.`);
  return found;
}

function parseKind(v: unknown, field: string): AcsIdentifierKind | undefined {
  if (v === undefined || v === null) return undefined;
  const all: AcsIdentifierKind[] = [...SUB_OBJECT_KINDS, 'unknown'];
  const found = typeof v === 'string' ? all.find((k) => k.toLowerCase() === v.toLowerCase()) : undefined;
  if (!found) throw AcsError.invalidField(`${field}.kind`, `'${String(v)}' is not one of ${all.join(', ')}.`);
  return found;
}

function checkPhoneValue(value: string, isAnonymous: boolean, field: string): void {
  if (isAnonymous && value === 'anonymous') return;
  if (!E164.test(value)) throw AcsError.invalidField(field, `'${value}' is not an E.164 phone number such as +14255550100.`);
}

/**
 * Interprets a rawId on its own (the SDK's createIdentifierFromRawId rules; see the file header).
 * Returns kind 'unknown' for prefixes it does not know; throws only for a recognised prefix with a
 * malformed remainder.
 */
export function identifierFromRawId(rawId: string, field = 'rawId'): AcsIdentifier {
  if (rawId.startsWith('4:')) {
    let value = rawId.slice(2);
    if (value === 'anonymous') return { kind: 'phoneNumber', rawId, value, isAnonymous: true };
    let assertedId: string | undefined;
    const underscore = value.lastIndexOf('_');
    if (underscore > 0 && underscore < value.length - 1) {
      assertedId = value.slice(underscore + 1);
      value = value.slice(0, underscore);
    }
    checkPhoneValue(value, false, field);
    return assertedId === undefined
      ? { kind: 'phoneNumber', rawId, value, isAnonymous: false }
      : { kind: 'phoneNumber', rawId, value, isAnonymous: false, assertedId };
  }
  const prefixes: [string, (rest: string) => AcsIdentifier][] = [
    ['8:teamsvisitor:', (rest) => ({ kind: 'microsoftTeamsUser', rawId, userId: rest, isAnonymous: true, cloud: 'public' })],
    ['8:orgid:', (rest) => ({ kind: 'microsoftTeamsUser', rawId, userId: rest, isAnonymous: false, cloud: 'public' })],
    ['8:dod:', (rest) => ({ kind: 'microsoftTeamsUser', rawId, userId: rest, isAnonymous: false, cloud: 'dod' })],
    ['8:gcch:', (rest) => ({ kind: 'microsoftTeamsUser', rawId, userId: rest, isAnonymous: false, cloud: 'gcch' })],
    ['8:acs:', (rest) => acsUserOrExtension(rawId, rest, 'public')],
    ['8:dod-acs:', (rest) => acsUserOrExtension(rawId, rest, 'dod')],
    ['8:gcch-acs:', (rest) => acsUserOrExtension(rawId, rest, 'gcch')],
    ['8:spool:', () => ({ kind: 'communicationUser', rawId, id: rawId })],
    ['28:orgid:', (rest) => ({ kind: 'microsoftTeamsApp', rawId, appId: rest, cloud: 'public' })],
    ['28:dod:', (rest) => ({ kind: 'microsoftTeamsApp', rawId, appId: rest, cloud: 'dod' })],
    ['28:gcch:', (rest) => ({ kind: 'microsoftTeamsApp', rawId, appId: rest, cloud: 'gcch' })],
  ];
  for (const [prefix, build] of prefixes) {
    if (rawId.toLowerCase().startsWith(prefix)) {
      const rest = rawId.slice(prefix.length);
      if (rest === '') throw AcsError.invalidField(field, `'${rawId}' has nothing after its '${prefix}' prefix.`);
      return build(rest);
    }
  }
  return { kind: 'unknown', rawId };
}

function acsUserOrExtension(rawId: string, rest: string, cloud: AcsCloud): AcsIdentifier {
  const parts = rest.split('_');
  if (parts.length === 3 && parts.every((p) => p !== '')) {
    return { kind: 'teamsExtensionUser', rawId, resourceId: parts[0]!, tenantId: parts[1]!, userId: parts[2]!, cloud };
  }
  return { kind: 'communicationUser', rawId, id: rawId };
}

/**
 * Parses an inbound CommunicationIdentifierModel. `field` is the JSON path used in error messages
 * (e.g. `targets[0]`). Throws a 400 AcsError for anything malformed.
 */
export function parseAcsIdentifier(value: unknown, field: string): AcsIdentifier {
  if (!isObject(value)) throw AcsError.invalidField(field, 'must be a CommunicationIdentifierModel object ({kind, rawId, communicationUser | phoneNumber | microsoftTeamsUser | microsoftTeamsApp}).');
  const declared = parseKind(value.kind, field);
  const rawIdValue = value.rawId;
  if (rawIdValue !== undefined && rawIdValue !== null && (typeof rawIdValue !== 'string' || rawIdValue.trim() === '')) {
    throw AcsError.invalidField(`${field}.rawId`, 'must be a non-empty string.');
  }
  const rawId = typeof rawIdValue === 'string' ? rawIdValue : undefined;

  const present = SUB_OBJECT_KINDS.filter((k) => value[k] !== undefined && value[k] !== null);
  if (present.length > 1) {
    throw AcsError.invalidField(field, `has both ${present.join(' and ')}: an identifier has exactly one of them.`);
  }
  const sub: SubObjectKind | undefined = present[0];

  if (sub === undefined) {
    if (declared !== undefined && declared !== 'unknown') {
      throw AcsError.invalidField(`${field}.${declared}`, `is required when kind is '${declared}'.`);
    }
    if (rawId === undefined) {
      throw AcsError.invalidField(field, `needs one of ${SUB_OBJECT_KINDS.join(', ')}, or a rawId.`);
    }
    return identifierFromRawId(rawId, `${field}.rawId`);
  }
  if (declared !== undefined && declared !== 'unknown' && declared !== sub) {
    throw AcsError.invalidField(`${field}.kind`, `is '${declared}' but the identifier carries ${sub}.`);
  }
  const subField = `${field}.${sub}`;
  const obj = value[sub];
  if (!isObject(obj)) throw AcsError.invalidField(subField, 'must be an object.');

  let parsed: AcsIdentifier;
  switch (sub) {
    case 'communicationUser': {
      const id = requireString(obj, 'id', subField);
      parsed = { kind: 'communicationUser', rawId: id, id };
      break;
    }
    case 'phoneNumber': {
      const v = requireString(obj, 'value', subField);
      const isAnonymous = optionalBoolean(obj, 'isAnonymous', subField) ?? v === 'anonymous';
      checkPhoneValue(v, isAnonymous, `${subField}.value`);
      const assertedId = obj.assertedId;
      if (assertedId !== undefined && assertedId !== null && typeof assertedId !== 'string') {
        throw AcsError.invalidField(`${subField}.assertedId`, 'must be a string.');
      }
      parsed = typeof assertedId === 'string' && assertedId !== ''
        ? { kind: 'phoneNumber', rawId: phoneRawId(v), value: v, isAnonymous, assertedId }
        : { kind: 'phoneNumber', rawId: phoneRawId(v), value: v, isAnonymous };
      break;
    }
    case 'microsoftTeamsUser': {
      const userId = requireString(obj, 'userId', subField);
      const isAnonymous = optionalBoolean(obj, 'isAnonymous', subField) ?? false;
      const cloud = optionalCloud(obj, subField);
      parsed = { kind: 'microsoftTeamsUser', rawId: teamsUserRawId(userId, cloud, isAnonymous), userId, isAnonymous, cloud };
      break;
    }
    case 'microsoftTeamsApp': {
      const appId = requireString(obj, 'appId', subField);
      const cloud = optionalCloud(obj, subField);
      parsed = { kind: 'microsoftTeamsApp', rawId: teamsAppRawId(appId, cloud), appId, cloud };
      break;
    }
    case 'teamsExtensionUser': {
      const userId = requireString(obj, 'userId', subField);
      const tenantId = requireString(obj, 'tenantId', subField);
      const resourceId = requireString(obj, 'resourceId', subField);
      const cloud = optionalCloud(obj, subField);
      parsed = { kind: 'teamsExtensionUser', rawId: teamsExtensionUserRawId(resourceId, tenantId, userId, cloud), userId, tenantId, resourceId, cloud };
      break;
    }
  }
  // Keep the rawId the client sent so it is echoed back unchanged.
  if (rawId !== undefined) parsed.rawId = rawId;
  return parsed;
}

// ---- rendering

/** Renders an identifier for the wire: always kind, rawId and the sub-object (the SDK needs rawId). */
export function renderAcsIdentifier(id: AcsIdentifier): CommunicationIdentifierModel {
  switch (id.kind) {
    case 'communicationUser':
      return { kind: 'communicationUser', rawId: id.rawId, communicationUser: { id: id.id } };
    case 'phoneNumber': {
      const phoneNumber: NonNullable<CommunicationIdentifierModel['phoneNumber']> = { value: id.value, isAnonymous: id.isAnonymous };
      if (id.assertedId !== undefined) phoneNumber.assertedId = id.assertedId;
      return { kind: 'phoneNumber', rawId: id.rawId, phoneNumber };
    }
    case 'microsoftTeamsUser':
      return { kind: 'microsoftTeamsUser', rawId: id.rawId, microsoftTeamsUser: { userId: id.userId, isAnonymous: id.isAnonymous, cloud: id.cloud } };
    case 'microsoftTeamsApp':
      return { kind: 'microsoftTeamsApp', rawId: id.rawId, microsoftTeamsApp: { appId: id.appId, cloud: id.cloud } };
    case 'teamsExtensionUser':
      return {
        kind: 'teamsExtensionUser',
        rawId: id.rawId,
        teamsExtensionUser: { userId: id.userId, tenantId: id.tenantId, resourceId: id.resourceId, cloud: id.cloud },
      };
    case 'unknown':
      return { kind: 'unknown', rawId: id.rawId };
  }
}

// ---- the domain mapping

export interface AcsIdentityContext {
  /** The ACS resource the request was made against: the <resourceId> of `8:acs:<resourceId>_<userId>`. No '_' or ':'. */
  resourceId: string;
  /** How directory users are rendered outbound: as ACS users (default) or as Teams users (`8:orgid:<id>`). */
  userStyle?: 'communicationUser' | 'microsoftTeamsUser';
  /** The cloud written into Teams identifiers rendered outbound (default public). */
  cloud?: AcsCloud;
  /** Whether a Teams app id names an application instance (a resource account) rather than an application. Default: never. */
  isApplicationInstance?: (id: string) => boolean;
}

function checkResourceId(resourceId: string): void {
  if (!/^[A-Za-z0-9.-]+$/.test(resourceId)) {
    throw new Error(`ACS resourceId '${resourceId}' must be letters, digits, '.' and '-' only (it is the <resourceId> of 8:acs:<resourceId>_<userId>).`);
  }
}

/** The rawId of a directory user in this resource: `8:acs:<resourceId>_<userId>`. */
export function acsUserRawId(resourceId: string, userId: string): string {
  checkResourceId(resourceId);
  return `8:acs:${resourceId}_${userId}`;
}

/** Maps a parsed identifier to the domain Identity (see the file header); 400 naming the field when it cannot. */
export function acsToIdentity(id: AcsIdentifier, ctx: AcsIdentityContext, field: string): Identity {
  checkResourceId(ctx.resourceId);
  switch (id.kind) {
    case 'communicationUser': {
      const prefix = `8:acs:${ctx.resourceId}_`;
      if (!id.id.toLowerCase().startsWith(prefix.toLowerCase()) || id.id.length === prefix.length) {
        throw AcsError.invalidField(`${field}.communicationUser.id`, `'${id.id}' is not a user of this Communication Services resource (expected ${prefix}<userId>).`);
      }
      return { kind: 'user', id: id.id.slice(prefix.length), displayName: null };
    }
    case 'phoneNumber':
      return { kind: 'phone', id: id.isAnonymous ? 'anonymous' : id.value, displayName: null };
    case 'microsoftTeamsUser':
      return id.isAnonymous
        ? { kind: 'guest', id: id.userId, displayName: null }
        : { kind: 'user', id: id.userId, displayName: null };
    case 'microsoftTeamsApp':
      return { kind: ctx.isApplicationInstance?.(id.appId) ? 'applicationInstance' : 'application', id: id.appId, displayName: null };
    case 'teamsExtensionUser':
      if (id.cloud === 'public' && id.resourceId.toLowerCase() === ctx.resourceId.toLowerCase()) {
        return { kind: 'user', id: `${id.tenantId}_${id.userId}`, displayName: null };
      }
      throw AcsError.invalidField(`${field}.teamsExtensionUser`, 'Teams Phone extension users are not supported by Telegraph.');
    case 'unknown':
      throw AcsError.invalidField(`${field}.rawId`, `'${id.rawId}' is not an identifier Telegraph recognises (8:acs:…, 4:+E164, 8:orgid:…, 8:teamsvisitor:…, 28:orgid:…).`);
  }
}

/** Maps a domain Identity to an ACS identifier (see the file header). */
export function identityToAcs(identity: Identity, ctx: AcsIdentityContext): AcsIdentifier {
  checkResourceId(ctx.resourceId);
  const cloud = ctx.cloud ?? 'public';
  switch (identity.kind) {
    case 'user':
      if (ctx.userStyle === 'microsoftTeamsUser') {
        return { kind: 'microsoftTeamsUser', rawId: teamsUserRawId(identity.id, cloud, false), userId: identity.id, isAnonymous: false, cloud };
      }
      return { kind: 'communicationUser', rawId: acsUserRawId(ctx.resourceId, identity.id), id: acsUserRawId(ctx.resourceId, identity.id) };
    case 'guest':
      return { kind: 'microsoftTeamsUser', rawId: teamsUserRawId(identity.id, cloud, true), userId: identity.id, isAnonymous: true, cloud };
    case 'application':
    case 'applicationInstance':
      return { kind: 'microsoftTeamsApp', rawId: teamsAppRawId(identity.id, cloud), appId: identity.id, cloud };
    case 'phone':
      return identity.id === 'anonymous'
        ? { kind: 'phoneNumber', rawId: phoneRawId('anonymous'), value: 'anonymous', isAnonymous: true }
        : { kind: 'phoneNumber', rawId: phoneRawId(identity.id), value: identity.id, isAnonymous: false };
  }
}

/** parseAcsIdentifier + acsToIdentity. */
export function parseAcsIdentity(value: unknown, field: string, ctx: AcsIdentityContext): Identity {
  return acsToIdentity(parseAcsIdentifier(value, field), ctx, field);
}

/** identityToAcs + renderAcsIdentifier. */
export function renderIdentity(identity: Identity, ctx: AcsIdentityContext): CommunicationIdentifierModel {
  return renderAcsIdentifier(identityToAcs(identity, ctx));
}
