import { Command } from 'commander';
import { runShell, shellHelp } from './repl.js';

/**
 * `corral shell`: zkCli's own command line is passed through untouched (`-server host:port` with a
 * single dash, `-timeout`, `-r`, then the command), so commander parses nothing here.
 */
export function shellCommand(): Command {
  return new Command('shell')
    .description('a zkCli-compatible shell: corral shell -server host:port[,host:port...] [cmd args...] (see `corral shell -h`)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]', 'zkCli options, then an optional command')
    .addHelpText('after', `\n${shellHelp()}`)
    .action(async (args: string[]) => {
      // Commander drops a `--` that comes before any unknown option; the raw argv keeps it.
      const raw = process.argv.slice(2);
      const argv = raw[0] === 'shell' ? raw.slice(1) : args;
      const code = await runShell(argv);
      // Like zkCli (System.exit): pending timers or sockets must not keep the process alive.
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
      process.exit(code);
    });
}
