import type { CallingPermission, EndpointConfig } from '../config/ConfigSchema.ts';

export interface Tenant {
  id: string;
  displayName: string;
}

export interface ApplicationSecret {
  id: string;
  /** SHA-256 of the secret, hex; secrets are random and long, so a fast hash suffices. */
  hash: string;
  hint: string;
  createdAt: string;
}

export interface Application {
  tenantId: string;
  appId: string;
  displayName: string;
  secrets: ApplicationSecret[];
  permissions: CallingPermission[];
  callingWebhook: string | null;
  /**
   * The API the application speaks. Absent for Graph applications (what the directory stores);
   * 'acs' for the application view of an ACS resource (Directory.getApplication('acs:<resourceId>')).
   */
  api?: 'acs';
}

export interface ApplicationInstance {
  tenantId: string;
  id: string;
  appId: string;
  displayName: string;
  phoneNumber: string | null;
}

export interface User {
  tenantId: string;
  id: string;
  displayName: string;
  phoneNumber: string | null;
  endpoint: EndpointConfig;
}

export interface OnlineMeeting {
  tenantId: string;
  id: string;
  subject: string | null;
  organizerId: string;
  threadId: string;
  messageId: string;
  joinMeetingId: string | null;
  passcode: string | null;
  joinToken: string | null;
  lobbyBypass: 'everyone' | 'organization' | 'organizer' | 'invited';
  attendees: string[];
}

/** An access key of an ACS resource. Kept in plain text: HMAC verification needs the key itself. */
export interface AcsAccessKey {
  /** Derived from the key (first 8 hex digits of its SHA-256): stable across config reloads. */
  id: string;
  /** base64, as in the connection string. */
  key: string;
  createdAt: string;
}

/**
 * An Azure Communication Services resource: the identity an ACS Call Automation client signs its
 * requests with (connection string endpoint + access key). To the call core it is an application of
 * its tenant (appId `acs:<id>`, see Directory.getApplication); its users `8:acs:<id>_<userId>` are
 * the tenant's directory users; calls to its phone numbers are incoming calls for it.
 */
export interface AcsResource {
  tenantId: string;
  id: string;
  displayName: string;
  keys: AcsAccessKey[];
  phoneNumbers: string[];
}

export type EventGridValidationState = 'pending' | 'validated' | 'awaitingManualAction' | 'failed';

/** An Event Grid event subscription on an ACS resource (webhook endpoint, event types, filters). */
export interface EventGridSubscription {
  tenantId: string;
  /** `<resourceId>/<name>`: names are unique per resource. */
  id: string;
  resourceId: string;
  name: string;
  endpointUrl: string;
  /** Event types delivered; empty: all. */
  includedEventTypes: string[];
  subjectBeginsWith: string | null;
  subjectEndsWith: string | null;
  validation: {
    state: EventGridValidationState;
    /** The code the subscriber must echo (or whose validationUrl it must GET). */
    code: string;
    attempts: number;
    lastError: string | null;
    validatedAt: string | null;
  };
}

export type DirectoryKind = 'tenant' | 'application' | 'applicationInstance' | 'user' | 'meeting' | 'acsResource' | 'eventGridSubscription';
