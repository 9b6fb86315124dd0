// One zkCli session: the connection, the default watcher that prints `WATCHER::` events, the command
// history and ZooKeeperMain's command dispatch (processCmd / processZKCmd).

import { AuthFailedError, createClient, type ClientState, type WatchRemovedEventType, type WatchedEvent, type Watcher, type ZooKeeperClient } from '@corral/client';
import { COMMANDS, type CommandContext } from './commands.js';
import { formatWatchedEvent, type KeeperState } from './format.js';
import { CliError, tokenize } from './parse.js';

export interface ShellIO {
  /** Raw writes (the shell adds the newlines). */
  out(text: string): void;
  err(text: string): void;
}

export interface ShellSettings {
  /** Session timeout requested from the server; also how long to wait for a connection or a reply. */
  timeoutMs: number;
  /** Accept read-only servers (zkCli's -r). */
  readOnly: boolean;
  /** The version `version` prints. */
  version: string;
}

/** Commands ZooKeeperMain handles itself, with their usage. */
const BUILTINS: Readonly<Record<string, string>> = {
  connect: 'host:port',
  history: '',
  redo: 'cmdno',
  printwatches: 'on|off',
  quit: '',
  version: '',
};

/** Every command name with its option string, as zkCli's usage lists them. */
export function commandUsages(): [string, string][] {
  const all: [string, string][] = [...Object.entries(BUILTINS), ...[...COMMANDS.values()].map((c): [string, string] => [c.name, c.usage])];
  return all.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** ZooKeeper.States names, as the prompt shows them. */
function javaState(state: ClientState): string {
  switch (state) {
    case 'connected':
    case 'reconnected':
      return 'CONNECTED';
    case 'readOnly':
      return 'CONNECTEDREADONLY';
    case 'lost':
    case 'closed':
      return 'CLOSED';
    case 'idle':
    case 'connecting':
    case 'suspended':
      return 'CONNECTING';
  }
}

export class Shell {
  readonly #io: ShellIO;
  readonly #settings: ShellSettings;
  #client: ZooKeeperClient | undefined;
  /** Clients whose events are no longer printed (the JVM would have exited, or the session was replaced). */
  readonly #silenced = new WeakSet<ZooKeeperClient>();
  /** Events already shown: ZooKeeper calls the default watcher once per event however many watches it fired. */
  readonly #shown = new WeakSet<WatchedEvent>();
  /** After a rejected addauth: 'pending' until the next command has failed with AuthFailed. */
  #authFailed: 'pending' | 'reported' | undefined;
  host = '';
  printWatches = true;
  readonly history = new Map<number, string>();
  commandCount = 0;
  exitCode = 0;
  /** Set by quit: the caller should exit with exitCode. */
  quitRequested = false;

  constructor(io: ShellIO, settings: ShellSettings) {
    this.#io = io;
    this.#settings = settings;
  }

  get client(): ZooKeeperClient | undefined {
    return this.#client;
  }

  /** ZooKeeper.getState() of the current session, e.g. CONNECTED. */
  get stateName(): string {
    if (!this.#client) return 'NOT_CONNECTED';
    if (this.#authFailed) return 'AUTH_FAILED';
    return javaState(this.#client.state);
  }

  /** ZooKeeper.States.isAlive(): not closed, expired or failed authentication. */
  get alive(): boolean {
    const name = this.stateName;
    return name !== 'CLOSED' && name !== 'AUTH_FAILED' && name !== 'NOT_CONNECTED';
  }

  /** `[zk: host:port(CONNECTED) 3] ` */
  get prompt(): string {
    return `[zk: ${this.host}(${this.stateName}) ${this.commandCount}] `;
  }

  #println(text: string): void {
    this.#io.out(`${text}\n`);
  }

  #eprintln(text: string): void {
    this.#io.err(`${text}\n`);
  }

  /** ZooKeeperMain.printMessage: a blank line, then the message. */
  #printMessage(text: string): void {
    this.#io.out(`\n${text}\n`);
  }

  /** The default watcher (ZooKeeperMain.MyWatcher). */
  #event(state: KeeperState, type: string, path: string | null): void {
    if (!this.printWatches) return;
    this.#printMessage('WATCHER::');
    this.#printMessage(formatWatchedEvent(state, type, path));
  }

  readonly #watcher: Watcher = (event) => {
    if (this.#shown.has(event)) return;
    this.#shown.add(event);
    this.#event('SyncConnected', event.type, event.path);
  };

  #onState(client: ZooKeeperClient, state: ClientState): void {
    if (this.#silenced.has(client)) return;
    switch (state) {
      case 'connected':
      case 'reconnected':
        return this.#event('SyncConnected', 'None', null);
      case 'readOnly':
        return this.#event('ConnectedReadOnly', 'None', null);
      case 'suspended':
        return this.#event('Disconnected', 'None', null);
      case 'lost':
        return this.#event('Expired', 'None', null);
      case 'closed':
        return this.#event('Closed', 'None', null);
      case 'idle':
      case 'connecting':
        return;
    }
  }

  /** A rejected credential ends the Java client's session (state AUTH_FAILED): so it does here. */
  #onAuthFailed(client: ZooKeeperClient): void {
    if (this.#silenced.has(client) || client !== this.#client) return;
    this.#event('AuthFailed', 'None', null);
    this.#authFailed = 'pending';
    this.#silenced.add(client);
    client.destroy(new AuthFailedError());
  }

  /**
   * ZooKeeperMain.connectToZK: closes the current session if it is alive, then connects to `host`,
   * waiting up to the timeout (as zkCli's -waitforconnection). Returns whether it connected.
   */
  async connect(host: string): Promise<boolean> {
    const previous = this.#client;
    if (previous && this.alive) await previous.close();
    else if (previous) this.#silence(previous);
    this.host = host;
    this.#authFailed = undefined;
    let client: ZooKeeperClient;
    try {
      client = createClient(host, { sessionTimeoutMs: this.#settings.timeoutMs, canBeReadOnly: this.#settings.readOnly });
    } catch (error) {
      this.#client = undefined;
      this.#eprintln(error instanceof Error ? error.message : String(error));
      return false;
    }
    this.#client = client;
    client.on('state', (state) => this.#onState(client, state));
    client.on('authFailed', () => this.#onAuthFailed(client));
    let timer: NodeJS.Timeout | undefined;
    const connected = await Promise.race([
      client.connect().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), this.#settings.timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!connected) this.#eprintln(`Unable to connect to ${host} within ${this.#settings.timeoutMs} ms (still trying)`);
    return connected;
  }

  #silence(client: ZooKeeperClient): void {
    this.#silenced.add(client);
    client.destroy();
  }

  /**
   * Leaves the way the JVM exits: the session is not closed (its ephemerals live until it expires)
   * and nothing more is printed.
   */
  abandon(): void {
    if (this.#client) this.#silence(this.#client);
  }

  /** ZooKeeperMain.executeLine: one interactive line (recorded in the history). */
  async executeLine(line: string): Promise<void> {
    if (line === '') return;
    const args = tokenize(line);
    this.history.set(this.commandCount, line);
    if (args.length > 0) await this.processCmd(args);
    this.commandCount++;
  }

  /** ZooKeeperMain.processCmd: runs one command, prints its error and sets exitCode. */
  async processCmd(args: string[]): Promise<void> {
    try {
      await this.#processZKCmd(args);
      // quit exits with the status of the command before it (zkCli exits from within quit).
      if (!this.quitRequested) this.exitCode = 0;
    } catch (error) {
      if (error instanceof CliError) {
        this.exitCode = error.exitCode;
        this.#eprintln(error.message);
      } else {
        // zkCli would die with a stack trace here.
        this.exitCode = 1;
        this.#eprintln(error instanceof Error ? (error.stack ?? error.message) : String(error));
      }
    }
  }

  #usage(): void {
    const lines = ['corral shell -server host:port[,host:port...][/chroot] [-timeout ms] [-r] cmd args'];
    for (const [name, usage] of commandUsages()) lines.push(`\t${name} ${usage}`);
    this.#eprintln(lines.join('\n'));
  }

  async #processZKCmd(args: string[]): Promise<void> {
    const cmd = args[0]!;
    const command = COMMANDS.get(cmd);
    if (!command && !Object.hasOwn(BUILTINS, cmd)) {
      this.#usage();
      throw new CliError(`Command not found: Command not found ${cmd}`, 127);
    }
    switch (cmd) {
      case 'quit':
        if (this.#client && this.alive) await this.#client.close();
        this.quitRequested = true;
        return;
      case 'redo':
        if (args.length >= 2) await this.#redo(args[1]!);
        break;
      case 'history':
        for (let i = this.commandCount - 10; i <= this.commandCount; i++) {
          if (i >= 0) this.#println(`${i} - ${this.history.get(i) ?? 'null'}`);
        }
        break;
      case 'printwatches':
        if (args.length === 1) this.#println(`printwatches is ${this.printWatches ? 'on' : 'off'}`);
        else this.printWatches = args[1] === 'on';
        break;
      case 'connect':
        await this.connect(args.length >= 2 ? args[1]! : this.host);
        break;
      case 'version':
        this.#println(`ZooKeeper CLI version: Corral ${this.#settings.version}`);
        return;
    }
    // Below commands all need a live connection.
    const client = this.#client;
    if (!client || !this.alive) {
      if (this.#authFailed === 'pending' && client && command) {
        // The command issued right after a rejected addauth fails with AuthFailed (the Java client
        // had already queued it); later ones find the session gone.
        this.#authFailed = 'reported';
        await command.run(this.#context(client), [...args]);
        return;
      }
      this.#println('Not connected');
      return;
    }
    if (command) await command.run(this.#context(client), [...args]);
  }

  async #redo(indexText: string): Promise<void> {
    const index = javaDecode(indexText);
    if (index === undefined) throw new CliError(`For input string: "${indexText}"`);
    if (this.commandCount <= index || index < 0) throw new CliError('Command index out of range');
    const line = this.history.get(index) ?? '';
    const args = tokenize(line);
    if (args[0] === 'redo') throw new CliError('No redoing redos');
    this.history.set(this.commandCount, line);
    if (args.length > 0) await this.processCmd(args);
  }

  #context(client: ZooKeeperClient): CommandContext {
    return {
      client,
      watcher: this.#watcher,
      requestOptions: { timeoutMs: this.#settings.timeoutMs },
      out: (text) => this.#io.out(text),
      err: (text) => this.#io.err(text),
      addPersistentWatch: async (path, recursive) => {
        const watch = await client.watch(path, { recursive, timeoutMs: this.#settings.timeoutMs });
        void (async () => {
          try {
            for await (const event of watch) this.#watcher(event);
          } catch {
            // The session ended; its Expired/Closed event has been shown.
          }
        })();
      },
      watchesRemoved: (path, events: readonly WatchRemovedEventType[]) => {
        for (const type of events) this.#event('SyncConnected', type, path);
      },
      close: () => client.close(),
    };
  }
}

/** Integer.decode: decimal, 0x/0X/# hex, leading-0 octal, optional sign. */
function javaDecode(text: string): number | undefined {
  const match = /^([+-]?)(0[xX][0-9a-fA-F]+|#[0-9a-fA-F]+|0[0-7]+|\d+)$/.exec(text);
  if (!match) return undefined;
  const [, sign, digits] = match;
  let value: number;
  if (/^0[xX]/.test(digits!)) value = parseInt(digits!.slice(2), 16);
  else if (digits!.startsWith('#')) value = parseInt(digits!.slice(1), 16);
  else if (digits!.length > 1 && digits!.startsWith('0')) value = parseInt(digits!.slice(1), 8);
  else value = parseInt(digits!, 10);
  value = sign === '-' ? -value : value;
  return value < -(2 ** 31) || value > 2 ** 31 - 1 ? undefined : value;
}
