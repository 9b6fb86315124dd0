#!/usr/bin/env node
import { Command } from 'commander';
import { benchCommand } from '@corral/bench/cli';
import { ConfigError, RecoveryError, runServer } from '@corral/server';
import { writeDevConfig } from './devConfig.js';
import { dumpLog, dumpSnapshot, streamSink } from './dump.js';
import { shellCommand } from './shell/command.js';

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

/** `corral log dump f | head` closes the pipe early: stop quietly, as cat does. */
function stopQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

/** Output is flushed before exiting with the dump's status (a pipe may still hold buffered lines). */
async function finishDump(code: number): Promise<void> {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exitCode = code;
}

program
  .command('log')
  .description('inspect txn log files')
  .command('dump')
  .description('print every txn of a log segment (like zkTxnLogToolkit); exits 1 if a record is corrupt (a torn tail is not)')
  .argument('<file>', 'a log.<zxid> file from dataLogDir/version-2')
  .option('--json', 'one JSON document; ids as hex strings')
  .action(async (file: string, options: { json?: boolean }) => {
    stopQuietlyOnClosedPipe();
    await finishDump(await dumpLog(file, { json: options.json, out: streamSink(process.stdout), err: streamSink(process.stderr) }));
  });

program
  .command('snapshot')
  .description('inspect snapshot files')
  .command('dump')
  .description('print a snapshot, streamed: zxid, sessions, one line per node (like zkSnapShotToolkit); exits 1 if it fails to validate')
  .argument('<file>', 'a snapshot.<zxid> file from dataDir/version-2')
  .option('--json', 'one JSON document; ids as hex strings')
  .action(async (file: string, options: { json?: boolean }) => {
    stopQuietlyOnClosedPipe();
    await finishDump(await dumpSnapshot(file, { json: options.json, out: streamSink(process.stdout), err: streamSink(process.stderr) }));
  });

program.addCommand(benchCommand());
program.addCommand(shellCommand());

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
