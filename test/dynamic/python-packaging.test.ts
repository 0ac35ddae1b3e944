// The Python SDK (plugins-dynamic/python) as a Python package: pip installs
// it from the directory, or from a wheel built by `pip wheel`, into a venv of
// Debian's /usr/bin/python3 that sees Debian's grpc (--system-site-packages),
// offline (--no-build-isolation --no-index). A plugin then runs through the
// real host with the venv's interpreter as an absolute path, so the host adds
// nothing to PYTHONPATH and the SDK must come from the venv.
//
// Skipped when /usr/bin/python3 lacks what this needs, unless CI is set: then
// it fails and names the Debian packages to install.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createHost, silentLogger, type DynamicPlugin, type Host } from '../../src/index.js';

const root = path.resolve(import.meta.dirname, '../..');
const sdkDir = path.join(root, 'plugins-dynamic/python');
const fixture = path.join(root, 'test/fixtures/dynamic/python-packaging/where_plugin.py');
const SYSTEM_PYTHON = '/usr/bin/python3';

// The plugin must find the SDK only where pip put it, not through a
// PYTHONPATH this test process happens to have (vitest runs each file in its
// own fork, so this stays here).
delete process.env.PYTHONPATH;

/**
 * The Debian packages /usr/bin/python3 lacks for this test. The venv gets pip
 * (and, before Python 3.12, setuptools) through ensurepip from python3-venv's
 * python3-pip-whl/python3-setuptools-whl; --system-site-packages adds
 * Debian's setuptools, wheel (setuptools < 70.1 builds wheels with it) and grpc.
 */
const PROBE = `
import importlib.util, json
def has(name):
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:
        return False
missing = []
if not (has("venv") and has("ensurepip")):
    missing.append("python3-venv")
else:
    import ensurepip
    try:
        ensurepip.version()
    except Exception:
        missing.append("python3-venv")
if not has("setuptools"):
    missing.append("python3-setuptools")
else:
    from importlib.metadata import version
    if tuple(int(p) for p in version("setuptools").split(".")[:2] if p.isdigit()) < (70, 1) and not has("wheel"):
        missing.append("python3-wheel")
if not has("grpc"):
    missing.append("python3-grpcio")
print(json.dumps(missing))
`;
const ALL_PACKAGES = ['python3', 'python3-venv', 'python3-setuptools', 'python3-wheel', 'python3-grpcio'];

