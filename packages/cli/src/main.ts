#!/usr/bin/env node
import { Command } from 'commander';
import { ConfigError, RecoveryError, runServer } from '@corral/server';
import { writeDevConfig } from './devConfig.js';

const program = new Command();
program.name('corral').description('Corral: a ZooKeeper-compatible coordination service');

program
  .command('server')
  .description('run a server in the foreground from a ZooKeeper zoo.cfg')
  .argument('<zoo.cfg>', 'path to the config file (Apache ZooKeeper format)')
  .action(async (configPath: string) => {
    await runServer(configPath);
  });

program
  .command('dev')
  .description('run a development server on 127.0.0.1:2181 with its data under ./data (what `npm start` runs)')
  .option('--port <port>', 'client port', '2181')
  .option('--data <dir>', 'data directory', 'data')
  .action(async (options: { port: string; data: string }) => {
    const configPath = await writeDevConfig({ dataDir: options.data, clientPort: Number(options.port) });
    await runServer(configPath);
  });

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`corral: ${error.message}`);
    process.exit(2);
  }
  if (error instanceof RecoveryError) {
    console.error(`corral: cannot recover: ${error.message}`);
    process.exit(4);
  }
  console.error(error);
  process.exit(1);
});
