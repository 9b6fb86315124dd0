/** Writing results/<date>.json + .md and keeping the latest table in packages/bench/README.md. */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderMarkdown, type CompareReport } from './compare.js';

export const README_START = '<!-- bench:latest:start -->';
export const README_END = '<!-- bench:latest:end -->';

/** packages/bench (the directory holding this package's package.json). */
export function benchPackageDir(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === '@corral/bench') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`could not find packages/bench above ${from}`);
    dir = parent;
  }
}

/** `2025-01-31-134501` (UTC), for file names. */
export function resultStamp(iso: string): string {
  return iso.slice(0, 19).replace('T', '-').replace(/:/g, '');
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text, 'utf8');
  await rename(`${path}.tmp`, path);
}

/** The section that goes between the README markers. */
export function readmeSection(report: CompareReport, jsonName: string): string {
  return [
    README_START,
    `Latest results (\`${jsonName}\`), produced by:`,
    '',
    '```sh',
    report.command,
    '```',
    '',
    renderMarkdown(report),
    README_END,
  ].join('\n');
}

export function replaceReadmeSection(readme: string, section: string): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) return `${readme.trimEnd()}\n\n${section}\n`;
  return readme.slice(0, start) + section + readme.slice(end + README_END.length);
}

/** Saves the report; returns the paths written. */
export async function saveResults(report: CompareReport, options: { dir?: string; updateReadme?: boolean } = {}): Promise<string[]> {
  const pkg = benchPackageDir();
  const dir = options.dir ?? join(pkg, 'results');
  await mkdir(dir, { recursive: true });
  const stamp = resultStamp(report.startedAt);
  const jsonPath = join(dir, `${stamp}.json`);
  const mdPath = join(dir, `${stamp}.md`);
  await writeAtomically(jsonPath, JSON.stringify(report, null, 2) + '\n');
  await writeAtomically(mdPath, `# corral bench compare, ${report.startedAt}\n\n\`\`\`sh\n${report.command}\n\`\`\`\n\n${renderMarkdown(report)}\n`);
  const written = [jsonPath, mdPath];
  if (options.updateReadme ?? true) {
    const readmePath = join(pkg, 'README.md');
    const readme = existsSync(readmePath) ? await readFile(readmePath, 'utf8') : '# @corral/bench\n';
    await writeAtomically(readmePath, replaceReadmeSection(readme, readmeSection(report, relative(pkg, jsonPath))));
    written.push(readmePath);
  }
  return written;
}
