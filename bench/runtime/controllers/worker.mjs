// Bootstrap of a controller's worker thread: load the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
