// Builds the native addon (binding.gyp) with node-gyp: incrementally when already configured. A failed build does not
// fail `npm run build`: geospike then runs on the pure-JS backend and says why at start-up; this prints the fix.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
const run = (...args) =>
  spawnSync(process.execPath, [gyp, ...args, '--loglevel=error'], { stdio: 'inherit' }).status === 0;

// binding.gyp lists the C++ files when it is configured: a kernel file added since needs a fresh configure.
const MK = 'build/geospike_native.target.mk';
const opDirs = readdirSync('src/ops', { withFileTypes: true }).filter((d) => d.isDirectory());
const sources = ['src/engine/native/cc', ...opDirs.map((d) => `src/ops/${d.name}`)].flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.cc'))
    .map((f) => `${dir}/${f}`),
);
const configured = existsSync(MK) && sources.every((f) => readFileSync(MK, 'utf8').includes(f.replace(/\.cc$/, '.o')));
const ok = existsSync('build/Makefile') && configured ? run('build') || run('rebuild') : run('rebuild');
if (!ok) {
  const dnnl = existsSync('/usr/include/dnnl.hpp') || existsSync('/usr/include/oneapi/dnnl/dnnl.hpp');
  process.stderr.write(
    '\ngeospike: the native addon (oneDNN backend) did not build; geospike will run on the slow pure-JS backend.\n' +
      (dnnl
        ? '  A C++ compiler, make or python3 may be missing: apt-get install g++ make python3\n'
        : '  oneDNN is not installed: apt-get install libdnnl-dev\n') +
      '  (or run scripts/setup.sh, which installs everything), then: npm run build\n\n',
  );
}
