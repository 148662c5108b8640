// The game server for server_fuzz.test.ts, in its own process so the test can read the server's own peak RSS: the
// fixture game (serveFixtureGame) with a results file. Tells the parent its port, answers 'rss', stops on 'stop'.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initEngine } from '../../src/engine/backend.js';
import { serveFixtureGame } from '../serve/helpers.js';

const send = (m: unknown) => process.send!(m);
const dir = mkdtempSync(path.join(tmpdir(), 'geospike-fuzz-results-'));
await initEngine('native');
const served = await serveFixtureGame('geospike-fuzz-server-', {
  defaultRounds: 2,
  maxGames: 50,
  resultsFile: path.join(dir, 'games.jsonl'),
});
process.on('message', async (m) => {
  if (m === 'rss') send({ rss: process.memoryUsage().rss, maxRss: process.resourceUsage().maxRSS * 1024 });
  if (m === 'stop') {
    await served.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }
});
send({ port: served.port });
