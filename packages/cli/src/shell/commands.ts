// The zkCli commands that act on the session (org.apache.zookeeper.cli.*Command): each parses its
// arguments as zkCli does, calls @corral/client and prints what zkCli prints, where it prints it.

import {
  OPEN_ACL_UNSAFE,
  ZooKeeperError,
  type ACL,
  type CreateModeName,
  type OperationOptions,
  type RemoveWatchesType,
  type Stat,
  type WatchRemovedEventType,
  type Watcher,
  type ZooKeeperClient,
} from '@corral/client';
import { ErrorCode } from '@corral/protocol';
import { parseAcl } from './acl.js';
import { cliErrorMessage, formatAcl, formatStat, javaList, keeperMessage } from './format.js';
import { CliError, checkPath, parseJavaInt, parseJavaLong, parseOptions, type OptionSpec, type ParsedCommand } from './parse.js';

/** What a command may use of the shell it runs in. */
export interface CommandContext {
  readonly client: ZooKeeperClient;
  /** The session's default watcher (prints `WATCHER::` events); zkCli's `-w` leaves watches with it. */
  readonly watcher: Watcher;
  /** Options for every request (the shell's request timeout). */
  readonly requestOptions: OperationOptions;
  /** Writes to stdout / stderr as Java's print (no newline added). */
  out(text: string): void;
  err(text: string): void;
  /** Registers a persistent watch whose events go to the default watcher. */
  addPersistentWatch(path: string, recursive: boolean): Promise<void>;
  /** Delivers the WatchRemoved events of removewatches to the default watcher. */
  watchesRemoved(path: string, events: readonly WatchRemovedEventType[]): void;
  /** Closes the session (zkCli's `close`). */
  close(): Promise<void>;
}

export interface Command {
  readonly name: string;
  /** The option string zkCli's usage lists after the name. */
  readonly usage: string;
  run(ctx: CommandContext, argv: string[]): Promise<void>;
}

const println = (write: (text: string) => void, text: string): void => write(`${text}\n`);
const utf8 = new TextEncoder();
const decoder = new TextDecoder();

/** CliWrapperException for a failed request on `path` (the path the command passed, as Java's clientPath). */
export function wrap(error: unknown, path: string | null | undefined): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof ZooKeeperError) return new CliError(cliErrorMessage(error.errno, path));
  return new CliError(error instanceof Error ? error.message : String(error));
}

/** Runs one request; a failure becomes the CliError zkCli prints. */
async function call<T>(path: string | null, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw wrap(error, path);
  }
}

function usageOf(command: { name: string; usage: string }): string {
  return `${command.name} ${command.usage}`;
}

/** Parses and checks the minimum number of arguments (the command name counts), as most commands' parse() do. */
function parse(command: { name: string; usage: string }, spec: OptionSpec, argv: string[], min = 0): ParsedCommand {
  const cl = parseOptions(spec, argv);
  if (cl.args.length < min) throw new CliError(usageOf(command));
  return cl;
}

/**
 * zkCli's retainCompatibility for `cmd path watch`: the third token of the command line becomes
 * `-w` (the position in the raw command line, as zkCli does) and it warns on stderr.
 */
function retainWatchCompatibility(ctx: CommandContext, command: { name: string; usage: string }, spec: OptionSpec, argv: string[], cl: ParsedCommand, rewrite: boolean, warning: string): ParsedCommand {
  if (cl.args.length <= 2) return cl;
  const rewritten = [...argv];
  if (rewrite) rewritten[2] = '-w';
  println(ctx.err, warning);
  return parse(command, spec, rewritten);
}

function parseVersion(cl: ParsedCommand): number {
  if (!cl.has('v')) return -1;
  const text = cl.value('v')!;
  const version = parseJavaInt(text);
  // zkCli dies with a NumberFormatException stack trace here.
  if (version === undefined) throw new CliError(`-v argument must be an int value: ${text}`);
  return version;
}

/** ZKUtil.visitSubTreeDFS: the node itself, then each level's children sorted, depth first. */
async function visitSubTreeDFS(ctx: CommandContext, path: string, watch: boolean, visit: (path: string) => Promise<void> | void): Promise<void> {
  checkPath(path);
  const watchOption = watch ? { watcher: ctx.watcher } : {};
  await call(path, () => ctx.client.getData(path, { ...ctx.requestOptions, ...watchOption }));
  await visit(path);
  const helper = async (node: string): Promise<void> => {
    let children: string[];
    try {
      ({ children } = await ctx.client.getChildren(node, { ...ctx.requestOptions, ...watchOption }));
    } catch (error) {
      // A node listed but deleted before it could be read.
      if (error instanceof ZooKeeperError && error.errno === ErrorCode.NONODE) return;
      throw wrap(error, node);
    }
    children.sort(javaCompare);
    const prefix = node === '/' ? '/' : `${node}/`;
    for (const child of children) await visit(prefix + child);
    for (const child of children) await helper(prefix + child);
  };
  await helper(path);
}

