import { spawn } from 'node:child_process';

/** What a zkCli-style CLI printed over one stdin-fed session, with its connection chatter removed. */
export interface CliTranscript {
  code: number | null;
  /** stdout lines, without blank lines, `WATCHER::`, watch events and the connect/welcome banners. */
  out: string;
  /** stderr lines, without blank lines and SLF4J warnings. */
  err: string;
  /**
   * `WatchedEvent …` lines in the order printed (zxid removed: 3.9 prints it, 3.8 does not). A final
   * Closed event races with the process exit, so it is left out.
   */
  events: string[];
}

/** A command line that pauses the feed instead of being sent, so a CLI's event thread can catch up. */
export const PAUSE = '{pause}';

const CHATTER = [(l: string) => l === '' || l === 'WATCHER::' || l === 'Welcome to ZooKeeper!', (l: string) => l.startsWith('Connecting to ') || l.startsWith('JLine support is')];

/**
 * Runs an interactive zkCli-style CLI (Apache ZooKeeper's, or `corral shell`) fed `commands` on
 * stdin, one session for all of them, and splits what it printed into output, errors and events.
 */
export function runCliSession(command: string, args: string[], commands: string[], options: { pauseMs?: number; timeoutMs?: number } = {}): Promise<CliTranscript> {
  const pauseMs = options.pauseMs ?? 300;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const events: string[] = [];
      const out = stdout.split('\n').filter((line) => {
        if (line.startsWith('WatchedEvent ')) {
          events.push(line.replace(/ zxid: -?\d+/, ''));
          return false;
        }
        return !CHATTER.some((isChatter) => isChatter(line));
      });
      if (events.at(-1)?.includes('state:Closed')) events.pop();
      const err = stderr.split('\n').filter((line) => line !== '' && !line.startsWith('SLF4J:'));
      resolve({ code, out: out.join('\n'), err: err.join('\n'), events });
    });
    void (async () => {
      for (const line of commands) {
        if (line === PAUSE) await new Promise((r) => setTimeout(r, pauseMs));
        else child.stdin.write(`${line}\n`);
      }
      child.stdin.end();
    })();
  });
}
