// The status a failed call is counted under: the error's code, else 'error'.

export function errorStatus(err: unknown): string {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code === 'string' && code !== '') return code;
  if (typeof code === 'number') return String(code);
  return 'error';
}
