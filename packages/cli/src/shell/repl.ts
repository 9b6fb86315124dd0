// `corral shell`: ZooKeeperMain's command line (-server, -timeout, -r, then an optional command),
// the one-command mode and the interactive loop (readline, with history and completion on a TTY).

import { readFileSync } from 'node:fs';
import { createInterface, type Completer } from 'node:readline';
import { Shell, commandUsages, type ShellIO } from './shell.js';

export interface ShellMainOptions {
  server: string;
  timeoutMs: number;
  readOnly: boolean;
  /** Print the prompt (default: when stdin is a terminal, as zkCli with JLine). */
  prompt: boolean | undefined;
  help: boolean;
  /** The command and its arguments, if one was given. */
  command: string[] | undefined;
}

/**
 * ZooKeeperMain.MyCommandOptions.parseOptions: options up to the first argument not starting with
 * `-`, which starts the command. Unknown options are ignored, as zkCli does. `--name` works too.
 */
export function parseShellArgs(argv: readonly string[]): ShellMainOptions | { error: string } {
  const options: ShellMainOptions = { server: 'localhost:2181', timeoutMs: 30_000, readOnly: false, prompt: undefined, help: false, command: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.startsWith('--') ? arg.slice(1) : arg;
    const value = (): string | undefined => (i + 1 < argv.length ? argv[++i] : undefined);
    switch (name) {
      case '-server': {
        const v = value();
        if (v === undefined) return { error: `Error: no argument found for option ${arg}` };
        options.server = v;
        break;
      }
      case '-timeout': {
        const v = value();
        if (v === undefined) return { error: `Error: no argument found for option ${arg}` };
        const ms = Number(v);
        if (!/^\d+$/.test(v) || !Number.isSafeInteger(ms) || ms <= 0) return { error: `Error: -timeout needs a positive number of milliseconds, not ${v}` };
        options.timeoutMs = ms;
        break;
      }
      case '-r':
        options.readOnly = true;
        break;
      case '-prompt':
        options.prompt = true;
        break;
      case '-no-prompt':
        options.prompt = false;
        break;
      case '-h':
      case '-help':
        options.help = true;
        break;
      case '-waitforconnection':
        // The shell always waits for the connection before running a command.
        break;
      default:
        if (!arg.startsWith('-')) {
          options.command = argv.slice(i);
          return options;
        }
      // Other options are ignored, as zkCli ignores them.
    }
  }
  return options;
}

export function shellHelp(): string {
  const lines = [
    'Usage: corral shell [-server host:port[,host:port...][/chroot]] [-timeout ms] [-r] [-prompt|-no-prompt] [cmd args...]',
    '',
    'A zkCli-compatible shell. With a command it runs just that command and exits with its status',
    '(0 on success, 1 on an error, 127 for an unknown command); without one it reads commands from',
    'stdin. Defaults: -server localhost:2181, -timeout 30000 (session timeout; also how long to wait',
    'for the connection and for each reply). -r accepts read-only servers. The prompt is shown when',
    'stdin is a terminal, or with -prompt.',
    '',
    'Commands:',
    ...commandUsages().map(([name, usage]) => `\t${name} ${usage}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** @corral/cli's version, from its package.json (next to dist/, or two levels above src/shell/). */
function packageVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@corral/cli' && pkg.version) return pkg.version;
    } catch {
      // not there
    }
  }
  return 'unknown';
}

/** A completer for commands and, for an argument starting with `/`, znode paths. */
function completer(shell: Shell): Completer {
  const names = commandUsages().map(([name]) => name);
  return ((line: string, callback: (error: null | Error, result: [string[], string]) => void) => {
    const token = /\S*$/.exec(line)![0];
    const first = !/\S\s/.test(line);
    if (first || !token.startsWith('/')) {
      callback(null, [first ? names.filter((n) => n.startsWith(token)) : [], token]);
      return;
    }
    const client = shell.client;
    const slash = token.lastIndexOf('/');
    const parent = slash === 0 ? '/' : token.slice(0, slash);
    const prefix = token.slice(slash + 1);
    if (!client || !shell.alive) {
      callback(null, [[], token]);
      return;
    }
    client.getChildren(parent, { timeoutMs: 2000 }).then(
      ({ children }) => {
        const base = parent === '/' ? '/' : `${parent}/`;
        callback(null, [children.filter((c) => c.startsWith(prefix)).sort().map((c) => base + c), token]);
      },
      () => callback(null, [[], token]),
    );
  }) as unknown as Completer;
}

export interface RunShellOptions {
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** Runs `corral shell <argv>`; resolves with the exit status (zkCli's: the last command's). */
export async function runShell(argv: readonly string[], streams: RunShellOptions = {}): Promise<number> {
  const stdin = streams.stdin ?? process.stdin;
  const stdout = streams.stdout ?? process.stdout;
  const stderr = streams.stderr ?? process.stderr;
  const io: ShellIO = { out: (text) => void stdout.write(text), err: (text) => void stderr.write(text) };
  const parsed = parseShellArgs(argv);
  if ('error' in parsed) {
    io.err(`${parsed.error}\n`);
    return 2;
  }
  if (parsed.help) {
    io.out(shellHelp());
    return 0;
  }
  const shell = new Shell(io, { timeoutMs: parsed.timeoutMs, readOnly: parsed.readOnly, version: packageVersion() });
  io.out(`Connecting to ${parsed.server}\n`);

  if (parsed.command) {
    if (!(await shell.connect(parsed.server))) {
      shell.abandon();
      return 1;
    }
    await shell.processCmd(parsed.command);
    // Like the JVM exiting: the session is left to expire unless the command closed it.
    shell.abandon();
    return shell.exitCode;
  }

  await shell.connect(parsed.server);
  io.out('Welcome to ZooKeeper!\n');
  const terminal = Boolean(stdin.isTTY);
  const showPrompt = parsed.prompt ?? terminal;
  const rl = createInterface({
    input: stdin,
    output: terminal ? stdout : undefined,
    terminal,
    historySize: 1000,
    removeHistoryDuplicates: false,
    ...(terminal ? { completer: completer(shell) } : {}),
  });
  const prompt = (): void => {
    if (!showPrompt) return;
    if (terminal) {
      rl.setPrompt(shell.prompt);
      rl.prompt();
    } else {
      io.out(shell.prompt);
    }
  };
  rl.on('SIGINT', () => rl.close());
  prompt();
  try {
    for await (const line of rl) {
      await shell.executeLine(line);
      if (shell.quitRequested) break;
      prompt();
    }
  } finally {
    rl.close();
  }
  if (terminal && !shell.quitRequested) io.out('\n');
  shell.abandon();
  return shell.exitCode;
}
