// Builds the native addon (binding.gyp) with node-gyp: incrementally when already configured. A failed build does not
// fail `npm run build`: geospike then runs on the pure-JS backend and says why at start-up; this prints the fix.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
const run = (...args) =>
  spawnSync(process.execPath, [gyp, ...args, '--loglevel=error'], { stdio: 'inherit' }).status === 0;

const ok = existsSync('build/Makefile') ? run('build') || run('rebuild') : run('rebuild');
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
