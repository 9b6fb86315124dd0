export { runShell, parseShellArgs, shellHelp, type RunShellOptions, type ShellMainOptions } from './repl.js';
export { Shell, type ShellIO, type ShellSettings } from './shell.js';
