import { connect } from 'node:net';
import { parseCliSessions, TurnSession } from './cli-sessions';

/**
 * Lists the sessions of a coturn through its telnet CLI on loopback: log in,
 * `ps`, read up to the session count, quit. Rejects after `timeoutMs`.
 */
export function listTurnSessions(port: number, password: string, timeoutMs = 2000): Promise<TurnSession[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    let stage: 'password' | 'prompt' | 'ps' = 'password';
    const timer = setTimeout(() => fail(new Error(`TURN CLI did not answer within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.on('error', fail);
    socket.on('data', (data) => {
      // Telnet option bytes are noise to us; latin1 keeps every byte one character.
      text += data.toString('latin1');
      if (stage === 'password' && /Enter password:\s*$/.test(text)) {
        stage = 'prompt';
        text = '';
        socket.write(`${password}\r\n`);
      } else if (stage === 'prompt' && />\s*$/.test(text)) {
        if (/denied|incorrect|wrong/i.test(text)) return fail(new Error('TURN CLI refused the password'));
        stage = 'ps';
        text = '';
        socket.write('ps\r\n');
      } else if (stage === 'ps' && /Total sessions: \d+[\s\S]*>\s*$/.test(text)) {
        clearTimeout(timer);
        socket.end('quit\r\n');
        socket.destroy();
        resolve(parseCliSessions(text));
      }
    });
  });
}
