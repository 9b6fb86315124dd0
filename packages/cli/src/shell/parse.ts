// How zkCli reads its input: the tokenizer of ZooKeeperMain.MyCommandOptions.parseCommand, the
// subset of Apache commons-cli's DefaultParser its commands use (short options, with or without a
// value), and Java's Integer/Long parsing.

/** A command failed: zkCli prints `message` on stderr and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

// ZooKeeperMain.MyCommandOptions.ARGS_PATTERN and QUOTED_PATTERN.
const ARGS_PATTERN = /\s*([^"']\S*|"[^"]*"|'[^']*')\s*/g;
const QUOTED_PATTERN = /^(['"])(.*)\1$/s;

/** Splits an interactive line as zkCli does: whitespace separates, "..." and '...' group (quotes stripped). */
export function tokenize(line: string): string[] {
  const args: string[] = [];
  ARGS_PATTERN.lastIndex = 0;
  for (let match = ARGS_PATTERN.exec(line); match; match = ARGS_PATTERN.exec(line)) {
    let value = match[1]!;
    if (QUOTED_PATTERN.test(value)) value = value.slice(1, -1);
    args.push(value);
  }
  return args;
}

/** Option letter → whether it takes a value. */
export type OptionSpec = Readonly<Record<string, boolean>>;

export interface ParsedCommand {
  /** The command name and the non-option arguments, in order (commons-cli's getArgs()). */
  readonly args: string[];
  has(option: string): boolean;
  value(option: string): string | undefined;
}

function parseError(kind: string, message: string): CliError {
  // CliParseException(ParseException): the message is the ParseException's toString().
  return new CliError(`org.apache.commons.cli.${kind}: ${message}`);
}

const isNegativeNumber = (token: string): boolean => /^-\d+(\.\d+)?$/.test(token) || /^-\.\d+$/.test(token);

/**
 * commons-cli 1.5 DefaultParser over short options only (all zkCli uses): `-s`, `-sw`, `-v 3`,
 * `-v3`, `-v=3`, `--` ends options; options may follow arguments; an unknown `-x` is an error.
 */
export function parseOptions(spec: OptionSpec, argv: readonly string[]): ParsedCommand {
  const values = new Map<string, string[]>();
  const args: string[] = [];
  let pending: string | undefined; // an option still waiting for its value
  let skipParsing = false;
  const known = (name: string): boolean => Object.hasOwn(spec, name);
  const isOption = (token: string): boolean => {
    if (!token.startsWith('-') || token.length === 1) return false;
    const eq = token.indexOf('=');
    const name = eq === -1 ? token.slice(1) : token.slice(1, eq);
    // isShortOption (exact, or the first of concatenated ones), or a "-v3" long prefix.
    return known(name) || (name.length > 0 && known(name[0]!));
  };
  const handleOption = (name: string): void => {
    if (pending !== undefined) throw parseError('MissingArgumentException', `Missing argument for option: ${pending}`);
    if (!values.has(name)) values.set(name, []);
    pending = spec[name] ? name : undefined;
  };
  const unknown = (token: string): void => {
    if (token.startsWith('-') && token.length > 1) throw parseError('UnrecognizedOptionException', `Unrecognized option: ${token}`);
    args.push(token);
  };
  const withValue = (name: string, value: string): void => {
    handleOption(name);
    values.get(name)!.push(value);
    pending = undefined;
  };
  for (const token of argv) {
    if (skipParsing) {
      args.push(token);
    } else if (token === '--') {
      skipParsing = true;
    } else if (pending !== undefined && (!isOption(token) || isNegativeNumber(token))) {
      values.get(pending)!.push(token);
      pending = undefined;
    } else if (token.startsWith('--')) {
      // No command has long options.
      if (pending !== undefined) throw parseError('MissingArgumentException', `Missing argument for option: ${pending}`);
      throw parseError('UnrecognizedOptionException', `Unrecognized option: ${token}`);
    } else if (token.startsWith('-') && token !== '-') {
      const t = token.slice(1);
      const eq = t.indexOf('=');
      if (t.length === 1) {
        if (known(t)) handleOption(t);
        else unknown(token);
      } else if (eq === -1) {
        if (known(t[0]!) && spec[t[0]!]) {
          withValue(t[0]!, t.slice(1)); // -v3
        } else {
          // -sw: concatenated flags; a value-taking one takes the rest of the token.
          for (let i = 1; i < token.length; i++) {
            const ch = token[i]!;
            if (!known(ch)) {
              unknown(token);
              break;
            }
            handleOption(ch);
            if (pending !== undefined && i + 1 < token.length) {
              values.get(ch)!.push(token.slice(i + 1));
              pending = undefined;
              break;
            }
          }
        }
      } else {
        const name = t.slice(0, eq);
        if (name.length === 1 && known(name) && spec[name]) withValue(name, t.slice(eq + 1));
        else unknown(token);
      }
    } else {
      args.push(token);
    }
  }
  if (pending !== undefined) throw parseError('MissingArgumentException', `Missing argument for option: ${pending}`);
  return {
    args,
    has: (option) => values.has(option),
    value: (option) => values.get(option)?.[0],
  };
}

const INT_MIN = -(2n ** 31n);
const INT_MAX = 2n ** 31n - 1n;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

function parseJavaInteger(text: string, min: bigint, max: bigint): bigint | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const value = BigInt(text);
  return value < min || value > max ? undefined : value;
}

/** Integer.parseInt, or undefined where Java throws NumberFormatException. */
export function parseJavaInt(text: string): number | undefined {
  const value = parseJavaInteger(text, INT_MIN, INT_MAX);
  return value === undefined ? undefined : Number(value);
}

/** Long.parseLong, or undefined where Java throws NumberFormatException. */
export function parseJavaLong(text: string): bigint | undefined {
  return parseJavaInteger(text, LONG_MIN, LONG_MAX);
}

/** PathUtils.validatePath: the IllegalArgumentException message, or undefined for a valid path. */
export function javaPathError(path: string, sequential = false): string | undefined {
  if (sequential) path = `${path}1`;
  if (path.length === 0) return 'Path length must be > 0';
  if (path[0] !== '/') return 'Path must start with / character';
  if (path.length === 1) return undefined;
  if (path.endsWith('/')) return 'Path must not end with / character';
  let reason: string | undefined;
  let last = '/';
  for (let i = 1; i < path.length; last = path[i]!, i++) {
    const c = path[i]!;
    const code = path.charCodeAt(i);
    const endsSegment = i + 1 === path.length || path[i + 1] === '/';
    if (code === 0) {
      reason = `null character not allowed @${i}`;
    } else if (c === '/' && last === '/') {
      reason = `empty node name specified @${i}`;
    } else if (c === '.' && last === '.') {
      if (path[i - 2] === '/' && endsSegment) reason = `relative paths not allowed @${i}`;
    } else if (c === '.') {
      if (path[i - 1] === '/' && endsSegment) reason = `relative paths not allowed @${i}`;
    } else if ((code > 0 && code <= 0x1f) || (code >= 0x7f && code <= 0x9f) || (code >= 0xd800 && code <= 0xf8ff) || (code >= 0xfff0 && code <= 0xffff)) {
      reason = `invalid character @${i}`;
    }
    if (reason) break;
  }
  return reason === undefined ? undefined : `Invalid path string "${path}" caused by ${reason}`;
}

/** Throws the CliError zkCli prints for an invalid path (MalformedPathException). */
export function checkPath(path: string, sequential = false): void {
  const error = javaPathError(path, sequential);
  if (error !== undefined) throw new CliError(error);
}
