import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { GatewayError, describeError } from './errors';
import { redactText } from './redact';

/** Stable codes for errors raised by the HTTP stack itself rather than our code. */
function codeForHttpStatus(status: number): string {
  switch (status) {
    case 400:
      return 'BAD_REQUEST';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'ROUTE_NOT_FOUND';
    case 405:
      return 'METHOD_NOT_ALLOWED';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 429:
      return 'RATE_LIMITED';
    default:
      return status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
  }
}

/**
 * The one place where an error becomes an HTTP response:
 * `{"error": {"code": "STABLE_CODE", "message": "…"}}` with a fitting status.
 * Unknown errors become 500 INTERNAL and are logged with their stack; their
 * message never reaches the client (it might hold a secret or a path).
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  readonly #logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    let status: number;
    let code: string;
    let message: string;
    if (exception instanceof GatewayError) {
      ({ status, code, message } = describeError(exception));
    } else if (exception instanceof HttpException) {
      status = exception.getStatus();
      code = codeForHttpStatus(status);
      message = exception.message;
      // Nest maps body-parser's SyntaxError to a plain 400; give it its own code.
      if (status === 400 && /JSON/i.test(message)) {
        code = 'BAD_REQUEST_BODY';
        message = 'request body is not valid JSON';
      }
    } else if (isBodyParserError(exception)) {
      status = exception.status;
      code = exception.type === 'entity.too.large' ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST_BODY';
      message = exception.type === 'entity.too.large' ? 'request body too large' : 'request body is not valid JSON';
    } else {
      ({ status, code, message } = describeError(exception));
      const stack = exception instanceof Error ? exception.stack ?? exception.message : String(exception);
      this.#logger.error(redactText(stack));
    }
    if (response.headersSent) return;
    response.status(status).json({ error: { code, message: redactText(message) } });
  }
}

function isBodyParserError(error: unknown): error is { status: number; type: string } {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { status?: unknown }).status === 'number' &&
    typeof (error as { type?: unknown }).type === 'string'
  );
}
