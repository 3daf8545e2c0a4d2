/**
 * Error base for the whole gateway. Every error that can reach a client carries a
 * stable machine-readable `code` and an HTTP-like `status`; one HTTP filter and one
 * socket filter turn it into `{"error": {"code", "message"}}` (see the contract).
 * Libraries subclass these with their own codes (e.g. CHANNEL_NOT_FOUND).
 */
export class GatewayError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number = 500,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends GatewayError {
  constructor(message: string, code = 'VALIDATION_FAILED') {
    super(code, message, 400);
  }
}

export class UnauthenticatedError extends GatewayError {
  constructor(message = 'authentication required', code = 'UNAUTHENTICATED') {
    super(code, message, 401);
  }
}

export class ForbiddenError extends GatewayError {
  constructor(message = 'not allowed', code = 'FORBIDDEN') {
    super(code, message, 403);
  }
}

export class NotFoundError extends GatewayError {
  constructor(message: string, code = 'NOT_FOUND') {
    super(code, message, 404);
  }
}

export class ConflictError extends GatewayError {
  constructor(message: string, code = 'CONFLICT') {
    super(code, message, 409);
  }
}

/** A request larger than the gateway accepts (REST bodies, socket events): answered, never processed. */
export class PayloadTooLargeError extends GatewayError {
  constructor(message: string) {
    super('PAYLOAD_TOO_LARGE', message, 413);
  }
}

export class UnavailableError extends GatewayError {
  constructor(message: string, code = 'UNAVAILABLE') {
    super(code, message, 503);
  }
}

/** Describes an error for a client: known errors keep their code, anything else is INTERNAL. */
export function describeError(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof GatewayError) {
    return { status: error.status, code: error.code, message: error.message };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error' };
}
