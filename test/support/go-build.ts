// Building go-plugin test fixtures offline from Debian's Go packages, only
// when one of their sources changed (a warm build takes ~0.1 s, a cold one
// ~10-20 s). buildGoPlugin builds a one-directory package main with
// test/fixtures/go-plugin-build.sh; buildGoPluginTree builds a program whose
// packages import each other by their upstream import paths (go-plugin's
// examples/bidirectional), with the same offline GOPATH-mode settings.
import { execFileSync } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const script = path.resolve(import.meta.dirname, '../fixtures/go-plugin-build.sh');
const aptHint = 'apt-get install --no-install-recommends golang-go golang-github-hashicorp-go-plugin-dev golang-google-grpc-dev';

/** hashicorp/go-plugin's examples/bidirectional plugin (plugin-go-grpc), see its README.md. */
export const goBidirDir = path.resolve(import.meta.dirname, '../fixtures/dynamic/go-bidir');
/** Its protocol: package `proto`, services `Counter` {Get, Put} and `AddHelper` {Sum}. */
export const goBidirProto = path.join(goBidirDir, 'proto/kv.proto');

/** Whether this machine has Go; in CI it must (README prerequisites). */
export function hasGo(): boolean {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI) throw new Error(`Go is required in CI: ${aptHint}`);
    return false;
  }
}

/** Runs `build` unless `binary` exists and the sources hashed into `hash` are those it was built from. */
function buildIfChanged(hash: Hash, binary: string, workDir: string, build: () => void): void {
  const stamp = path.join(workDir, '.sources-sha256');
  const want = hash.digest('hex');
  if (fs.existsSync(binary) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return;
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  fs.mkdirSync(workDir, { recursive: true });
  build();
  fs.writeFileSync(stamp, want);
}

/** Builds `srcDir` into `binary`; the stamp and the Go cache live in `workDir`. */
export function buildGoPlugin(srcDir: string, binary: string, workDir: string): void {
  const hash = createHash('sha256').update(fs.readFileSync(script));
  for (const f of fs.readdirSync(srcDir).filter((f) => /\.(go|proto)$/.test(f)).sort()) hash.update(f).update(fs.readFileSync(path.join(srcDir, f)));
  buildIfChanged(hash, binary, workDir, () => {
    execFileSync('sh', [script, srcDir, binary], {
      env: { ...process.env, GOCACHE: path.join(workDir, 'gocache') },
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 170_000,
    });
  });
}

/** The .go and .proto files under `dir`, relative to it, sorted. */
function sourcesUnder(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) out.push(...sourcesUnder(dir, r));
    else if (/\.(go|proto)$/.test(e.name)) out.push(r);
  }
  return out;
}

/**
 * Builds the package main in `srcDir/mainDir` into `binary`, where `srcDir`'s
 * other directories are the packages `importPath/<dir>` it imports (e.g.
 * importPath github.com/hashicorp/go-plugin/examples/bidirectional, mainDir
 * plugin-go-grpc, which imports .../bidirectional/shared), so the upstream
 * sources build with their import lines unchanged. They are copied into a
 * throw-away GOPATH in `workDir` as
 *
 *   gopath/src/plughost-fixture/*.go                 (srcDir/mainDir)
 *   gopath/src/plughost-fixture/vendor/<importPath>/ (srcDir's other dirs)
 *
 * A vendor directory only counts for a package with .go files, so the
 * import of github.com/hashicorp/go-plugin itself still resolves to Debian's
 * tree in the second GOPATH entry. Offline GOPATH mode as in
 * go-plugin-build.sh: GO111MODULE=off, GOPROXY=off, GOFLAGS empty, no cgo;
 * GOSRC overrides /usr/share/gocode. The stamp lives in `workDir`, the Go
 * cache in `goCache` (another fixture's, to reuse its compiled grpc: Go's
 * cache is content-addressed and safe to share) or else in `workDir`.
 */
export function buildGoPluginTree(srcDir: string, mainDir: string, importPath: string, binary: string, workDir: string, goCache = path.join(workDir, 'gocache')): void {
  const files = sourcesUnder(srcDir);
  const hash = createHash('sha256').update(`tree:${mainDir}:${importPath}\n`).update(fs.readFileSync(import.meta.filename));
  for (const f of files) hash.update(f).update(fs.readFileSync(path.join(srcDir, f)));
  buildIfChanged(hash, binary, workDir, () => {
    const gopath = path.join(fs.realpathSync(workDir), 'gopath');
    const stage = path.join(gopath, 'src/plughost-fixture');
    fs.rmSync(gopath, { recursive: true, force: true });
    for (const f of files.filter((f) => f.endsWith('.go'))) {
      const dir = path.dirname(f);
      const to = dir === mainDir ? path.join(stage, path.basename(f)) : path.join(stage, 'vendor', importPath, f);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(path.join(srcDir, f), to);
    }
    const gosrc = process.env.GOSRC ?? '/usr/share/gocode';
    try {
      execFileSync('go', ['build', '-trimpath', '-o', path.resolve(binary), 'plughost-fixture'], {
        cwd: stage,
        env: {
          ...process.env,
          GO111MODULE: 'off',
          GOPATH: `${gopath}${path.delimiter}${gosrc}`,
          GOFLAGS: '',
          GOPROXY: 'off',
          GOCACHE: goCache,
          CGO_ENABLED: '0',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
        timeout: 170_000,
      });
    } catch (err) {
      throw new Error(`${path.basename(srcDir)} build failed (Go library sources missing under ${gosrc}/src? ${aptHint})`, { cause: err });
    }
  });
}
