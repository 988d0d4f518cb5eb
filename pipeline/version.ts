import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The tool's name and version from package.json; part of every report. */
export const TOOL: { name: string; version: string } = (() => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
  return { name: pkg.name, version: pkg.version };
})();

let buildId: string | undefined;

/**
 * sha256 over slimnet's own sources (pipeline/, stages/) and package-lock.json: part of every cache key, so a
 * changed slimnet (or a changed dependency) never serves results computed by the old one.
 */
export function toolBuildId(): string {
  buildId ??= (() => {
    const hash = createHash('sha256').update(TOOL.version);
    const files = ['pipeline', 'stages'].flatMap((dir) => sourceFiles(path.join(ROOT, dir)));
    const lock = path.join(ROOT, 'package-lock.json'); // absent when slimnet is installed as a package
    if (existsSync(lock)) files.push(lock);
    for (const file of files.sort()) hash.update(path.relative(ROOT, file)).update(readFileSync(file));
    return hash.digest('hex');
  })();
  return buildId;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}
