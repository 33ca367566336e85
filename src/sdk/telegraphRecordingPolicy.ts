// Recording download and delete with the official SDK (@azure/communication-call-automation)
// against Telegraph. Import as `telegraph/sdk` (the package's export) or copy this file: it depends
// on nothing but the SDK's own pipeline types.
//
// Why it is needed (docs/acs.md, "Downloading recordings with the SDK"):
// - The SDK signs a download or delete for `<client endpoint origin><content URL pathname>` with
//   x-ms-host = the endpoint's host, then (after signing) sends it to the URL in its `OriginalUrl`
//   header — the content URL — and ignores the client's `allowInsecureConnection` for it, so a plain
//   `http://` Telegraph is refused.
// - SDK 1.6.0 also refuses, before sending anything, a content URL that is not `https://` on a host
//   ending in .asm.skype.com, .asyncgw.teams.microsoft.com or .ams.gov.teams.microsoft.us.
//
// So: `toSdkRecordingUrl(contentLocation)` turns a Telegraph content URL into one the SDK accepts
// (same path, host `telegraph.asm.skype.com`; nothing is ever sent there), and
// `telegraphRecordingPolicy()` — a per-call pipeline policy — sends every content request to
// Telegraph instead: it rewrites the request URL and the OriginalUrl header to Telegraph's origin
// (by default the client's endpoint) and allows plain HTTP for it. Other requests pass untouched.
//
//   const client = new CallAutomationClient(connectionString, {
//     allowInsecureConnection: true,
//     additionalPolicies: [telegraphRecordingPolicy()],
//   });
//   await client.getCallRecording().downloadToPath(toSdkRecordingUrl(chunk.contentLocation), 'call.wav');
//   await client.getCallRecording().delete(toSdkRecordingUrl(chunk.deleteLocation));
import type { PipelinePolicy, PipelineRequest, PipelineResponse, SendRequest } from '@azure/core-rest-pipeline';

export const TELEGRAPH_RECORDING_POLICY_NAME = 'telegraphRecordingContent';
/** The host toSdkRecordingUrl puts in content URLs: it passes SDK 1.6.0's check, and the policy replaces it. */
export const SDK_RECORDING_HOST = 'telegraph.asm.skype.com';

export interface TelegraphRecordingPolicyOptions {
  /**
   * Telegraph's origin (e.g. `http://127.0.0.1:8080`). Default: the client's endpoint, which is where
   * the SDK already points the request before the policy runs.
   */
  origin?: string;
}

/** The entry for a client's `additionalPolicies`: `{ position: 'perCall', policy }`. */
export interface TelegraphAdditionalPolicy {
  position: 'perCall';
  policy: PipelinePolicy;
}

function originOf(url: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${what} '${url}' is not an absolute URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${what} '${url}' must be http or https`);
  return new URL(u.origin);
}

/**
 * The pipeline policy (as an `additionalPolicies` entry, position perCall) that sends the SDK's
 * recording download and delete requests to Telegraph. Requests without an OriginalUrl header (every
 * other SDK call) are left alone.
 */
export function telegraphRecordingPolicy(options: TelegraphRecordingPolicyOptions = {}): TelegraphAdditionalPolicy {
  const fixed = options.origin === undefined ? null : originOf(options.origin, 'origin');
  const policy: PipelinePolicy = {
    name: TELEGRAPH_RECORDING_POLICY_NAME,
    sendRequest(request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> {
      const original = request.headers.get('OriginalUrl');
      if (original) {
        const content = new URL(original);
        const origin = fixed ?? originOf(request.url, 'request URL');
        // Signed over this URL's pathname (the auth policy runs after this one), for the host in x-ms-host.
        request.url = `${origin.origin}${content.pathname}`;
        if (fixed) request.headers.set('x-ms-host', fixed.host);
        // Where the SDK sends it once signed.
        request.headers.set('OriginalUrl', `${origin.origin}${content.pathname}${content.search}`);
        request.allowInsecureConnection = true;
      }
      return next(request);
    },
  };
  return { position: 'perCall', policy };
}

/**
 * A Telegraph content URL (contentLocation, metadataLocation, deleteLocation of
 * RecordingFileStatusUpdated) as SDK 1.6.0 accepts it: https, host telegraph.asm.skype.com, same
 * path. Only meaningful with telegraphRecordingPolicy() in the client, which sends it to Telegraph.
 */
export function toSdkRecordingUrl(contentUrl: string): string {
  let u: URL;
  try {
    u = new URL(contentUrl);
  } catch {
    throw new Error(`'${contentUrl}' is not an absolute URL`);
  }
  return `https://${SDK_RECORDING_HOST}${u.pathname}${u.search}`;
}
