// Bytes fields as the code hands them on. protobufjs decodes an absent (empty)
// `bytes` field as the prototype default, a plain Array `[]`, not a
// Uint8Array; every payload that leaves the wire layer goes through `asBytes`
// so a caller always gets a Uint8Array. Kept free of imports: `plughost/sdk`
// loads this file too.

/** `value` if it is a Uint8Array (a Buffer is one), its bytes if it is an array of numbers, else an empty Uint8Array. */
export function asBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value) && value.length > 0) return Uint8Array.from(value as number[]);
  return new Uint8Array(0);
}
