// The cluster rows of SCENARIOS.md on the sharded Redis adapter (--redis-sharded:
// `createShardedAdapter`, SPUBLISH/SSUBSCRIBE, Redis >= 7): see rows.mjs. Every row is
// supported; the emitter is not (@socket.io/redis-emitter 5.x speaks the classic format only).
import { defineRows } from './rows.mjs';

defineRows('sharded');
