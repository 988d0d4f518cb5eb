/**
 * Wall time of `npm run compress` on the bundled example, cold: the run gets a temporary config that is the repo's
 * pipeline.config.ts with the stage cache off and its own output folder, so no earlier run's artifacts are reused.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

export async function timeCompress(log: (line: string) => void): Promise<number | null> {
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-bench-'));
  const config = join(dir, 'bench.config.ts');
  writeFileSync(config, [
    `import base from ${JSON.stringify(join(ROOT, 'pipeline.config.ts'))};`,
    `export default { ...base, model: ${JSON.stringify(join(ROOT, 'examples/mnist-cnn/model/model.json'))}, cacheDir: false, out: ${JSON.stringify(join(dir, 'out'))} };`,
    '',
  ].join('\n'));
  const start = performance.now();
  try {
    const code = await new Promise<number | null>((done, fail) => {
      const child = spawn('npm', ['run', '--silent', 'compress', '--', '--config', config], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      // The child's output goes to our stderr: stdout is kept for the bench's own table or JSON.
      child.stdout.on('data', (d: Buffer) => process.stderr.write(d));
      child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
      child.on('error', fail);
      child.on('close', done);
    });
    const seconds = (performance.now() - start) / 1000;
    if (code !== 0) {
      log(`npm run compress exited with code ${code} after ${seconds.toFixed(1)} s; compressSeconds is null`);
      return null;
    }
    return seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
