import type { ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ServerExitedError, ServerStartTimeoutError, tail } from './errors.js';
import { fourLetterWord } from './fourLetterWord.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcessInfo {
  /** Human-readable label used in error messages ("corral", "zookeeper"). */
  name: string;
  host: string;
  port: number;
  dataDir: string;
  /** Per-server temp directory holding zoo.cfg, data and server.log. */
  tmpDir: string;
  cfgPath: string;
}

// Children still running when the test worker exits are SIGKILLed so a crashed
// or aborted test run does not leave servers holding ports.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/** A spawned server (Corral or Apache ZooKeeper) that we own and must stop. */
export class ServerProcess {
  readonly pid: number;
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly tmpDir: string;
  readonly cfgPath: string;
  readonly logPath: string;

  readonly #child: ChildProcess;
  readonly #log: string[] = [];
  readonly #logFile: WriteStream;
  readonly #exited: Promise<ExitInfo>;
  #exit: ExitInfo | undefined;

  constructor(child: ChildProcess, info: ServerProcessInfo) {
    if (child.pid === undefined) throw new Error(`${info.name}: child process has no pid (spawn failed)`);
    this.pid = child.pid;
    this.#child = child;
    ({ name: this.name, host: this.host, port: this.port, dataDir: this.dataDir, tmpDir: this.tmpDir, cfgPath: this.cfgPath } = info);
    this.logPath = join(this.tmpDir, 'server.log');
    this.#logFile = createWriteStream(this.logPath, { flags: 'a' });
    this.#logFile.on('error', () => {}); // losing the file copy must not crash tests
    track(child);

    const append = (text: string): void => {
      this.#log.push(text);
      this.#logFile.write(text);
    };
    // setEncoding keeps multi-byte characters split across chunks intact.
    child.stdout?.setEncoding('utf8').on('data', append);
    child.stderr?.setEncoding('utf8').on('data', append);

    this.#exited = new Promise<ExitInfo>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        live.delete(child);
        this.#logFile.end(() => resolve(this.#exit!));
      };
      child.once('exit', (code, signal) => {
        this.#exit ??= { code, signal };
        // 'close' normally follows once stdio drains; don't hang if a grandchild holds the pipes.
        setTimeout(finish, 2000).unref();
      });
      child.once('close', (code, signal) => {
        this.#exit ??= { code, signal };
        finish();
      });
      // After a successful spawn, 'error' only reports failed kill()s; 'exit' still follows.
      child.on('error', () => {});
    });
  }

  /** `host:port` for ZooKeeper clients. */
  get connectString(): string {
    return `${this.host}:${this.port}`;
  }

  /** Undefined while running. */
  get exitInfo(): ExitInfo | undefined {
    return this.#exit;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** Everything the process printed on stdout and stderr so far. */
  logText(): string {
    return this.#log.join('');
  }

  /** Resolves when the process has exited and its output is flushed to server.log. */
  waitForExit(): Promise<ExitInfo> {
    return this.#exited;
  }

  /** SIGTERM, then SIGKILL if it is still alive after `graceMs`. */
  async stop(graceMs = 10_000): Promise<ExitInfo> {
    if (this.#exit) return this.#exited;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    try {
      return await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** stop() and delete the temp dir (zoo.cfg, data, server.log). Keep it when you need the log. */
  async cleanup(): Promise<void> {
    await this.stop();
    await rm(this.tmpDir, { recursive: true, force: true });
  }

  /** SIGKILL (simulates a crash) and wait for the exit. */
  async kill(): Promise<ExitInfo> {
    if (this.#exit) return this.#exited;
    this.#child.kill('SIGKILL');
    return this.#exited;
  }

  /**
   * Poll `srvr` until it reports a `Mode:` line; `ruok` alone is not enough
   * because ZooKeeper answers it before the database is loaded.
   */
  async waitUntilServing(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const exited = this.#exited.then(() => 'exited' as const);
    let lastProblem = 'no answer yet';
    for (;;) {
      if (this.#exit) throw this.#exitedError();
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new ServerStartTimeoutError(
          `${this.name} (pid ${this.pid}) on ${this.connectString} not serving after ${timeoutMs} ms ` +
            `(last srvr: ${lastProblem})\n--- log tail (${this.logPath}) ---\n${tail(this.logText())}`,
          tail(this.logText()),
        );
      }
      const probe = fourLetterWord(this.host, this.port, 'srvr', Math.min(2000, remaining)).then(
        (text) => ({ text }),
        (err: unknown) => ({ err }),
      );
      const result = await Promise.race([probe, exited]);
      if (result === 'exited') throw this.#exitedError();
      if ('text' in result) {
        if (/^Mode:/m.test(result.text)) return;
        lastProblem = JSON.stringify(result.text.slice(0, 200));
      } else {
        lastProblem = result.err instanceof Error ? result.err.message : String(result.err);
      }
      if ((await Promise.race([sleep(100), exited])) === 'exited') throw this.#exitedError();
    }
  }

  #exitedError(): ServerExitedError {
    const exit = this.#exit ?? { code: null, signal: null };
    const logTail = tail(this.logText());
    return new ServerExitedError(
      `${this.name} (pid ${this.pid}) exited with code ${exit.code} signal ${exit.signal} ` +
        `before serving on ${this.connectString}\n--- log tail (${this.logPath}) ---\n${logTail}`,
      exit.code,
      exit.signal,
      logTail,
    );
  }
}
