// The ACS error format, one factory for every error the ACS Call Automation surface returns.
//
// Wire shape (Azure REST API guidelines, as the ACS services answer):
//   {"error":{"code","message","target?","details?":[…same shape…],"innererror?":{"code","innererror?"}}}
//
// core-client (the SDK's HTTP layer) turns any undeclared status into a RestError whose message is
// `error.message`; the `code` is informational. Real ACS answers a failed HMAC check with 401 and
// code "Denied" (e.g. "Request 'x-ms-content-sha256' differs from generated content hash."), so the
// authentication errors use that code with a message saying exactly what failed. The other codes are
// Telegraph's own plain names (BadRequest, NotFound, Conflict, …), except callNotFound, which uses
// 8522 ("call not found", as the Graph surface does; unverified what ACS itself sends).
//
// Quirk (reference §1): for the recording content URLs (download and delete) the SDK does not read
// `error`; it throws `{status, message}` taken from the TOP LEVEL of the JSON body. Error bodies on
// content URLs are therefore rendered with `acsContentErrorBody`, which carries both shapes.

export interface AcsErrorDetail {
  code: string;
  message: string;
  target?: string;
  details?: AcsErrorDetail[];
}

export interface AcsInnerError {
  code: string;
  innererror?: AcsInnerError;
}

export interface AcsErrorBody {
  error: {
    code: string;
    message: string;
    target?: string;
    details?: AcsErrorDetail[];
    innererror?: AcsInnerError;
  };
}

/** The body served on recording content URLs: the standard body plus top-level `status` and `message`. */
export interface AcsContentErrorBody extends AcsErrorBody {
  status: number;
  message: string;
}

export interface AcsErrorOptions {
  target?: string;
  details?: AcsErrorDetail[];
  innererror?: AcsInnerError;
  /** Response headers that belong to this error (Retry-After, Repeatability-Result, …). */
  headers?: Record<string, string>;
}

export class AcsError extends Error {
  readonly target: string | undefined;
  readonly details: AcsErrorDetail[] | undefined;
  readonly innererror: AcsInnerError | undefined;
  readonly headers: Record<string, string>;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options: AcsErrorOptions = {},
  ) {
    super(message);
    this.name = 'AcsError';
    this.target = options.target;
    this.details = options.details;
    this.innererror = options.innererror;
    this.headers = { ...(options.headers ?? {}) };
  }

  // ---- 400
  static badRequest(message: string, options: AcsErrorOptions = {}): AcsError {
    return new AcsError(400, 'BadRequest', message, options);
  }

  /** A malformed or unacceptable request field; `field` is a JSON path such as `targets[0].phoneNumber.value`. */
  static invalidField(field: string, reason: string, options: AcsErrorOptions = {}): AcsError {
    return new AcsError(400, 'BadRequest', `Invalid value for '${field}': ${reason}`, { target: field, ...options });
  }

  // ---- 401 / 403
  /** A request whose HMAC (or other) authentication failed; the message says exactly what failed. */
  static unauthorized(message: string, options: AcsErrorOptions = {}): AcsError {
    return new AcsError(401, 'Denied', message, options);
  }

  static forbidden(message: string, options: AcsErrorOptions = {}): AcsError {
    return new AcsError(403, 'Forbidden', message, options);
  }

  // ---- 404
  static notFound(message: string, options: AcsErrorOptions = {}): AcsError {
    return new AcsError(404, 'NotFound', message, options);
  }

  static callNotFound(callConnectionId: string): AcsError {
    return new AcsError(404, '8522', `Call connection ${callConnectionId} was not found: it does not exist, has ended, or belongs to another resource.`, {
      target: 'callConnectionId',
    });
  }

  static recordingNotFound(recordingId: string): AcsError {
    return new AcsError(404, 'NotFound', `Recording ${recordingId} was not found.`, { target: 'recordingId' });
  }

  // ---- 409 / 412
  static conflict(message: string, options: AcsErrorOptions = {}): AcsError {
    return new AcsError(409, 'Conflict', message, options);
  }

  static preconditionFailed(message: string, options: AcsErrorOptions = {}): AcsError {
    return new AcsError(412, 'PreconditionFailed', message, options);
  }

  // ---- 429 / 5xx (the SDK retries 408, 429 and 5xx)
  static tooManyRequests(message: string, retryAfterSeconds?: number): AcsError {
    const headers: Record<string, string> = {};
    if (retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.max(0, Math.ceil(retryAfterSeconds)));
    return new AcsError(429, 'TooManyRequests', message, { headers });
  }

  static internal(message = 'An unexpected error occurred.'): AcsError {
    return new AcsError(500, 'InternalServerError', message);
  }

  /** The standard `{"error":{…}}` body. */
  toBody(): AcsErrorBody {
    return acsErrorBody(this.code, this.message, {
      target: this.target,
      details: this.details,
      innererror: this.innererror,
    });
  }

  /** The body for recording content URLs (download/delete): standard body plus top-level status and message. */
  toContentBody(): AcsContentErrorBody {
    return acsContentErrorBody(this.status, this.code, this.message, {
      target: this.target,
      details: this.details,
      innererror: this.innererror,
    });
  }
}

export function isAcsError(err: unknown): err is AcsError {
  return err instanceof AcsError;
}

/** Renders the standard ACS error body; absent optional members are left out rather than sent as null. */
export function acsErrorBody(
  code: string,
  message: string,
  extra: { target?: string | undefined; details?: AcsErrorDetail[] | undefined; innererror?: AcsInnerError | undefined } = {},
): AcsErrorBody {
  const error: AcsErrorBody['error'] = { code, message };
  if (extra.target !== undefined) error.target = extra.target;
  if (extra.details !== undefined && extra.details.length > 0) error.details = extra.details;
  if (extra.innererror !== undefined) error.innererror = extra.innererror;
  return { error };
}

/** Renders an error body for a recording content URL: `{status, message, error:{…}}` (see the file header). */
export function acsContentErrorBody(
  status: number,
  code: string,
  message: string,
  extra: { target?: string | undefined; details?: AcsErrorDetail[] | undefined; innererror?: AcsInnerError | undefined } = {},
): AcsContentErrorBody {
  return { status, message, ...acsErrorBody(code, message, extra) };
}
