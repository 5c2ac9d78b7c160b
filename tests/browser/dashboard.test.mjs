// The dashboard and the report in a real headless browser: Debian's chromium driven by
// playwright-core. Builds nothing: it runs target/debug/coopledger (or $COOPLEDGER_BIN), which
// the caller builds. Run with `node dashboard.test.mjs` (or `npm test`) from tests/browser/.
//
// Checks: the page loads with no console error or failed request, in a bounded number of
// requests; the matrix cells, the corridors and the timeline's bars and shares equal the API's
// JSON; the bitemporal control redraws them as of a sequence, a date, and both together; an
// append made through the API appears live, without a reload; a country page with its own
// timeline and listing; an entity page with its history; a CSV download equal to the API's
// CSV; the report file opens from file:// with the same numbers, downloads its CSV and prints
// its summary first, without any network request; and, without public reads, the page asks for
// a token and then works, live feed included.
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
// Requests of one page load, whatever the ledger's size: head, verify, checkpoint, regions,
// countries, latest events, timeline (and the page itself and the feed).
const MAX_LOAD_REQUESTS = 9;

let work;
let db;
let tokens;
let server;
let browser;
let baseline; // the API's JSON before anything is appended (what the head report holds)
let lagosStream; // the story's corrected activity (the Lagos workshop)

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

// The timeline as drawn: one bar group per period, with its counts and its share points.
async function assertTimelineEquals(page, selector, timeline, what) {
  const bars = await page.$$eval(selector + ' .tl-bar', (gs) => gs.map((g) => ({
    period: g.dataset.period, meetings: Number(g.dataset.meetings), activities: Number(g.dataset.activities), cases: Number(g.dataset.cases),
  })));
  assert.deepEqual(bars, timeline.periods.map((p) => ({ period: p.period, meetings: p.meetings, activities: p.activities.total, cases: p.cases.opened })), what + ': the bars');
  const shares = await page.$$eval(selector + ' .tl-cum', (cs) => cs.map((c) => [c.dataset.period, Number(c.dataset.share)]));
  assert.deepEqual(shares, timeline.periods.filter((p) => p.cumulative.counted > 0).map((p) => [p.period, p.cumulative.share]), what + ': the cumulative share line');
}

// A download started by clicking `selector`, as text.
async function download(page, selector) {
  const [file] = await Promise.all([page.waitForEvent('download', WAIT), page.click(selector)]);
  const stream = await file.createReadStream();
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return { name: file.suggestedFilename(), text: Buffer.concat(chunks).toString('utf8') };
}

async function apiText(p, token = READER) {
  const res = await fetch(server.url(p), { headers: { Authorization: 'Bearer ' + token } });
  assert.equal(res.status, 200, 'GET ' + p);
  return res.text();
}