/** String.compareTo: by UTF-16 code units. */
function javaCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const ls: Command = {
  name: 'ls',
  usage: '[-s] [-w] [-R] path',
  async run(ctx, argv) {
    const spec = { '?': false, s: false, w: false, R: false };
    let cl = parse(this, spec, argv);
    if (cl.has('?')) println(ctx.out, 'usage: ls [options] path\n -?   help\n -R   recurse\n -s   stat\n -w   watch');
    cl = retainWatchCompatibility(ctx, this, spec, argv, cl, true, "'ls path [watch]' has been deprecated. Please use 'ls [-w] path' instead.");
    if (cl.args.length < 2) throw new CliError(usageOf(this));
    const path = cl.args[1]!;
    const watch = cl.has('w');
    if (cl.has('R')) {
      await visitSubTreeDFS(ctx, path, watch, (p) => println(ctx.out, p));
      return;
    }
    checkPath(path);
    const { children, stat } = await call(path, () =>
      ctx.client.getChildren(path, { ...ctx.requestOptions, stat: cl.has('s'), ...(watch ? { watcher: ctx.watcher } : {}) }),
    );
    children.sort(javaCompare);
    ctx.out(`${javaList(children)}\n`);
    if (stat) ctx.out(formatStat(stat));
  },
};

const get: Command = {
  name: 'get',
  usage: '[-s] [-w] path',
  async run(ctx, argv) {
    const spec = { s: false, w: false };
    let cl = parse(this, spec, argv, 2);
    cl = retainWatchCompatibility(ctx, this, spec, argv, cl, true, "'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead.");
    const path = cl.args[1]!;
    checkPath(path);
    const { data, stat } = await call(path, () => ctx.client.getData(path, { ...ctx.requestOptions, ...(cl.has('w') ? { watcher: ctx.watcher } : {}) }));
    println(ctx.out, data === null ? 'null' : decoder.decode(data));
    if (cl.has('s')) ctx.out(formatStat(stat));
  },
};

const set: Command = {
  name: 'set',
  usage: '[-s] [-v version] path data',
  async run(ctx, argv) {
    const cl = parse(this, { s: false, v: true }, argv, 3);
    const path = cl.args[1]!;
    const data = utf8.encode(cl.args[2]!);
    const version = parseVersion(cl);
    checkPath(path);
    const stat = await call(path, () => ctx.client.setData(path, data, { ...ctx.requestOptions, version }));
    if (cl.has('s')) ctx.out(formatStat(stat));
  },
};

/** EphemeralType.TTL's largest value (40 bits). */
const MAX_TTL = 0xff_ffff_ffffn;

const create: Command = {
  name: 'create',
  usage: '[-s] [-e] [-c] [-t ttl] path [data] [acl]',
  async run(ctx, argv) {
    const cl = parse(this, { e: false, s: false, c: false, t: true }, argv, 2);
    const [hasE, hasS, hasC, hasT] = ['e', 's', 'c', 't'].map((o) => cl.has(o));
    if (hasC && (hasE || hasS)) throw new CliError('-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.');
    const ttl = hasT ? parseJavaLong(cl.value('t')!) : 0n;
    if (ttl === undefined) throw new CliError('-t argument must be a long value');
    if (hasT && hasE) throw new CliError('TTLs cannot be used with Ephemeral znodes');
    if (hasT && hasC) throw new CliError('TTLs cannot be used with Container znodes');
    let mode: CreateModeName;
    if (hasE && hasS) mode = 'ephemeralSequential';
    else if (hasE) mode = 'ephemeral';
    else if (hasS) mode = hasT ? 'ttlSequential' : 'persistentSequential';
    else if (hasC) mode = 'container';
    else mode = hasT ? 'ttl' : 'persistent';
    if (hasT && (ttl > MAX_TTL || ttl <= 0n)) throw new CliError(`ttl must be positive and cannot be larger than: ${MAX_TTL}`);
    const path = cl.args[1]!;
    const data = cl.args.length > 2 ? utf8.encode(cl.args[2]!) : null;
    const acl: ACL[] = cl.args.length > 3 ? parseAcl(cl.args[3]!, (line) => println(ctx.err, line)) : [...OPEN_ACL_UNSAFE];
    checkPath(path, mode === 'persistentSequential' || mode === 'ephemeralSequential' || mode === 'ttlSequential');
    if (acl.length === 0) {
      // The Java client refuses an empty ACL itself (an InvalidACLException without a path).
      println(ctx.err, keeperMessage(ErrorCode.INVALIDACL, null));
      throw new CliError(cliErrorMessage(ErrorCode.INVALIDACL, null));
    }
    let created: string;
    try {
      created = await ctx.client.create(path, data, { ...ctx.requestOptions, mode, acl, ...(hasT ? { ttlMs: Number(ttl) } : {}) });
    } catch (error) {
      if (error instanceof ZooKeeperError && error.errno === ErrorCode.EPHEMERALONLOCALSESSION) println(ctx.err, 'Unable to create ephemeral node on a local session');
      if (error instanceof ZooKeeperError && error.errno === ErrorCode.INVALIDACL) println(ctx.err, keeperMessage(error.errno, path));
      throw wrap(error, path);
    }
    println(ctx.err, `Created ${created}`);
  },
};

