// The report in Debian's Chromium at phone and desktop widths: the page never scrolls sideways (wide tables scroll
// in their own box). Screenshots go where test/serve/browser.test.ts puts its own ($GEOSPIKE_SCREENSHOTS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { initEngine } from '../../src/engine/backend.js';
import { buildReport } from '../../src/eval/report/data.js';
import { renderReport } from '../../src/eval/report/html.js';
import { tempRoot, writeRun } from './run_fixtures.js';

const CHROMIUM = '/usr/bin/chromium';

test('the report fits a 390 px phone and a 1280 px desktop without sideways scrolling', async (t) => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does)`);
  await initEngine('cpu');
  const root = tempRoot(t);
  const a = writeRun(root, 'spikformer', 'spikformer-1-64', { epochs: 3, accs: [0.5, 0.6, 0.65], seconds: 30 });
  const b = writeRun(root, 'resnet', 'resnet18-w8', { epochs: 3, accs: [0.55, 0.58, 0.7], seconds: 12 });
  const html = join(root, 'report.html');
  writeFileSync(html, renderReport(buildReport([a.dir, b.dir])));
  const shots = process.env.GEOSPIKE_SCREENSHOTS ?? join(tmpdir(), 'geospike-screenshots');
  mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  t.after(() => browser.close());
  for (const [width, height] of [
    [390, 844],
    [1280, 800],
  ] as const) {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`file://${html}`);
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), width, `sideways scroll at ${width}`);
    await page.screenshot({ path: join(shots, `report-${width}.png`), fullPage: true });
    await page.close();
  }
});
