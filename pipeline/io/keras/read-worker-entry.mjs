// Entry of the Keras read worker thread: slimnet is TypeScript run through tsx, which a new thread registers itself.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.module);
