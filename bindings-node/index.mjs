// ESM entry point of rtio: `import { Server } from 'rtio'`.
import rtio from './index.js';

export const {
  Server,
  Namespace,
  ParentNamespace,
  Socket,
  BroadcastOperator,
  RemoteSocket,
  createRedisAdapter,
  createShardedRedisAdapter,
  instrument,
  msgpackParser,
} = rtio;
export default rtio;
