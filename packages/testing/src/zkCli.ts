import { runCommand, type RunResult } from './run.js';
import { requireZooKeeperJava, ZOOKEEPER_CLI_CLASSPATH } from './zookeeper.js';

export interface ZkCliOptions {
  /** Kill the JVM after this long (default 30 s). */
  timeoutMs?: number;
  /** Session timeout, also how long to wait for the connection (default 10 s). */
  sessionTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface ZkCliResult extends RunResult {
  /** Unfiltered output, for debugging. */
  rawStdout: string;
  rawStderr: string;
}

// With -waitforconnection, ZooKeeperMain always prints this preamble on stdout
// before running the command ("Connecting to ..." then the SyncConnected event).
const PREAMBLE = /^Connecting to [^\n]*\n(?:\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null[^\n]*\n)?/;

/**
 * Run one command through Apache ZooKeeper's Java CLI (ZooKeeperMain), e.g.
 * `zkCli(cs, ['get', '/a'])`. Arguments are passed verbatim (no shell).
 *
 * What ZooKeeper 3.8 prints where: data/listings (get, ls, stat) go to stdout;
 * confirmations such as "Created /a" and errors such as "Node does not exist: /a"
 * go to stderr. Exit code is 0 on success, 1 on a KeeperException, 127 for an
 * unknown command. The JVM exits without closing its session, so ephemeral
 * nodes it creates live until the session times out.
 */
export async function zkCli(connectString: string, args: string[], opts: ZkCliOptions = {}): Promise<ZkCliResult> {
  const java = requireZooKeeperJava();
  const result = await runCommand(
    java,
    [
      // Short-lived JVM: C1 only and serial GC start noticeably faster.
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      '-cp',
      ZOOKEEPER_CLI_CLASSPATH,
      'org.apache.zookeeper.ZooKeeperMain',
      '-server',
      connectString,
      '-timeout',
      String(opts.sessionTimeoutMs ?? 10_000),
      // Connect before running the command, so the preamble is deterministic
      // and an unreachable server fails instead of racing the command.
      '-waitforconnection',
      ...args,
    ],
    { env: opts.env, timeoutMs: opts.timeoutMs ?? 30_000 },
  );
  return {
    ...result,
    stdout: result.stdout.replace(PREAMBLE, ''),
    stderr: result.stderr
      .split('\n')
      .filter((line) => !line.startsWith('SLF4J:'))
      .join('\n'),
    rawStdout: result.stdout,
    rawStderr: result.stderr,
  };
}
