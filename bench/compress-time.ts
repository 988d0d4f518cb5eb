/**
 * Wall time of `npm run compress` on the bundled example, cold and then warm: the run gets a temporary config that is
 * the repo's pipeline.config.ts with its own, empty cache folder and output folder, so no earlier run is reused; the
 * second, identical run is served from that cache (a replay). The bar: warm ≤ 5% of cold.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

export interface CompressTimes {
  cold: number;
  warm: number;
  /** warm / cold. */
  ratio: number;
}

async function compressOnce(config: string, log: (line: string) => void, label: string): Promise<number | null> {
  const start = performance.now();
  const code = await new Promise<number | null>((done, fail) => {
    const child = spawn('npm', ['run', '--silent', 'compress', '--', '--config', config], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    // The child's output goes to our stderr: stdout is kept for the bench's own table or JSON.
    child.stdout.on('data', (d: Buffer) => process.stderr.write(d));
    child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    child.on('error', fail);
    child.on('close', done);
  });
  const seconds = (performance.now() - start) / 1000;
  if (code === 0) return seconds;
  log(`${label} npm run compress exited with code ${code} after ${seconds.toFixed(1)} s`);
  return null;
}

export async function timeCompress(log: (line: string) => void): Promise<CompressTimes | null> {
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-bench-'));
  const config = join(dir, 'bench.config.ts');
  writeFileSync(config, [
    `import base from ${JSON.stringify(join(ROOT, 'pipeline.config.ts'))};`,
    `export default { ...base, model: ${JSON.stringify(join(ROOT, 'examples/mnist-cnn/model/model.json'))}, cacheDir: ${JSON.stringify(join(dir, 'cache'))}, out: ${JSON.stringify(join(dir, 'out'))} };`,
    '',
  ].join('\n'));
  try {
    const cold = await compressOnce(config, log, 'cold');
    if (cold === null) return null;
    log('timing the same run again, warm (served from the cache)...');
    const warm = await compressOnce(config, log, 'warm');
    if (warm === null) return null;
    return { cold, warm, ratio: warm / cold };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
