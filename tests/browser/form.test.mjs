// The staff form of the dashboard (src/dashboard/form.js) in a real headless browser: Debian's
// chromium driven by playwright-core, against a real `coopledger serve`. Builds nothing: it runs
// target/debug/coopledger (or $COOPLEDGER_BIN). Run with `node form.test.mjs` from tests/browser/.
//
// Checks: the Accra training filled in and recorded, with its confirmation in words; problems
// shown next to their fields (a required field left empty, rules across fields, a contextual
// rule) with nothing appended; a correction through "Correct this" on a country page and on an
// activity (through the exported function entity pages call); a reader token, or none, sees no
// form. Screenshots go to target/screenshots/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const BIN = process.env.COOPLEDGER_BIN || path.join(ROOT, 'target', 'debug', 'coopledger');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'target', 'screenshots');
const STAFF = 'staff-token-form-0123456789';
const READER = 'reader-token-form-0123456789';
const WAIT = { timeout: 20_000 };

let work;
let db;
let server;
let browser;

async function serve() {
  const tokens = path.join(work, 'tokens');
  fs.writeFileSync(tokens, `staff ${STAFF}\nreader ${READER}\n`);
  const child = spawn(BIN, ['--db', db, 'serve', '--addr', '127.0.0.1:0', '--tokens', tokens, '--public-reads'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const lines = readline.createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, 'line').then(([l]) => l),
    once(child, 'exit').then(([code]) => { throw new Error('serve exited ' + code + ': ' + stderr); }),
  ]);
  const base = first.trim().split(' ').pop();
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, first);
  return { child, url: (p) => base + p };
}

async function api(p, token = READER) {
  const res = await fetch(server.url(p), { headers: { Authorization: 'Bearer ' + token } });
  assert.equal(res.status, 200, 'GET ' + p);
  return res.json();
}
const head = async () => (await api('/v1/head')).seq;

// A page that records console errors, page errors, failed requests and error responses.
async function openPage({ allow = () => false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 1000 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error' && !allow(m.text())) problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('requestfailed', (r) => {
    const why = r.failure() ? r.failure().errorText : '';
    if (why.includes('ERR_ABORTED') && r.url().includes('/v1/feed')) return;
    problems.push('failed: ' + r.url() + ' ' + why);
  });
  page.on('response', (r) => { if (r.status() >= 400 && !allow(r.url() + ' ' + r.status())) problems.push('HTTP ' + r.status() + ' ' + r.url()); });
  await page.goto(server.url('/'));
  await page.waitForSelector('body[data-state="ready"]', WAIT);
  return { context, page, problems };
}

async function signIn(page, token) {
  await page.click('#staff-signin');
  await page.fill('#signin-token', token);
  await page.keyboard.press('Enter');
}

async function openForm(page, type) {
  await page.click('#record-open');
  await page.waitForSelector('#record-dialog[open]', WAIT);
  await page.selectOption('#record-type', type);
  await page.waitForSelector('#form-fields .form-field', WAIT);
}

const input = (page, p) => page.locator(`#record-dialog .form-field[data-path="${p}"] input, #record-dialog .form-field[data-path="${p}"] select, #record-dialog .form-field[data-path="${p}"] textarea`).first();
const errorOf = (page, p) => page.locator(`#record-dialog .form-field[data-path="${p}"] .field-error`);

async function fillAccra(page, { women = '8', start = '2026-03-03', title = 'Police training, Accra' } = {}) {
  await input(page, 'kind').selectOption('training');
  if (title !== null) await input(page, 'title').fill(title);
  await input(page, 'pillar').selectOption('capacity_building');
  await input(page, 'start').fill(start);
  await input(page, 'end').fill('2026-03-05');
  await input(page, 'venue.city').fill('Accra');
  await input(page, 'venue.country').selectOption('GH');
  await input(page, 'beneficiaries').selectOption('GH');
  await input(page, 'beneficiaries').selectOption('NG');
  await input(page, 'participants.total').fill('25');
  await input(page, 'participants.women').fill(women);
  await page.check('#record-dialog input[name="institutions"][value="police"]');
  await input(page, 'recorded_by').fill('officer.accra');
}

before(async () => {
  for (const f of [BIN, CHROMIUM]) assert.ok(fs.existsSync(f), f + ' is missing (build with `cargo build`; install chromium)');
  fs.mkdirSync(SHOTS, { recursive: true });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'coopledger-form-'));
  db = path.join(work, 'ledger');
  const run = (...args) => execFileSync(BIN, ['--db', db, ...args], { stdio: 'ignore' });
  run('demo', '--synthetic', '100');
  // A signed checkpoint, so the page's checkpoint card has one to show (no 404).
  run('keygen', '--out', path.join(work, 'ledger.key'), '--name', 'form.test/ledger');
  run('checkpoint', '--key', path.join(work, 'ledger.key'));
  server = await serve();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

let accraEvent; // the event id of the training recorded through the form

