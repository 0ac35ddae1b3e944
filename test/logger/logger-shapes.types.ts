// Compiled (not run) by logger-shapes.test.ts: what `logger` accepts, as types.
import { pino } from 'pino';

import { createHost } from '../../src/index.js';

createHost({ logger: pino() });
createHost({ logger: console });
createHost({ logger: { log: (level, message, fields) => void [level, message, fields] } });
createHost({ logger: { debug() {}, info() {}, warn() {}, error() {} } });

// @ts-expect-error a level method is missing
createHost({ logger: { info() {}, warn() {}, error() {} } });
// @ts-expect-error not a logger at all
createHost({ logger: { write(line: string) { return line; } } });
// @ts-expect-error log must take (level, message, fields)
createHost({ logger: { log: 42 } });
