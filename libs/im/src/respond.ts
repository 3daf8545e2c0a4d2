import { Logger } from '@nestjs/common';
import { describeError, GatewayError, redactText } from '@gw/common';

export type Ack<T extends object = object> = ({ ok: true } & T) | { ok: false; error: { code: string; message: string } };

const logger = new Logger('Socket');

/**
 * The one place a socket request becomes an ack: `{ok: true, …result}` or
 * `{ok: false, error: {code, message}}`. Unknown errors are logged with their
 * stack and answered as INTERNAL, never with their message.
 */
export async function respond<T extends object>(work: () => Promise<T> | T): Promise<Ack<T>> {
  try {
    const result = await work();
    return { ok: true, ...result };
  } catch (error) {
    if (!(error instanceof GatewayError)) {
      logger.error(redactText(error instanceof Error ? error.stack ?? error.message : String(error)));
    }
    const { code, message } = describeError(error);
    return { ok: false, error: { code, message: redactText(message) } };
  }
}
