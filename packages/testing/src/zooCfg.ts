import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type ZooCfgSettings = Record<string, string | number>;

/** Write `<dir>/zoo.cfg` as `key=value` lines (insertion order) and return its path. */
export async function writeZooCfg(dir: string, settings: ZooCfgSettings): Promise<string> {
  const lines = Object.entries(settings).map(([key, value]) => {
    const text = String(value);
    // A newline would silently inject another setting.
    if (/[\r\n]/.test(key) || /[\r\n]/.test(text) || key.includes('=')) {
      throw new Error(`invalid zoo.cfg entry ${JSON.stringify(key)}=${JSON.stringify(text)}`);
    }
    return `${key}=${text}`;
  });
  const path = join(dir, 'zoo.cfg');
  await writeFile(path, lines.join('\n') + '\n', 'utf8');
  return path;
}

export interface StandaloneSettingsInput {
  dataDir: string;
  clientPort: number;
  /** TTL/container znodes; off by default, as in Apache ZooKeeper. */
  extendedTypesEnabled?: boolean;
}

/**
 * Settings for a single standalone server on loopback. All four-letter words
 * are whitelisted because the harness relies on `srvr`; the admin HTTP server
 * is off so it does not grab port 8080.
 */
export function defaultStandaloneSettings(input: StandaloneSettingsInput): ZooCfgSettings {
  const settings: ZooCfgSettings = {
    tickTime: 2000,
    initLimit: 10,
    syncLimit: 5,
    dataDir: input.dataDir,
    clientPort: input.clientPort,
    clientPortAddress: '127.0.0.1',
    '4lw.commands.whitelist': '*',
    'admin.enableServer': 'false',
  };
  // ZooKeeper turns unknown zoo.cfg keys into `zookeeper.<key>` system properties.
  if (input.extendedTypesEnabled) settings.extendedTypesEnabled = 'true';
  return settings;
}
