#!/usr/bin/env node
// Entry point for `npx slimnet`: slimnet is TypeScript run through tsx, which also loads pipeline.config.ts.
import { register } from 'tsx/esm/api';

register();
const { main, PROCESS_IO } = await import('../pipeline/cli.ts');
process.exitCode = await main(process.argv.slice(2), PROCESS_IO, { supervise: true });
