// The platform tuple a deploy is for: platform, arch and C library.
export type Libc = 'glibc' | 'musl' | null;

export interface Target {
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  readonly libc: Libc;
}

let cachedLibc: Libc | undefined;

/** glibc or musl on Linux (from Node's own report of what it runs on), null elsewhere. */
export function currentLibc(): Libc {
  if (cachedLibc !== undefined) return cachedLibc;
  if (process.platform !== 'linux') return (cachedLibc = null);
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return (cachedLibc = header?.glibcVersionRuntime ? 'glibc' : 'musl');
}

export function currentTarget(): Target {
  return { platform: process.platform, arch: process.arch, libc: currentLibc() };
}

export function describeTarget(t: Target): string {
  return `${t.platform}-${t.arch}${t.libc ? `-${t.libc}` : ''}`;
}

/** `linux-x64`: how prebuilt files name the platform and arch they are for. */
export function tupleDirName(t: Pick<Target, 'platform' | 'arch'> = currentTarget()): string {
  return `${t.platform}-${t.arch}`;
}
