// Time to a complete first paint of the dashboard, for `cargo bench --bench dashboard` (which
// serves a ledger and runs this script; it is a measurement, not a test).
//
//   node first-paint.mjs URL ROUNDS
//
// Each round opens the page in a fresh browser context (no cache) and prints one JSON line:
// {"round", "ms", "requests"}: the milliseconds from the navigation's start to the moment the
// page is complete (every view drawn, the timeline drawn, the verification shown), as the page's
// own clock (performance.now()) tells it, and the number of requests the load made.

import { chromium } from 'playwright-core';

const [url, rounds = '5'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node first-paint.mjs URL [ROUNDS]');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  for (let round = 1; round <= Number(rounds); round++) {
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const page = await context.newPage();
    let requests = 0;
    page.on('request', (r) => { if (!r.url().includes('/v1/feed')) requests += 1; });
    // Records the page's clock at the first moment everything is on screen.
    await page.addInitScript(() => {
      const done = () => document.body && document.body.dataset.state === 'ready' && document.body.dataset.timeline === 'ready' &&
        /Chain intact|Failed/.test((document.getElementById('verify-status') || {}).textContent || '');
      const watch = () => {
        const observer = new MutationObserver(() => {
          if (window.__complete === undefined && done()) {
            window.__complete = performance.now();
            observer.disconnect();
          }
        });
        observer.observe(document.documentElement, { subtree: true, childList: true, attributes: true, characterData: true });
      };
      if (document.documentElement) watch(); else document.addEventListener('DOMContentLoaded', watch);
    });
    await page.goto(url);
    await page.waitForFunction(() => window.__complete !== undefined, null, { timeout: 120_000 });
    const ms = await page.evaluate(() => window.__complete);
    console.log(JSON.stringify({ round, ms: Math.round(ms), requests }));
    await context.close();
  }
} finally {
  await browser.close();
}