test('the Accra training, filled in and recorded, is confirmed in words', async () => {
  const { context, page, problems } = await openPage();
  assert.equal(await page.$('#record-open'), null, 'no form before a staff sign-in');
  await signIn(page, STAFF);
  await page.waitForSelector('#record-open', WAIT);
  await openForm(page, 'ActivityDelivered');
  await fillAccra(page);
  await page.screenshot({ path: path.join(SHOTS, 'form-accra.png'), fullPage: true });
  const before = await head();
  await page.click('#record-submit');
  const confirmation = await page.waitForSelector('#record-confirmation', WAIT);
  const seq = Number(await confirmation.getAttribute('data-seq'));
  assert.equal(seq, before + 1);
  assert.equal(await confirmation.textContent(),
    `Recorded: Training, Accra, 3–5 Mar 2026, GH NG, 25 participants (8 women) — sequence ${seq.toLocaleString('en-US')}`);
  assert.equal(await page.isVisible('#record-form'), false, 'the form gives way to the confirmation');
  accraEvent = await confirmation.getAttribute('data-event-id');
  const event = await api('/v1/events/' + accraEvent);
  assert.equal(event.type, 'ActivityDelivered');
  assert.equal(event.recorded_by, 'officer.accra');
  assert.deepEqual(event.beneficiaries, ['GH', 'NG']);
  assert.deepEqual(event.participants, { total: 25, women: 8 });
  assert.deepEqual(event.institutions, ['police']);
  assert.deepEqual(event.venue, { city: 'Accra', country: 'GH' });
  await page.screenshot({ path: path.join(SHOTS, 'form-recorded.png') });
  assert.deepEqual(problems, []);
  await context.close();
});

test('every problem is shown next to its field and nothing is appended', async () => {
  // The check answers 422 for the invalid submissions: expected here.
  const { context, page, problems } = await openPage({ allow: (s) => /events\/check 422|status of 422/.test(s) });
  await signIn(page, STAFF);
  await page.waitForSelector('#record-open', WAIT);
  const before = await head();
  await openForm(page, 'ActivityDelivered');
  // A required field left empty: named next to it, before anything is sent.
  await fillAccra(page, { title: null });
  await page.check('#record-dialog input[name="venue.virtual"]');
  assert.equal(await input(page, 'venue.city').isVisible(), false, 'an online event has no city');
  await page.uncheck('#record-dialog input[name="venue.virtual"]');
  await page.click('#record-submit');
  await errorOf(page, 'title').waitFor({ state: 'visible', ...WAIT });
  assert.match(await errorOf(page, 'title').textContent(), /missing_field/);
  // Rules across fields: more women than participants, a start after the end. Each shows next
  // to its own field, from the same validation an append runs.
  await input(page, 'title').fill('Police training, Accra');
  await input(page, 'participants.women').fill('30');
  await input(page, 'start').fill('2026-03-07');
  await page.click('#record-submit');
  await errorOf(page, 'participants.women').waitFor({ state: 'visible', ...WAIT });
  assert.match(await errorOf(page, 'participants.women').textContent(), /participants_breakdown.*30 > total 25/);
  assert.match(await errorOf(page, 'start').textContent(), /start_after_end/);
  assert.equal(await errorOf(page, 'title').isVisible(), false, 'the fixed field is clear again');
  assert.equal(await page.getAttribute('#record-dialog .form-field[data-path="start"] input', 'aria-invalid'), 'true');
  assert.match(await page.textContent('#form-errors'), /2 problems to fix; nothing was recorded/);
  await page.screenshot({ path: path.join(SHOTS, 'form-errors.png'), fullPage: true });
  assert.equal(await head(), before, 'nothing was appended');
  // A contextual rule, against what the ledger holds: a milestone of a case nobody opened.
  await page.selectOption('#record-type', 'CaseMilestoneRecorded');
  await input(page, 'case_id').fill('0190f0a1-7c2e-7a10-8b3e-00000000ffff');
  await input(page, 'on').fill('2024-02-01');
  await input(page, 'milestone.kind').selectOption('arrests');
  await input(page, 'milestone.country').selectOption('GH');
  await input(page, 'milestone.count').fill('3');
  await page.click('#record-submit');
  await errorOf(page, 'case_id').waitFor({ state: 'visible', ...WAIT });
  assert.match(await errorOf(page, 'case_id').textContent(), /case_not_open/);
  assert.equal(await head(), before, 'nothing was appended');
  assert.deepEqual(problems, []);
  await context.close();
});