function probe(): string[] {
  try {
    const out = execFileSync(SYSTEM_PYTHON, ['-c', PROBE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
    return JSON.parse(out) as string[];
  } catch {
    return ALL_PACKAGES;
  }
}

const missing = probe();

// Nothing from the user's pip configuration (files or PIP_* variables such as
// PIP_FIND_LINKS), cache or network: pip sees only the SDK directory or wheel,
// and what Debian installed.
const pipEnv: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PIP_'))),
  PIP_CONFIG_FILE: os.devNull,
  PIP_DISABLE_PIP_VERSION_CHECK: '1',
  PIP_NO_INPUT: '1',
  PIP_NO_CACHE_DIR: '1',
};
const OFFLINE = ['--no-build-isolation', '--no-index'];

const execFileAsync = promisify(execFile);

async function run(program: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(program, args, { cwd, env: pipEnv, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${program} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** A venv of Debian's Python that sees Debian's packages. Returns its absolute interpreter path. */
async function venv(dir: string): Promise<string> {
  await run(SYSTEM_PYTHON, ['-m', 'venv', '--system-site-packages', dir], path.dirname(dir));
  const python = path.join(dir, 'bin', 'python');
  expect(path.isAbsolute(python)).toBe(true);
  return python;
}

/** The SDK directory's entries a build could leave behind in (build/, *.egg-info, dist/). */
function treeSnapshot(): string[] {
  const top = fs.readdirSync(sdkDir).filter((n) => n !== '__pycache__');
  const pkg = fs.readdirSync(path.join(sdkDir, 'plughost_plugin')).filter((n) => n !== '__pycache__');
  return [...top.map((n) => `./${n}`), ...pkg.map((n) => `plughost_plugin/${n}`)].sort();
}

function pyprojectVersion(): string | undefined {
  const text = fs.readFileSync(path.join(sdkDir, 'pyproject.toml'), 'utf8');
  const project = /^\[project\][ \t]*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(text)?.[1] ?? '';
  return /^version\s*=\s*"([^"]*)"/m.exec(project)?.[1];
}

const packageVersion = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;

interface Where {
  file: string;
  grpc: string;
  version: string;
  prefix: string;
  pythonpath: string | null;
}

describe('the Python SDK distribution', () => {
  it("has plughost's version (pyproject.toml = package.json)", () => {
    expect(pyprojectVersion()).toBe(packageVersion);
  });
});

describe.skipIf(missing.length > 0 && !process.env.CI)('the Python SDK installed with pip (Debian Python, offline)', () => {
  let host: Host;
  let tmp: string;
  let before: string[];
  const real = (p: string): string => fs.realpathSync(p);

  beforeAll(() => {
    if (missing.length > 0) {
      throw new Error(
        `${SYSTEM_PYTHON} cannot build and install the Python SDK with pip offline: missing the Debian packages ${missing.join(', ')} ` +
          `(apt-get install -y ${missing.join(' ')}; all that this test needs: ${ALL_PACKAGES.join(' ')})`,
      );
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plughost-pypkg-'));
    host = createHost({ buildId: 'python-packaging', logger: silentLogger });
    before = treeSnapshot();
  });

  afterAll(async () => {
    await host?.close();
    if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Runs the fixture plugin with `python` and checks the SDK came from `venvDir`. */
  async function checkPlugin(name: string, python: string, venvDir: string): Promise<void> {
    const plugin: DynamicPlugin = await host.loadDynamic({ name, command: [python, fixture], handshakeTimeoutMs: 15_000 });
    try {
      expect(plugin.name).toBe('python-packaging');
      expect(plugin.methods.map((m) => m.name).sort()).toEqual(['shout', 'where']);
      const where = JSON.parse(Buffer.from(await plugin.call('where', new Uint8Array())).toString()) as Where;
      // The host put nothing on PYTHONPATH: the SDK is the one pip installed.
      expect(where.pythonpath).toBeNull();
      expect(where.file.startsWith(path.join(real(venvDir), 'lib') + path.sep)).toBe(true);
      expect(where.file).toMatch(/[/\\]site-packages[/\\]plughost_plugin[/\\]__init__\.py$/);
      expect(where.file.startsWith(real(sdkDir) + path.sep)).toBe(false);
      expect(real(where.prefix)).toBe(real(venvDir));
      // grpc is Debian's, seen through --system-site-packages.
      expect(where.grpc.startsWith(real(venvDir) + path.sep)).toBe(false);
      expect(where.version).toBe(packageVersion);
      expect(Buffer.from(await plugin.call('shout', Buffer.from('hi'))).toString()).toBe('HI');
      await expect(plugin.call('shout', new Uint8Array())).rejects.toMatchObject({ code: 'PLUGHOST_INVALID_ARGUMENT' });
    } finally {
      await plugin.close();
    }
  }

  it('pip install <dir>: a plugin runs on the SDK from the venv', async () => {
    const dir = path.join(tmp, 'venv-dir');
    const python = await venv(dir);
    const out = await run(python, ['-m', 'pip', 'install', ...OFFLINE, sdkDir], tmp);
    // Debian's python3-grpcio (grpcio-*.egg-info) satisfies the dependency; no index, no links.
    expect(out).toMatch(/Requirement already satisfied: grpcio /);
    expect(out).not.toMatch(/Looking in (indexes|links)/);
    expect(out).toContain(`Successfully installed plughost-plugin-${packageVersion}`);
    expect(treeSnapshot()).toEqual(before);
    await checkPlugin('py-from-dir', python, dir);
  }, 120_000);

  it('pip wheel <dir>, then pip install the .whl', async () => {
    const wheels = path.join(tmp, 'wheels');
    const target = path.join(tmp, 'venv-wheel');
    // A fresh venv: pip wheel builds with it (and installs nothing), then it installs the wheel.
    const python = await venv(target);
    // --no-deps: grpcio is installed, but pip wheel would want a grpcio wheel to put next to ours.
    await run(python, ['-m', 'pip', 'wheel', ...OFFLINE, '--no-deps', '--wheel-dir', wheels, sdkDir], tmp);
    expect(treeSnapshot()).toEqual(before);
    const built = fs.readdirSync(wheels);
    expect(built).toEqual([`plughost_plugin-${packageVersion}-py3-none-any.whl`]);
    const out = await run(python, ['-m', 'pip', 'install', '--no-index', path.join(wheels, built[0]!)], tmp);
    expect(out).toMatch(/Requirement already satisfied: grpcio /);
    expect(out).toContain(`Successfully installed plughost-plugin-${packageVersion}`);
    await checkPlugin('py-from-wheel', python, target);
  }, 120_000);
});
