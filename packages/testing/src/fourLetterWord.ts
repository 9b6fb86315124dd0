import { connect } from 'node:net';
import { FourLetterWordError } from './errors.js';

/**
 * Send a ZooKeeper four-letter word (ruok, srvr, stat, mntr, ...) and return
 * everything the server writes before it closes the connection.
 */
export function fourLetterWord(
  host: string,
  port: number,
  cmd: string,
  timeoutMs = 5000,
): Promise<string> {
  if (!/^[a-z]{4}$/i.test(cmd)) {
    return Promise.reject(new FourLetterWordError(`not a four-letter word: ${JSON.stringify(cmd)}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect({ host, port });

    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };

    const timer = setTimeout(() => {
      finish(new FourLetterWordError(`${cmd} to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);

    // Write without half-closing: the server answers and then closes on its own.
    socket.once('connect', () => socket.write(Buffer.from(cmd, 'ascii')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('end', () => finish());
    socket.once('close', () => finish());
    socket.once('error', (err: NodeJS.ErrnoException) => {
      // A reset after the reply arrived still means we got the whole answer.
      if (err.code === 'ECONNRESET' && chunks.length > 0) finish();
      else finish(new FourLetterWordError(`${cmd} to ${host}:${port} failed: ${err.message}`, { cause: err }));
    });
  });
}
