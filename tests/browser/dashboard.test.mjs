// The dashboard and the report in a real headless browser: Debian's chromium driven by
// playwright-core. Builds nothing: it runs target/debug/coopledger (or $COOPLEDGER_BIN), which
// the caller builds. Run with `node dashboard.test.mjs` (or `npm test`) from tests/browser/.
//
// Checks: the page loads with no console error or failed request; the matrix cells and the
// corridors shown equal the API's JSON; the as-of control redraws them as of a sequence and a
// date; an append made through the API appears live, without a reload; a country page; the
// report file opens from file:// with the same numbers and without any network request; and,
// without public reads, the page asks for a token and then works, live feed included.
// Screenshots go to target/screenshots/ for review.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const BIN = process.env.COOPLEDGER_BIN || path.join(ROOT, 'target', 'debug', 'coopledger');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'target', 'screenshots');
const STAFF = 'staff-token-browser-0123456789';
const READER = 'reader-token-browser-0123456789';
const WAIT = { timeout: 20_000 };
const REGIONS = ['latin_america_caribbean', 'west_africa', 'other_africa', 'europe', 'other'];
const AS_OF_SEQ = 150;
const AS_OF_DATE = '2019-06-30';

let work;
let db;
let tokens;
let server;
let browser;
let baseline; // the API's JSON before anything is appended (what the head report holds)

function coopledger(...args) {
  return execFileSync(BIN, ['--db', db, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function serve(publicReads) {
  const args = ['--db', db, 'serve', '--addr', '127.0.0.1:0', '--tokens', tokens];
  if (publicReads) args.push('--public-reads');
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const lines = readline.createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, 'line').then(([l]) => l),
    once(child, 'exit').then(([code]) => { throw new Error('serve exited ' + code + ': ' + stderr); }),
  ]);
  const base = first.trim().split(' ').pop();
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, first);
  return { child, base, url: (p) => base + p };
}

async function stop(s) {
  if (!s || s.child.exitCode !== null) return;
  s.child.kill('SIGTERM');
  await once(s.child, 'exit');
}

async function apiJson(p, token = READER) {
  const res = await fetch(server.url(p), { headers: { Authorization: 'Bearer ' + token } });
  assert.equal(res.status, 200, 'GET ' + p);
  return res.json();
}

// A page that records console errors, page errors, failed requests and error responses.
async function openPage(context, { allow = () => false } = {}) {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error' && !allow(m.text())) problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('requestfailed', (r) => {
    const why = r.failure() ? r.failure().errorText : '';
    // A live feed is cut when the page goes away.
    if (why.includes('ERR_ABORTED') && r.url().includes('/v1/feed')) return;
    if (!allow(r.url())) problems.push('failed: ' + r.url() + ' ' + why);
  });
  page.on('response', (r) => { if (r.status() >= 400 && !allow(r.url() + ' ' + r.status())) problems.push('HTTP ' + r.status() + ' ' + r.url()); });
  return { page, problems };
}

const ready = (page) => page.waitForSelector('body[data-state="ready"]', WAIT);
const num = (text) => Number(String(text).replace(/[,\s]/g, ''));

// The matrix as drawn, for one metric: {"a|b": value} from each cell's data and its text.
async function drawnMatrix(page, metric) {
  await page.locator(`#metric label:has(input[value="${metric}"])`).click();
  await page.waitForSelector(`#matrix svg[data-metric="${metric}"]`, WAIT);
  return page.$$eval('#matrix .hm-cell', (cells) => cells.map((g) => ({
    a: g.dataset.a, b: g.dataset.b, value: Number(g.dataset.value), text: g.querySelector('text').textContent,
  })));
}

