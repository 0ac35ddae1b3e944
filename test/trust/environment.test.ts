// Secrets stay home by default: a plugin sees a documented minimal part of
// the host's environment (BASE_ENV: what a runtime needs to start) plus what
// its options name; the whole environment only when asked for.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createHost, silentLogger, type Host } from '../../src/index.js';
import { BASE_ENV, inheritedEnv } from '../../src/dynamic/plugin-env.js';
import { RunOptionsSchema } from '../../src/manifest/schema.js';
import { fixturePlugin } from '../dynamic/support.js';

let hosts: Host[] = [];
afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
});
const set = { SECRET_API_TOKEN: 'hunter2', MYAPP_REGION: 'eu', MYAPP_MODE: 'fast', LC_ALL: 'C.UTF-8', TZ: 'UTC' };
const saved: Record<string, string | undefined> = {};
beforeAll(() => {
  for (const [k, v] of Object.entries(set)) (saved[k] = process.env[k]), (process.env[k] = v);
});
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
});

async function seen(names: string[], extra: Parameters<typeof fixturePlugin>[1] = {}, env: Record<string, string> = {}): Promise<Record<string, string>> {
  const host = createHost({ buildId: 'env', logger: silentLogger });
  hosts.push(host);
  const plugin = await host.loadDynamic(fixturePlugin(env, extra));
  const out: Record<string, string> = {};
  for (const name of names) out[name] = Buffer.from(await plugin.call('env', Buffer.from(name))).toString();
  return out;
}

describe('a plugin environment', () => {
  it('by default: the minimal set, and no secret of the host', async () => {
    const got = await seen(['SECRET_API_TOKEN', 'MYAPP_REGION', 'PATH', 'HOME', 'LC_ALL', 'TZ']);
    expect(got).toEqual({ SECRET_API_TOKEN: '', MYAPP_REGION: '', PATH: process.env.PATH, HOME: process.env.HOME ?? '', LC_ALL: 'C.UTF-8', TZ: 'UTC' });
  });

  it('plus the host variables envAllow names (a trailing * is a prefix), plus env', async () => {
    const got = await seen(['SECRET_API_TOKEN', 'MYAPP_REGION', 'MYAPP_MODE', 'PATH', 'OWN'], { envAllow: ['MYAPP_*'] }, { OWN: 'mine' });
    expect(got).toEqual({ SECRET_API_TOKEN: '', MYAPP_REGION: 'eu', MYAPP_MODE: 'fast', PATH: process.env.PATH, OWN: 'mine' });
    expect((await seen(['SECRET_API_TOKEN'], { envAllow: ['SECRET_API_TOKEN'] })).SECRET_API_TOKEN).toBe('hunter2');
  });

  it('everything only with inheritEnv: true; nothing of the host with inheritEnv: false', async () => {
    expect(await seen(['SECRET_API_TOKEN', 'MYAPP_MODE'], { inheritEnv: true })).toEqual({ SECRET_API_TOKEN: 'hunter2', MYAPP_MODE: 'fast' });
    expect(await seen(['SECRET_API_TOKEN', 'PATH', 'OWN'], { inheritEnv: false }, { OWN: 'mine' })).toEqual({ SECRET_API_TOKEN: '', PATH: '', OWN: 'mine' });
  });

  it('the minimal set is exactly the documented one', () => {
    expect(BASE_ENV).toEqual(['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LANGUAGE', 'LC_*', 'TZ', 'TMPDIR', 'SYSTEMROOT', 'WINDIR', 'COMSPEC', 'PATHEXT', 'TEMP', 'TMP', 'USERPROFILE']);
    const host = { PATH: '/bin', LC_CTYPE: 'C', LCX: 'no', SECRET: 's', NODE_OPTIONS: '--require evil.js' };
    expect(inheritedEnv({}, host)).toEqual({ PATH: '/bin', LC_CTYPE: 'C' });
  });

  it('a manifest entry can name inheritEnv and envAllow', () => {
    expect(RunOptionsSchema.parse({ inheritEnv: true, envAllow: ['A', 'B_*'] })).toEqual({ inheritEnv: true, envAllow: ['A', 'B_*'] });
    expect(() => RunOptionsSchema.parse({ inheritEnv: 'yes' })).toThrow();
  });
});
