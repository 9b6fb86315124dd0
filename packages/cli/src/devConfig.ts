import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Writes the zoo.cfg that `npm start` uses: loopback, port 2181, TTL nodes and every four-letter word on. */
export async function writeDevConfig(options: { dataDir: string; clientPort: number }): Promise<string> {
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const configPath = path.join(dataDir, 'zoo.cfg');
  const lines = [
    '# Written by `corral dev`; the same file starts Apache ZooKeeper.',
    'tickTime=2000',
    'initLimit=10',
    'syncLimit=5',
    `dataDir=${dataDir}`,
    `clientPort=${options.clientPort}`,
    'clientPortAddress=127.0.0.1',
    'extendedTypesEnabled=true',
    '4lw.commands.whitelist=*',
    'admin.enableServer=false',
  ];
  await writeFile(configPath, lines.join('\n') + '\n');
  return configPath;
}