const del: Command = {
  name: 'delete',
  usage: '[-v version] path',
  async run(ctx, argv) {
    const spec = { v: true };
    let cl = parse(this, spec, argv, 2);
    cl = retainWatchCompatibility(ctx, this, spec, argv, cl, false, "'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.");
    const path = cl.args[1]!;
    const version = parseVersion(cl);
    checkPath(path);
    await call(path, () => ctx.client.delete(path, { ...ctx.requestOptions, version }));
  },
};

const deleteall: Command = {
  name: 'deleteall',
  usage: 'path [-b batch size]',
  async run(ctx, argv) {
    const cl = parse(this, { b: true }, argv, 2);
    const batchSize = cl.has('b') ? parseJavaInt(cl.value('b')!) : 1000;
    if (batchSize === undefined) throw new CliError('-b argument must be an int value');
    const root = cl.args[1]!;
    checkPath(root);
    // ZKUtil.deleteRecursive: list the tree breadth first, then delete it leaves first, in multis of batchSize.
    const tree = [root];
    for (let i = 0; i < tree.length; i++) {
      const node = tree[i]!;
      const { children } = await call(node, () => ctx.client.getChildren(node, ctx.requestOptions));
      for (const child of children) tree.push(`${node === '/' ? '' : node}/${child}`);
    }
    let ok = true;
    let batch = ctx.client.transaction();
    let size = 0;
    for (let i = tree.length - 1; i >= 0; i--) {
      batch.delete(tree[i]!);
      size++;
      if (size === batchSize || i === 0) {
        try {
          await batch.commit(ctx.requestOptions);
        } catch {
          ok = false;
          break;
        }
        batch = ctx.client.transaction();
        size = 0;
      }
    }
    if (!ok) println(ctx.err, 'Failed to delete some node(s) in the subtree!');
  },
};

const stat: Command = {
  name: 'stat',
  usage: '[-w] path',
  async run(ctx, argv) {
    const spec = { w: false };
    let cl = parse(this, spec, argv, 2);
    cl = retainWatchCompatibility(ctx, this, spec, argv, cl, true, "'stat path [watch]' has been deprecated. Please use 'stat [-w] path' instead.");
    const path = cl.args[1]!;
    checkPath(path);
    const result: Stat | null = await call(path, () => ctx.client.exists(path, { ...ctx.requestOptions, ...(cl.has('w') ? { watcher: ctx.watcher } : {}) }));
    if (result === null) throw new CliError(cliErrorMessage(ErrorCode.NONODE, path));
    ctx.out(formatStat(result));
  },
};

const getAcl: Command = {
  name: 'getAcl',
  usage: '[-s] path',
  async run(ctx, argv) {
    const cl = parse(this, { s: false }, argv, 2);
    const path = cl.args[1]!;
    checkPath(path);
    const { acl, stat } = await call(path, () => ctx.client.getACL(path, ctx.requestOptions));
    ctx.out(formatAcl(acl));
    if (cl.has('s')) ctx.out(formatStat(stat));
  },
};

const setAcl: Command = {
  name: 'setAcl',
  usage: '[-s] [-v version] [-R] path acl',
  async run(ctx, argv) {
    const cl = parse(this, { s: false, v: true, R: false }, argv, 3);
    const path = cl.args[1]!;
    const acl = parseAcl(cl.args[2]!, (line) => println(ctx.err, line));
    const version = parseVersion(cl);
    const setOne = (p: string): Promise<Stat> => {
      // ZooKeeper.setACL refuses an empty ACL before sending (an InvalidACLException without a path).
      if (acl.length === 0) return Promise.reject(new CliError(cliErrorMessage(ErrorCode.INVALIDACL, null)));
      return ctx.client.setACL(p, acl, { ...ctx.requestOptions, version });
    };
    if (cl.has('R')) {
      await visitSubTreeDFS(ctx, path, false, async (p) => {
        try {
          await setOne(p);
        } catch (error) {
          // zkCli prints the KeeperException's own message, without a newline.
          if (error instanceof ZooKeeperError) ctx.out(keeperMessage(error.errno, p));
          else if (error instanceof CliError) ctx.out(keeperMessage(ErrorCode.INVALIDACL, null));
          else throw error;
        }
      });
      return;
    }
    checkPath(path);
    const result = await call(path, () => setOne(path));
    if (cl.has('s')) ctx.out(formatStat(result));
  },
};

