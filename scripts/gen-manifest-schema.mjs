#!/usr/bin/env node
// Writes schema/manifest.schema.json from the zod schema (run after `npm run build:ts`).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { manifestJsonSchemaText } from '../dist/src/manifest/json-schema.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'schema/manifest.schema.json');
fs.writeFileSync(out, manifestJsonSchemaText());
console.log(`wrote ${path.relative(root, out)}`);
