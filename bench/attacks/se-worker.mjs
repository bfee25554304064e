// Bootstrap of the state-estimation worker: load the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
await import('./se-worker.ts');