test('a correction through the form: a country page and an activity', async () => {
  const { context, page, problems } = await openPage();
  await signIn(page, STAFF);
  await page.waitForSelector('#record-open', WAIT);
  await page.evaluate(() => { location.hash = '#country/GH'; });
  await page.waitForSelector('#country-head[data-cc="GH"] .entity-actions', WAIT);
  const stream = await api('/v1/streams/country/GH');
  const joined = stream.filter((e) => e.type === 'CountryJoined').pop();
  assert.equal(await page.getAttribute('.entity-actions', 'data-target'), joined.event_id);
  await page.click('.entity-actions [data-action="correct"]');
  await page.waitForSelector('#record-dialog[open]', WAIT);
  assert.equal(await input(page, 'joined_on').inputValue(), joined.joined_on, 'pre-filled with the effective payload');
  assert.equal(await input(page, 'participation').inputValue(), joined.participation);
  await input(page, 'joined_on').fill('2016-07-22');
  await input(page, 'reason').fill('The accession letter is dated 22 July');
  await input(page, 'recorded_by').fill('officer.accra');
  await page.click('#record-submit');
  const done = await page.waitForSelector('#record-confirmation', WAIT);
  assert.match(await done.textContent(), /^Corrected: GH joined as beneficiary on 22 Jul 2016 — sequence /);
  const after = await api('/v1/streams/country/GH');
  const correction = after[after.length - 1];
  assert.equal(correction.type, 'EventCorrected');
  assert.equal(correction.target, joined.event_id);
  assert.equal(correction.replacement.joined_on, '2016-07-22');
  assert.equal(correction.reason, 'The accession letter is dated 22 July');
  await page.keyboard.press('Escape');

  // An activity, as its page will offer it: through the function entity pages call.
  const activity = (await api('/v1/events/' + accraEvent)).activity_id;
  await page.evaluate(async (id) => {
    const host = document.createElement('div');
    host.id = 'test-host';
    document.querySelector('main').prepend(host);
    await window.coopledgerForms.entityActions('activity/' + id, host);
  }, activity);
  await page.waitForSelector('#test-host .entity-actions [data-action="correct"]', WAIT);
  await page.click('#test-host [data-action="correct"]');
  await page.waitForSelector('#record-dialog[open]', WAIT);
  assert.equal(await input(page, 'participants.total').inputValue(), '25');
  assert.equal(await input(page, 'activity_id').getAttribute('readonly'), '', 'the entity stays the same');
  await input(page, 'participants.total').fill('26');
  await input(page, 'reason').fill('One more name on the attendance list');
  await input(page, 'recorded_by').fill('officer.accra');
  await page.click('#record-submit');
  await page.waitForSelector('#record-confirmation', WAIT);
  const events = await api('/v1/streams/activity/' + activity);
  assert.equal(events.length, 2, 'the delivery and its correction; the log stays append-only');
  assert.equal(events[1].replacement.participants.total, 26);
  assert.equal(events[1].replacement.title, 'Police training, Accra', 'the rest is the effective payload');
  await page.screenshot({ path: path.join(SHOTS, 'form-corrected.png') });
  await page.keyboard.press('Escape');

  // "Retract" asks for the reason, and the retraction goes to the same stream.
  await page.evaluate(async (id) => {
    await window.coopledgerForms.entityActions('activity/' + id, document.getElementById('test-host'));
  }, activity);
  await page.click('#test-host [data-action="retract"]');
  await page.waitForSelector('#record-dialog[open]', WAIT);
  await input(page, 'recorded_by').fill('officer.accra');
  await page.click('#record-submit');
  await errorOf(page, 'reason').waitFor({ state: 'visible', ...WAIT });
  await input(page, 'reason').selectOption('entered_in_error');
  await page.click('#record-submit');
  const retracted = await page.waitForSelector('#record-confirmation', WAIT);
  assert.match(await retracted.textContent(), /^Retracted: event .* \(entered in error\) — sequence /);
  const last = (await api('/v1/streams/activity/' + activity)).pop();
  assert.equal(last.type, 'EventRetracted');
  assert.equal(last.target, accraEvent);
  assert.equal(last.reason, 'entered_in_error');
  assert.deepEqual(problems, []);
  await context.close();
});

test('a reader token, or none, sees no form', async () => {
  // The sign-in asks the check endpoint, which refuses a reader (403): expected here.
  const { context, page, problems } = await openPage({ allow: (s) => /events\/check 403|status of 403/.test(s) });
  const noForm = async (what) => {
    assert.equal(await page.$('#record-open'), null, what + ': no "Record an event"');
    assert.equal(await page.$('#record-dialog'), null, what + ': no form');
    assert.equal(await page.$('.entity-actions'), null, what + ': no "Correct this"');
  };
  await page.evaluate(() => { location.hash = '#country/GH'; });
  await page.waitForSelector('#country-head[data-cc="GH"]', WAIT);
  await noForm('without a token');
  await signIn(page, READER);
  await page.waitForSelector('#signin-note:has-text("may read but not record")', WAIT);
  await page.keyboard.press('Escape');
  await page.evaluate(() => { location.hash = '#overview'; });
  await page.evaluate(() => { location.hash = '#country/NG'; });
  await page.waitForSelector('#country-head[data-cc="NG"]', WAIT);
  const rendered = await page.evaluate(async () => window.coopledgerForms.entityActions('country/NG', document.getElementById('country-head')));
  assert.equal(rendered, null);
  await noForm('with a reader token');
  await page.screenshot({ path: path.join(SHOTS, 'form-reader.png') });
  assert.deepEqual(problems, []);
  await context.close();
});
