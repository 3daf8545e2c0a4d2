import { GatewayError } from '@gw/common';

/** The embedded TURN server did not come up: its port is taken, its TLS files are refused, it does not answer STUN. */
export class TurnStartError extends GatewayError {
  constructor(reason: string) {
    super('TURN_START_FAILED', `the embedded TURN server failed to start: ${reason}`, 500);
  }
}