async function assertMatrixEquals(page, regions, what) {
  for (const metric of ['meetings', 'activities', 'cases']) {
    const cells = await drawnMatrix(page, metric);
    assert.equal(cells.length, REGIONS.length * REGIONS.length, what + ': every pair is drawn');
    for (const c of cells) {
      const pair = regions.pairs.find((p) => (p.regions[0] === c.a && p.regions[1] === c.b) || (p.regions[0] === c.b && p.regions[1] === c.a));
      const expected = pair ? pair[metric] : 0;
      assert.equal(c.value, expected, `${what}: ${metric} ${c.a} × ${c.b}`);
      if (expected > 0) assert.equal(num(c.text), expected, `${what}: the number shown for ${metric} ${c.a} × ${c.b}`);
    }
    const table = await page.$$eval('#matrix-table td[data-a]', (tds) => tds.map((td) => [td.dataset.a, td.dataset.b, td.textContent]));
    for (const [a, b, text] of table) {
      const cell = cells.find((c) => c.a === a && c.b === b);
      assert.equal(num(text), cell.value, `${what}: the table fallback for ${metric} ${a} × ${b}`);
    }
  }
  await page.locator('#metric label:has(input[value="activities"])').click();
}

async function assertCorridorsEqual(page, regions, what) {
  const drawn = await page.$$eval('#corridors .corridor', (gs) => gs.map((g) => ({
    pair: g.dataset.pair, events: Number(g.dataset.events), text: g.querySelector('.corridor-value').textContent,
  })));
  const expected = regions.corridors.slice(0, 20);
  assert.equal(drawn.length, expected.length, what + ': the top corridors');
  drawn.forEach((d, i) => {
    assert.equal(d.pair, expected[i].countries.join('-'), `${what}: corridor ${i + 1}`);
    assert.equal(d.events, expected[i].events, `${what}: events of ${d.pair}`);
    assert.equal(num(d.text), expected[i].events, `${what}: the number shown for ${d.pair}`);
  });
  const kpi = await page.textContent('#kpi-events .kpi-value');
  assert.equal(num(kpi), regions.interregional.events, what + ': inter-regional events');
  assert.equal(num(await page.textContent('#kpi-corridors .kpi-value')), regions.corridors.length, what + ': corridors');
}

