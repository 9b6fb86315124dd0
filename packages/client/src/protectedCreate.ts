import { randomUUID } from 'node:crypto';
import type { Stat } from '@corral/protocol';
import { NoNodeError } from './errors.js';
import type { Created } from './operations.js';
import { basename, joinPath, parentOf } from './paths.js';
import type { RetryOptions, RetryPolicy } from './retry.js';
import type { CreateOptions, OperationOptions } from './types.js';

/** The client operations a protected create is built from. */
export interface ProtectedCreateClient {
  getChildren(path: string, options: OperationOptions): Promise<{ children: string[] }>;
  exists(path: string, options: OperationOptions): Promise<Stat | null>;
  retry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, options: RetryOptions): Promise<T>;
}

/**
 * Curator's protected create: the node name gets a `_c_<uuid>-` prefix, so after a retryable
 * failure the parent's children show whether the lost create happened, instead of creating twice.
 * `send` performs one plain create of the given path.
 */
export function protectedCreate(
  client: ProtectedCreateClient,
  path: string,
  options: CreateOptions,
  retryPolicy: RetryPolicy,
  send: (path: string) => Promise<Created>,
): Promise<Created> {
  const parent = parentOf(path);
  const prefix = `_c_${randomUUID()}-`;
  const protectedPath = joinPath(parent, prefix + basename(path));
  let attempted = false;
  return client.retry(
    async () => {
      if (attempted) {
        const found = await find(client, parent, prefix, options);
        if (found !== undefined) {
          if (!options.stat) return found;
          const stat = await client.exists(found, { signal: options.signal });
          if (stat) return { path: found, stat };
          throw new NoNodeError({ path: found, message: `protected node ${found} vanished before its Stat was read` });
        }
      }
      attempted = true;
      return send(protectedPath);
    },
    retryPolicy,
    { signal: options.signal },
  );
}

async function find(client: ProtectedCreateClient, parent: string, prefix: string, options: OperationOptions): Promise<string | undefined> {
  try {
    const { children } = await client.getChildren(parent, { signal: options.signal, timeoutMs: options.timeoutMs });
    const name = children.find((child) => child.startsWith(prefix));
    return name === undefined ? undefined : joinPath(parent, name);
  } catch (error) {
    if (error instanceof NoNodeError) return undefined;
    throw error;
  }
}
