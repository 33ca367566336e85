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

export type DirectoryKind = 'tenant' | 'application' | 'applicationInstance' | 'user' | 'meeting';
