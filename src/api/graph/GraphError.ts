// The Graph error format, one factory for every error the Graph surface returns.
export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  static badRequest(message: string): GraphError {
    return new GraphError(400, 'BadRequest', message);
  }

  static invalidField(field: string, reason: string): GraphError {
    return new GraphError(400, 'BadRequest', `Invalid value for '${field}': ${reason}`);
  }

  static callNotFound(id: string): GraphError {
    return new GraphError(404, '8522', `Call ${id} was not found: it does not exist, has ended, or belongs to another application.`);
  }

  static forbidden(message: string, code = '7504'): GraphError {
    return new GraphError(403, code, message);
  }
}

export function graphErrorBody(code: string, message: string, requestId: string, clientRequestId: string | undefined): Record<string, unknown> {
  return {
    error: {
      code,
      message,
      innerError: {
        'request-id': requestId,
        date: new Date().toISOString().replace(/\.\d{3}Z$/, ''),
        'client-request-id': clientRequestId ?? requestId,
      },
    },
  };
}