before(async () => {
  for (const f of [BIN, CHROMIUM]) assert.ok(fs.existsSync(f), f + ' is missing (build with `cargo build`; install chromium)');
  fs.mkdirSync(SHOTS, { recursive: true });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'coopledger-browser-'));
  db = path.join(work, 'ledger');
  tokens = path.join(work, 'tokens');
  fs.writeFileSync(tokens, `staff ${STAFF}\nreader ${READER}\n`);
  coopledger('demo', '--synthetic', '300');
  const lagos = JSON.parse(coopledger('--json', 'log', '--type', 'EventCorrected', '--limit', '1').trim());
  lagosStream = lagos.stream;
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
    timeline: await apiJson('/v1/timeline?by=year'),
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
  const requests = [];
  page.on('request', (r) => requests.push(r.url().replace(server.base, '')));
  const started = Date.now();
  await page.goto(server.url('/'));
  await ready(page);
  await page.waitForSelector('body[data-timeline="ready"]', WAIT);
  await page.waitForFunction(() => /Chain intact/.test(document.getElementById('verify-status').textContent), null, WAIT);
  t.diagnostic(`page ready in ${Date.now() - started} ms, ${requests.length} requests`);
  await page.evaluate(() => { window.__sameDocument = true; });

  await t.test('loads with no console error or failed request, in a bounded number of requests', async () => {
    assert.deepEqual(problems, []);
    assert.ok(requests.length <= MAX_LOAD_REQUESTS, requests.join('\n'));
    assert.ok(!requests.some((u) => u.startsWith('/v1/regions?on=')), 'no view per year-end: ' + requests.join(', '));
    assert.equal(requests.filter((u) => u.startsWith('/v1/verify')).length, 1);
    assert.equal(num(await page.textContent('#head-seq')), baseline.head.seq);
    assert.match(await page.textContent('#verify-status'), /Chain intact/);
    assert.match(await page.textContent('#verify-time'), /verified \d{4}-\d{2}-\d{2}/);
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

  await t.test('the timeline chart draws the API\'s periods', async () => {
    await assertTimelineEquals(page, '#timeline', baseline.timeline, 'head');
    const rows = await page.$$eval('#timeline-table tbody tr', (trs) => trs.map((tr) => tr.dataset.period));
    assert.deepEqual(rows, baseline.timeline.periods.map((p) => p.period), 'the table fallback');
    assert.ok(baseline.timeline.periods.length >= 9, 'years from 2016 on');
  });

  await t.test('a CSV download equals the API\'s CSV', async () => {
    const csv = await download(page, '#countries-csv a');
    assert.equal(csv.name, 'countries.csv');
    assert.equal(csv.text, await apiText('/v1/countries?format=csv'));
    assert.match(csv.text, /^country,name,m49\.region,/);
    const timeline = await download(page, '#timeline-csv a');
    assert.equal(timeline.text, await apiText('/v1/timeline?by=year&format=csv'));
  });

  await t.test('the bitemporal control: a sequence (keyboard), a date, and both together', async () => {
    await page.focus('#asof-seq');
    await page.keyboard.type(String(AS_OF_SEQ));
    await page.keyboard.press('Enter');
    await page.waitForSelector(`main[data-as-of="seq:${AS_OF_SEQ}"][data-view-seq="${AS_OF_SEQ}"]`, WAIT);
    await ready(page);
    const atSeq = await apiJson('/v1/regions?as_of=' + AS_OF_SEQ);
    assert.notDeepEqual(atSeq.pairs, baseline.regions.pairs, 'the point is in the past');
    await assertMatrixEquals(page, atSeq, 'as of ' + AS_OF_SEQ);
    await assertCorridorsEqual(page, atSeq, 'as of ' + AS_OF_SEQ);
    await assertTimelineEquals(page, '#timeline', await apiJson('/v1/timeline?by=year&as_of=' + AS_OF_SEQ), 'as of ' + AS_OF_SEQ);

    // Both: what the ledger said at the sequence about what had happened by the date.
    await page.fill('#asof-date', AS_OF_DATE);
    await page.click('#asof-apply');
    const both = `seq:${AS_OF_SEQ};date:${AS_OF_DATE}`;
    await page.waitForSelector(`main[data-as-of="${both}"][data-view-seq="${AS_OF_SEQ}"]`, WAIT);
    await ready(page);
    const bitemporal = await apiJson(`/v1/regions?as_of=${AS_OF_SEQ}&on=${AS_OF_DATE}`);
    assert.notDeepEqual(bitemporal.pairs, atSeq.pairs, 'the date counts');
    await assertMatrixEquals(page, bitemporal, both);
    await assertCorridorsEqual(page, bitemporal, both);
    await assertTimelineEquals(page, '#timeline', await apiJson(`/v1/timeline?by=year&as_of=${AS_OF_SEQ}&on=${AS_OF_DATE}`), both);
    const csv = await download(page, '#matrix-csv a');
    assert.equal(csv.text, await apiText(`/v1/regions?as_of=${AS_OF_SEQ}&on=${AS_OF_DATE}&format=csv`));

    // The date alone, by today's knowledge.
    await page.uncheck('#asof-use-seq');
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
    assert.deepEqual(problems, []);
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
    await assertTimelineEquals(page, '#c-over-time', await apiJson('/v1/timeline?by=year&country=GH'), 'GH');
    // Its meetings, activities and cases, newest first, paged.
    const listing = await apiJson('/v1/entities?country=GH&offset=0&limit=10');
    await page.waitForSelector('#c-listing-table', WAIT);
    const listed = await page.$$eval('#c-listing-table tbody tr', (trs) => trs.map((tr) => tr.dataset.stream));
    assert.deepEqual(listed, listing.entities.map((e) => e.stream));
    if (listing.total > 10) {
      await page.click('#c-listing button[data-page="10"]');
      await page.waitForFunction(() => /^11–/.test(document.getElementById('c-listing-range').textContent), null, WAIT);
      const older = await apiJson('/v1/entities?country=GH&offset=10&limit=10');
      const page2 = await page.$$eval('#c-listing-table tbody tr', (trs) => trs.map((tr) => tr.dataset.stream));
      assert.deepEqual(page2, older.entities.map((e) => e.stream));
    }
    await page.screenshot({ path: path.join(SHOTS, 'country-GH.png'), fullPage: true });
    await page.click('.crumbs a');
    await page.waitForSelector('#page-overview:not([hidden])', WAIT);
    assert.deepEqual(problems, []);
  });

  await t.test('an entity page: the Lagos workshop, its correction and what it changed', async () => {
    const hooked = page.evaluate(() => new Promise((resolve) => {
      document.addEventListener('coopledger:entity', (ev) => resolve({ stream: ev.detail.stream, history: ev.detail.entity.history.length }), { once: true });
    }));
    await page.evaluate((s) => { location.hash = '#' + s; }, lagosStream);
    await page.waitForSelector(`#entity-head[data-stream="${lagosStream}"]`, WAIT);
    const doc = await apiJson('/v1/entities/' + lagosStream);
    assert.deepEqual(await hooked, { stream: lagosStream, history: doc.history.length }, 'the coopledger:entity event');
    assert.ok(await page.$(`#entity-actions[data-stream="${lagosStream}"]`), 'the staff form\'s container');
    assert.equal(await page.textContent('#entity-head h1'), doc.summary.title);
    const countries = await page.$$eval('#e-countries li', (lis) => lis.map((li) => li.dataset.cc));
    assert.deepEqual(countries, doc.countries.map((c) => c.country));
    const history = await page.$$eval('#e-history tbody tr', (trs) => trs.map((tr) => [Number(tr.dataset.seq), tr.dataset.change, tr.querySelector('.effect').textContent]));
    assert.deepEqual(history.map((h) => h[0]), doc.history.map((h) => h.record.seq));
    assert.equal(history[1][1], 'contribution');
    assert.match(history[1][2], /Undid: activity \(workshop\) .*\(5 women\)\. Added: .*\(6 women\)\. CV: women \+1\. GH: women \+1\. NG: women \+1\./);
    const csv = await download(page, '#page-entity .csv a');
    assert.equal(csv.text, await apiText('/v1/streams/' + lagosStream + '?format=csv'));
    await page.screenshot({ path: path.join(SHOTS, 'entity.png'), fullPage: true });
    await page.click('#e-countries a[href="#country/NG"]');
    await page.waitForSelector('#country-head[data-cc="NG"]', WAIT);
    await page.evaluate(() => { location.hash = '#overview'; });
    await page.waitForSelector('#page-overview:not([hidden])', WAIT);
    assert.deepEqual(problems, []);
  });

  await t.test('Verify now (staff) verifies the new head; a reader sees the kept result', async () => {
    // The page holds no token (public reads): the server refuses the POST, the note says so.
    await page.click('#verify-now');
    await page.waitForFunction(() => /staff/.test(document.getElementById('verify-note').textContent) || document.getElementById('auth').hidden === false, null, WAIT);
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
    await page.waitForSelector('body[data-timeline="ready"]', WAIT);
    const regions = asOf === null ? baseline.regions : await apiJson('/v1/regions?as_of=' + asOf);
    await assertMatrixEquals(page, regions, file);
    await assertCorridorsEqual(page, regions, file);
    assert.match(await page.textContent('#live-text'), /Report/);
    assert.match(await page.textContent('#checkpoint-status'), /None signed yet/);
    assert.equal(await page.$eval('#asof-apply', (b) => b.disabled), true, 'the point is fixed');
    if (asOf === null) {
      assert.equal(num(await page.textContent('#head-seq')), baseline.head.seq);
      await assertTimelineEquals(page, '#timeline', baseline.timeline, file);
      // Its CSV comes from the file itself: the countries as the ledger stood when it was written.
      const csv = await download(page, '#countries-csv a');
      assert.equal(csv.text, await apiText('/v1/countries?format=csv&as_of=' + baseline.head.seq));
      // On paper: the summary first, no controls, each chart kept on one page.
      await page.emulateMedia({ media: 'print' });
      const print = await page.evaluate(() => {
        const shown = (id) => getComputedStyle(document.getElementById(id)).display !== 'none';
        const first = Array.from(document.querySelectorAll('main > *, main > div > *')).find((el) => getComputedStyle(el).display !== 'none' && el.offsetHeight > 0);
        return {
          summary: shown('print-summary'), text: document.getElementById('print-summary').textContent,
          first: first && first.id, asof: shown('asof'), csv: shown('countries-csv'), verify: shown('verify-now'),
          charts: Array.from(document.querySelectorAll('.card')).every((c) => getComputedStyle(c).breakInside === 'avoid'),
          pageBreak: getComputedStyle(document.getElementById('kpis')).breakAfter,
        };
      });
      assert.deepEqual({ ...print, text: undefined }, { summary: true, text: undefined, first: 'print-summary', asof: false, csv: false, verify: false, charts: true, pageBreak: 'page' });
      assert.match(print.text, /verified intact/);
      await page.pdf({ path: path.join(SHOTS, 'report.pdf') });
      await page.emulateMedia({ media: 'screen' });
      await page.screenshot({ path: path.join(SHOTS, 'report.png'), fullPage: true });
      await page.evaluate(() => { location.hash = '#country/GH'; });
      await page.waitForSelector('#country-head[data-cc="GH"]', WAIT);
      const view = baseline.countries.find((c) => c.country === 'GH');
      assert.equal(num(await page.textContent('#c-activities .kpi-value')), view.activities.total);
      // An entity the country lists opens from the file too.
      await page.waitForSelector('#c-listing-table tbody tr a', WAIT);
      const stream = await page.$eval('#c-listing-table tbody tr', (tr) => tr.dataset.stream);
      await page.click('#c-listing-table tbody tr a');
      await page.waitForSelector(`#entity-head[data-stream="${stream}"]`, WAIT);
      assert.equal(await page.$('#entity-head[data-missing]'), null);
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
