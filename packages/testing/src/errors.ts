/** Base class so callers can tell harness failures from assertion failures. */
export class HarnessError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The server process exited (or failed to spawn) before it was serving. */
export class ServerExitedError extends HarnessError {
  constructor(
    message: string,
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly logTail: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The server stayed up but never reported `Mode:` in `srvr` in time. */
export class ServerStartTimeoutError extends HarnessError {
  constructor(
    message: string,
    readonly logTail: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class FourLetterWordError extends HarnessError {}

/** A helper child process (zkCli, python) ran longer than allowed and was killed. */
export class CommandTimeoutError extends HarnessError {
  constructor(
    message: string,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** Java or the Debian ZooKeeper jars (or kazoo) are missing on this machine. */
export class DependencyUnavailableError extends HarnessError {}

/** packages/cli has not been built, or the repo root could not be located. */
export class CorralNotBuiltError extends HarnessError {}

/** Last `lines` lines of a log, for error messages. */
export function tail(text: string, lines = 40): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}
