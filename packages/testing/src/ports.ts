import { createServer } from 'node:net';

/**
 * Ask the kernel for an unused TCP port on 127.0.0.1. There is an unavoidable
 * race between closing this listener and the server binding the port, which is
 * acceptable for tests (the server then fails fast with a log tail).
 */
export function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`unexpected listen address: ${String(address)}`));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