before(async () => {
  for (const f of [BIN, CHROMIUM]) assert.ok(fs.existsSync(f), f + ' is missing (build with `cargo build`; install chromium)');
  fs.mkdirSync(SHOTS, { recursive: true });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'coopledger-browser-'));
  db = path.join(work, 'ledger');
  tokens = path.join(work, 'tokens');
  fs.writeFileSync(tokens, `staff ${STAFF}\nreader ${READER}\n`);
  coopledger('demo', '--synthetic', '300');
  // The reports first: they hold the ledger as it is now, before a checkpoint or an append.
  coopledger('report', '--out', path.join(work, 'report.html'));
  coopledger('report', '--out', path.join(work, 'report-seq.html'), '--as-of', String(AS_OF_SEQ));
  coopledger('keygen', '--out', path.join(work, 'ledger.key'), '--name', 'browser.test/ledger');
  coopledger('checkpoint', '--key', path.join(work, 'ledger.key'));
  server = await serve(true);
  baseline = {
    regions: await apiJson('/v1/regions'),
    countries: await apiJson('/v1/countries'),
    head: await apiJson('/v1/head'),
  };
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  await stop(server);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the served dashboard: numbers, as-of, live updates, a country page', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const { page, problems } = await openPage(context);
  const started = Date.now();
  await page.goto(server.url('/'));
  await ready(page);
  await page.waitForSelector('body[data-series="ready"]', WAIT);
  t.diagnostic(`page ready in ${Date.now() - started} ms`);
  await page.evaluate(() => { window.__sameDocument = true; });

  await t.test('loads with no console error or failed request', async () => {
    assert.deepEqual(problems, []);
    assert.equal(num(await page.textContent('#head-seq')), baseline.head.seq);
    assert.match(await page.textContent('#verify-status'), /Chain intact/);
    assert.match(await page.textContent('#checkpoint-status'), /Tree of/);
    assert.match(await page.textContent('#live-text'), /Live/);
    await page.screenshot({ path: path.join(SHOTS, 'dashboard.png'), fullPage: true });
  });

  await t.test('the matrix and the corridors equal the API', async () => {
    const regions = await apiJson('/v1/regions');
    await assertMatrixEquals(page, regions, 'head');
    await assertCorridorsEqual(page, regions, 'head');
    const rows = await page.$$eval('#countries tbody tr[data-cc]', (trs) => trs.length);
    assert.equal(rows, baseline.countries.length, 'one row per country');
    const nodes = await page.$$eval('#network .node', (ns) => ns.length);
    assert.equal(nodes, baseline.countries.length, 'one network node per country');
  });

  await t.test('the as-of control redraws as of a sequence (keyboard) and a date', async () => {
    await page.focus('#asof-seq');
    await page.keyboard.type(String(AS_OF_SEQ));
    await page.keyboard.press('Enter');
    await page.waitForSelector(`main[data-as-of="seq:${AS_OF_SEQ}"][data-view-seq="${AS_OF_SEQ}"]`, WAIT);
    await ready(page);
    const atSeq = await apiJson('/v1/regions?as_of=' + AS_OF_SEQ);
    assert.notDeepEqual(atSeq.pairs, baseline.regions.pairs, 'the point is in the past');
    await assertMatrixEquals(page, atSeq, 'as of ' + AS_OF_SEQ);
    await assertCorridorsEqual(page, atSeq, 'as of ' + AS_OF_SEQ);

    await page.fill('#asof-date', AS_OF_DATE);
    await page.click('#asof-apply');
    await page.waitForSelector(`main[data-as-of="date:${AS_OF_DATE}"]`, WAIT);
    await ready(page);
    const onDate = await apiJson('/v1/regions?on=' + AS_OF_DATE);
    await assertMatrixEquals(page, onDate, 'on ' + AS_OF_DATE);
    await assertCorridorsEqual(page, onDate, 'on ' + AS_OF_DATE);

    await page.click('#asof-latest');
    await page.waitForSelector('main[data-as-of="head"]', WAIT);
    await ready(page);
    await assertMatrixEquals(page, await apiJson('/v1/regions'), 'back at the head');
  });

  await t.test('an append appears live, without a reload', async () => {
    const before = await apiJson('/v1/head');
    const cell = () => page.$eval('#matrix .hm-cell[data-a="west_africa"][data-b="other"]', (g) => Number(g.dataset.value));
    const was = await cell();
    const event = {
      type: 'ActivityDelivered', recorded_by: 'browser.test', activity_id: crypto.randomUUID(),
      kind: 'investigative_case_forum', title: 'Case forum, Accra and Tokyo', pillar: 'interregional_cooperation',
      start: '2024-05-10', end: '2024-05-11', venue: { city: 'Accra', country: 'GH' },
      beneficiaries: ['GH'], other_countries: ['JP'], participants: { total: 24, women: 9 },
    };
    const res = await fetch(server.url('/v1/events'), {
      method: 'POST', headers: { Authorization: 'Bearer ' + STAFF, 'Content-Type': 'application/json' }, body: JSON.stringify(event),
    });
    assert.equal(res.status, 201, await res.clone().text()); // 201 Created: the event was recorded
    const [receipt] = await res.json();
    assert.equal(receipt.seq, before.seq + 1);
    await page.waitForFunction((seq) => document.getElementById('head-seq').textContent.replace(/,/g, '') === String(seq), receipt.seq, WAIT);
    await page.waitForSelector(`main[data-view-seq="${receipt.seq}"]`, WAIT);
    await ready(page);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload');
    const regions = await apiJson('/v1/regions');
    assert.equal(await cell(), was + 1, 'West Africa × Other counts the new activity');
    await assertMatrixEquals(page, regions, 'after the append');
    await assertCorridorsEqual(page, regions, 'after the append');
    const newest = await page.$eval('#recent tbody tr', (tr) => Number(tr.dataset.seq));
    assert.equal(newest, receipt.seq, 'the latest events list starts with the append');
    assert.ok(await page.$('#countries tbody tr[data-cc="JP"]'), 'Japan joins the countries table');
    assert.deepEqual(problems, []);
  });

  await t.test('a country page', async () => {
    await page.click('#countries tbody tr[data-cc="GH"] a');
    await page.waitForSelector('#country-head[data-cc="GH"]', WAIT);
    assert.equal(await page.evaluate(() => location.hash), '#country/GH');
    const view = await apiJson('/v1/countries/GH');
    assert.equal(num(await page.textContent('#c-activities .kpi-value')), view.activities.total);
    assert.equal(num(await page.textContent('#c-meetings .kpi-value')), view.meetings);
    assert.equal(num(await page.textContent('#c-participants .kpi-value')), view.participants.total);
    const kinds = await page.$$eval('#c-kinds .hbar', (gs) => Object.fromEntries(gs.map((g) => [g.dataset.key, Number(g.dataset.value)])));
    assert.deepEqual(kinds, view.activities.by_kind);
    const counterparts = await page.$$eval('#c-counterparts-table tbody tr', (trs) => trs.length);
    assert.equal(counterparts, Object.keys(view.counterparts).length);
    assert.ok(await page.$('#c-timeline svg[role="img"]'), 'a participation timeline');
    await page.screenshot({ path: path.join(SHOTS, 'country-GH.png'), fullPage: true });
    await page.click('.crumbs a');
    await page.waitForSelector('#page-overview:not([hidden])', WAIT);
    assert.deepEqual(problems, []);
  });

  await context.close();
});

