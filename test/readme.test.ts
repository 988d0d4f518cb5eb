/** The README documents every stage option: a new option without a line in the README fails here. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { STAGES } from '../stages/index.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

test('every stage and every stage option appears in the README', () => {
  for (const [name, definition] of Object.entries(STAGES)) {
    assert.match(readme, new RegExp(`\\*\\*\`${name}\`\\*\\*`), `stage ${name}`);
    const shape = (definition!.options as unknown as { shape: Record<string, unknown> }).shape;
    assert.ok(shape, `stage ${name} options are an object schema`);
    for (const option of Object.keys(shape)) assert.match(readme, new RegExp(`\\| \`${option}\` \\|`), `${name}.${option}`);
  }
});

test('every layer class slimnet knows appears in the README', async () => {
  const { LAYER_CLASSES } = await import('../pipeline/layers/registry.ts');
  const section = readme.slice(readme.indexOf('## Supported layers'), readme.indexOf('## What is measured'));
  for (const name of LAYER_CLASSES) assert.match(section, new RegExp(`\\b${name}\\b`), name);
});
