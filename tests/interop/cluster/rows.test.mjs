// The cluster rows of SCENARIOS.md on the classic Redis adapter (@socket.io/redis-adapter's
// `createAdapter`, Pub/Sub): see rows.mjs.
import { defineRows } from './rows.mjs';

defineRows('classic');
