// The manifest's JSON Schema, generated from the zod schema so the two never
// drift (schema/manifest.schema.json is this, written by scripts/gen-manifest-schema.mjs).
import { z } from 'zod';

import { ManifestSchema } from './schema.js';

export function manifestJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(ManifestSchema, { io: 'input' }),
    $id: 'https://plughost.dev/schema/manifest.schema.json',
    title: 'plughost manifest.json',
    description: 'A deploy of plughost plugins: the release build ID and every plugin with its pins. See docs/manifest.md.',
  };
}

export function manifestJsonSchemaText(): string {
  return JSON.stringify(manifestJsonSchema(), null, 2) + '\n';
}