test('the report opens from file:// with the same numbers and no network', async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const attempted = [];
  // Every request the pages make is seen here; all but file:// are recorded and blocked (the
  // report's own Content-Security-Policy refuses them first, which the console reports).
  context.on('request', (r) => { if (!r.url().startsWith('file://')) attempted.push(r.url()); });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file://')) return route.continue();
    attempted.push(url);
    return route.abort();
  });
  for (const [file, asOf] of [['report.html', null], ['report-seq.html', AS_OF_SEQ]]) {
    const { page, problems } = await openPage(context);
    await page.goto(pathToFileURL(path.join(work, file)).href);
    await ready(page);
    await page.waitForSelector('body[data-series="ready"]', WAIT);
    const regions = asOf === null ? baseline.regions : await apiJson('/v1/regions?as_of=' + asOf);
    await assertMatrixEquals(page, regions, file);
    await assertCorridorsEqual(page, regions, file);
    assert.match(await page.textContent('#live-text'), /Report/);
    assert.match(await page.textContent('#checkpoint-status'), /None signed yet/);
    assert.equal(await page.$eval('#asof-apply', (b) => b.disabled), true, 'the point is fixed');
    if (asOf === null) {
      assert.equal(num(await page.textContent('#head-seq')), baseline.head.seq);
      await page.screenshot({ path: path.join(SHOTS, 'report.png'), fullPage: true });
      await page.evaluate(() => { location.hash = '#country/GH'; });
      await page.waitForSelector('#country-head[data-cc="GH"]', WAIT);
      const view = baseline.countries.find((c) => c.country === 'GH');
      assert.equal(num(await page.textContent('#c-activities .kpi-value')), view.activities.total);
    } else {
      assert.equal(await page.$eval('main', (m) => m.dataset.viewSeq), String(asOf));
    }
    assert.deepEqual(problems, [], file);
    await page.close();
  }
  assert.deepEqual(attempted, [], 'no request left the file');
  await context.close();
});

test('without public reads the page asks for a token, then works live', async () => {
  await stop(server);
  server = await serve(false);
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  // Before the token, the API answers 401, which the browser logs.
  const { page, problems } = await openPage(context, { allow: (s) => / 401\b|status of 401/.test(s) });
  await page.goto(server.url('/'));
  await page.waitForSelector('#auth:not([hidden])', WAIT);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'auth-token', 'the token field has the focus');
  await page.screenshot({ path: path.join(SHOTS, 'token.png') });
  await page.keyboard.type(READER);
  await page.keyboard.press('Enter');
  await ready(page);
  await page.waitForSelector('#live[data-mode="live"]', WAIT);
  assert.equal(await page.isHidden('#auth'), true);
  const regions = await apiJson('/v1/regions');
  await assertMatrixEquals(page, regions, 'with a token');
  const head = await apiJson('/v1/head');
  const res = await fetch(server.url('/v1/events'), {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + STAFF },
    body: JSON.stringify({ type: 'CountryJoined', recorded_by: 'browser.test', country: 'JP', joined_on: '2024-06-01', participation: 'observer' }),
  });
  assert.equal(res.status, 201, await res.clone().text()); // 201 Created: the event was recorded
  // The feed authenticates with ?access_token= (EventSource sends no headers).
  await page.waitForFunction((seq) => document.getElementById('head-seq').textContent.replace(/,/g, '') === String(seq), head.seq + 1, WAIT);
  await page.waitForSelector(`main[data-view-seq="${head.seq + 1}"]`, WAIT);
  assert.deepEqual(problems, []);
  await context.close();
});
