// Bootstrap of an embedded campaign worker process: load the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
await import('./worker-process.ts');
