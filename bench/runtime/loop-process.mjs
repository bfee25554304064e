// Bootstrap of the real-time loop process: load the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
await import('./loop-process.ts');
