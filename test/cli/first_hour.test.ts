// What a new user meets first on the command line: unknown flags and empty values refused with a suggestion, one plain
// sentence for system errors, --version, help that names every model family, no colour codes in a pipe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { explainError } from '../../src/cli/errors.js';
import { closest } from '../../src/cli/strict.js';
import { packageRoot } from '../../src/util/package_root.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const PKG = fileURLToPath(new URL('../../../package.json', import.meta.url));

function geospike(args: string[], env: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The command fails with exit 1 and one line on stderr matching `message`, no stack trace, nothing raw. */
function refused(args: string[], message: RegExp): string {
  const r = geospike(args);
  assert.equal(r.code, 1, `${args.join(' ')}: ${r.err}`);
  assert.match(r.err, message);
  assert.doesNotMatch(r.err, /\n\s+at |ENOENT|EISDIR|EADDRINUSE|expected int|received/);
  return r.err;
}

test('unknown flags are refused with the closest known one, for every command and subcommand', () => {
  refused(
    ['eval', '--imgs', '3', '--checkpoint', 'x.json'],
    /unknown flag --imgs for `geospike eval`; did you mean `--images`\?/,
  );
  refused(['play', '--prot', '80', '--checkpoint', 'x.json', '--data', 'd'], /did you mean `--port`\?/);
  refused(
    ['import', 'folder', 'src', '--out', 'o', '--val-frac', '0.1'],
    /`geospike import folder`; did you mean `--val-fraction`/,
  );
  refused(['train', '--zzzzzz', '1'], /unknown flag --zzzzzz for `geospike train`$/m);
  refused(['trian', '--data', 'd'], /unknown command 'trian'; did you mean `geospike train`\?/);
  refused(['eval', '--checkpoint', 'x.json', 'stray'], /`geospike eval` takes no argument 'stray'/);
  // One spelling per flag: bench's old --timesteps is refused with the new spelling.
  refused(['bench', '--timesteps', '2'], /--timesteps is now spelled --time-steps/);
});

test('a flag with an empty or missing value is refused, not taken for the default', () => {
  refused(['train', '--data', 'd', '--out', 'o', '--epochs='], /--epochs needs a value/);
  refused(['train', '--data', 'd', '--out', 'o', '--epochs'], /--epochs needs a value/);
  refused(['eval', '--checkpoint', '', '--json'], /--checkpoint needs a value/);
  refused(['eval', '--checkpoint', '--json'], /--checkpoint needs a value/);
});

test('bad numbers and file errors are one plain sentence naming the flag or path', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'geospike-first-hour-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  refused(
    ['train', '--data', dir, '--out', join(dir, 'run'), '--epochs', '1.5'],
    /epochs \(--epochs\): must be a whole number \(got 1\.5\)/,
  );
  refused(['train', '--data', dir, '--epochs', '2'], /out: missing; pass --out/);
  refused(['eval', '--checkpoint', join(dir, 'nope.json')], /nope\.json does not exist \(check the path\)/);
  mkdirSync(join(dir, 'folder.json'));
  const cfg = join(dir, 'folder.json');
  refused(
    ['train', '--config', cfg, '--data', dir, '--out', join(dir, 'r')],
    /cannot read config file .*folder\.json: it is a folder where a file was expected/,
  );
  writeFileSync(join(dir, 'c.json'), '{"batch": 0}');
  refused(
    ['train', '--config', join(dir, 'c.json'), '--data', dir, '--out', join(dir, 'r')],
    /batch \(--batch\): must be at least 1/,
  );
});

test('a port in use is said in words, with the way out', async (t) => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  const err = await new Promise<Error>((resolve) => {
    const second = createServer();
    second.once('error', resolve);
    second.listen(port, '127.0.0.1');
  });
  assert.equal((err as NodeJS.ErrnoException).code, 'EADDRINUSE');
  assert.equal(
    explainError(err),
    `port ${port} on 127.0.0.1 is already in use: stop the program using it, or pass another --port (--port 0 picks ` +
      `a free one)`,
  );
  assert.equal(
    explainError(
      new Error("x.json is not a readable checkpoint sidecar: EISDIR: illegal operation on a directory, read 'x.json'"),
    ),
    'x.json is not a readable checkpoint sidecar: x.json is a folder where a file was expected (name the file inside ' +
      'it)',
  );
});