const addauth: Command = {
  name: 'addauth',
  usage: 'scheme auth',
  async run(ctx, argv) {
    const cl = parse(this, {}, argv, 2);
    const auth = cl.args.length >= 3 ? cl.args[2]! : new Uint8Array(0);
    const timeoutMs = ctx.requestOptions.timeoutMs;
    try {
      await ctx.client.addAuth(cl.args[1]!, auth, timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) });
    } catch {
      // zkCli does not wait for the answer: a rejected credential shows up as an AuthFailed event
      // (and the session is unusable afterwards), which the shell reports.
    }
  },
};

const sync: Command = {
  name: 'sync',
  usage: 'path',
  async run(ctx, argv) {
    const cl = parse(this, {}, argv, 2);
    const path = cl.args[1]!;
    checkPath(path);
    try {
      await ctx.client.sync(path, ctx.requestOptions);
      println(ctx.out, 'Sync is OK');
    } catch (error) {
      if (!(error instanceof ZooKeeperError)) throw wrap(error, path);
      println(ctx.out, `Sync has failed. rc=${error.errno}`);
    }
  },
};

const getEphemerals: Command = {
  name: 'getEphemerals',
  usage: 'path',
  async run(ctx, argv) {
    const cl = parse(this, {}, argv);
    const prefix = cl.args.length < 2 ? '/' : cl.args[1]!;
    checkPath(prefix);
    const ephemerals = await call(null, () => ctx.client.getEphemerals(prefix, ctx.requestOptions));
    println(ctx.out, javaList(ephemerals));
  },
};

const getAllChildrenNumber: Command = {
  name: 'getAllChildrenNumber',
  usage: 'path',
  async run(ctx, argv) {
    const cl = parse(this, {}, argv);
    if (cl.args.length < 2) throw new CliError(usageOf(this));
    const path = cl.args[1]!;
    checkPath(path);
    println(ctx.out, String(await call(path, () => ctx.client.getAllChildrenNumber(path, ctx.requestOptions))));
  },
};

const ADD_WATCH_MODES = ['PERSISTENT', 'PERSISTENT_RECURSIVE'];

const addWatch: Command = {
  name: 'addWatch',
  usage: `[-m mode] path # optional mode is one of [${ADD_WATCH_MODES.join(', ')}] - default is PERSISTENT_RECURSIVE`,
  async run(ctx, argv) {
    const cl = parseOptions({ m: true }, argv);
    if (cl.args.length !== 2) throw new CliError(usageOf(this));
    const mode = cl.has('m') ? cl.value('m')!.toUpperCase() : 'PERSISTENT_RECURSIVE';
    if (!ADD_WATCH_MODES.includes(mode)) throw new CliError(usageOf(this));
    const path = cl.args[1]!;
    checkPath(path);
    await call(path, () => ctx.addPersistentWatch(path, mode === 'PERSISTENT_RECURSIVE'));
  },
};

const removewatches: Command = {
  name: 'removewatches',
  usage: 'path [-c|-d|-a] [-l]',
  async run(ctx, argv) {
    const cl = parse(this, { c: false, d: false, a: false, l: false }, argv, 2);
    const path = cl.args[1]!;
    const type: RemoveWatchesType = cl.has('c') ? 'children' : cl.has('d') ? 'data' : 'any';
    checkPath(path);
    const events = await call(path, () => ctx.client.removeWatches(path, { ...ctx.requestOptions, type, local: cl.has('l') }));
    ctx.watchesRemoved(path, events);
  },
};

const whoami: Command = {
  name: 'whoami',
  usage: '',
  async run(ctx) {
    const infos = await call(null, () => ctx.client.whoAmI(ctx.requestOptions));
    println(ctx.out, 'Auth scheme: User');
    for (const info of infos) println(ctx.out, `${info.authScheme}: ${info.user}`);
  },
};

const close: Command = {
  name: 'close',
  usage: '',
  async run(ctx) {
    await ctx.close();
  },
};

/** The commands that need a session, by name. */
export const COMMANDS: ReadonlyMap<string, Command> = new Map(
  [ls, get, set, create, del, deleteall, stat, getAcl, setAcl, addauth, sync, getEphemerals, getAllChildrenNumber, addWatch, removewatches, whoami, close].map((c) => [c.name, c]),
);