test('did-you-mean: typos, transpositions and abbreviations, but not unrelated words', () => {
  const flags = ['images', 'port', 'checkpoint', 'val-fraction', 'time-steps'];
  assert.equal(closest('imgs', flags), 'images');
  assert.equal(closest('prot', flags), 'port');
  assert.equal(closest('chekpoint', flags), 'checkpoint');
  assert.equal(closest('timesteps', flags), 'time-steps');
  assert.equal(closest('zebra', flags), undefined);
});

test('--version prints the package version; help names all three model families and has no colour in a pipe', () => {
  const { version } = JSON.parse(readFileSync(PKG, 'utf8'));
  const v = geospike(['--version']);
  assert.equal(v.code, 0);
  assert.equal(v.out.trim(), version);
  for (const env of [{}, { NO_COLOR: 'yes' }]) {
    const help = geospike(['--help'], env);
    assert.equal(help.code, 0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: checks for ANSI escape codes
    assert.doesNotMatch(help.out, /\x1b\[/, 'ANSI codes in help written to a pipe');
    assert.match(help.out, /Spikformer, Spike-driven Transformer\) and a ResNet18/);
  }
  assert.match(geospike(['train', '--help']).out, /Spikformer, Spike-driven Transformer or ResNet18 preset/);
});

test('on a terminal, help is in colour unless NO_COLOR is set (util-linux `script` gives it a terminal)', () => {
  const onTerminal = (env: Record<string, string | undefined>) => {
    const r = spawnSync('script', ['-qec', `'${process.execPath}' '${CLI}' --help`, '/dev/null'], {
      encoding: 'utf8',
      // citty also drops colour under CI, TEST or TERM=dumb (a CI runner sets them), so the terminal is a plain one.
      env: {
        ...process.env,
        NO_COLOR: undefined,
        FORCE_COLOR: undefined,
        CI: undefined,
        TEST: undefined,
        TERM: 'xterm',
        ...env,
      },
    });
    assert.equal(r.status, 0, r.stderr || String(r.error));
    assert.match(r.stdout, /USAGE/);
    return r.stdout;
  };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: checks for ANSI escape codes
  const ansi = /\x1b\[/;
  assert.match(onTerminal({}), ansi, 'a terminal gets colour: the check below can fail');
  assert.doesNotMatch(onTerminal({ NO_COLOR: '1' }), ansi, 'NO_COLOR=1 on a terminal');
});

test('demo refuses a preset of the wrong family in --snn and --ann', () => {
  refused(
    ['demo', '--snn', 'resnet18', '--out', 'unused'],
    /--snn takes a Spikformer preset \(.*spikformer-2-128.*\), got 'resnet18'/,
  );
  refused(['demo', '--ann', 'spikformer-1-64', '--out', 'unused'], /--ann takes a ResNet18 preset/);
});

test('--backend auto says nothing of the GPU stack on stderr, with XDG_RUNTIME_DIR unset', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'geospike-first-hour-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = geospike(['eval', '--checkpoint', join(dir, 'none.json')], {
    XDG_RUNTIME_DIR: undefined,
    GEOSPIKE_BACKEND: undefined,
  });
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.err, /XDG_RUNTIME_DIR|vulkan|dawn|libEGL|MESA|warning:/i, r.err);
  // One line: the error itself (and, where the native addon is not built, the line saying so).
  const lines = r.err.trim().split('\n');
  assert.ok(lines.length <= 2 && /none\.json does not exist/.test(lines.at(-1)!), r.err);
});

test("the README's `npx geospike` runs the built command: the bin is executable after `npm run build`", () => {
  const root = packageRoot();
  const bin = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin.geospike as string;
  assert.ok((statSync(join(root, bin)).mode & 0o111) !== 0, `${bin} is not executable: npx says "geospike: not found"`);
  // --no-install: never fetch a package of that name from the registry if the local one is not found.
  const r = spawnSync('npx', ['--no-install', 'geospike', '--version'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\d+\.\d+\.\d+/);
});
