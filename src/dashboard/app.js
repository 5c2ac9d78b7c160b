// coopledger dashboard: draws the views from the API's own JSON with hand-written SVG.
// Served at / by `coopledger serve` (fetches /v1/...), or inside a report file written by
// `coopledger report`, where the same documents are embedded and nothing is fetched.
'use strict';
(function () {
  // ---------------------------------------------------------------- vocabulary
  const REGIONS = ['latin_america_caribbean', 'west_africa', 'other_africa', 'europe', 'other'];
  const REGION_NAME = {
    latin_america_caribbean: 'Latin America & Caribbean',
    west_africa: 'West Africa',
    other_africa: 'Other Africa',
    europe: 'Europe',
    other: 'Other',
  };
  const REGION_SHORT = {
    latin_america_caribbean: 'LAC',
    west_africa: 'West Africa',
    other_africa: 'Other Africa',
    europe: 'Europe',
    other: 'Other',
  };
  const REGION_COLOUR = {
    latin_america_caribbean: '#0072b2',
    west_africa: '#e69f00',
    other_africa: '#009e73',
    europe: '#cc79a7',
    other: '#8c8c8c',
  };
  const KINDS = [
    'training', 'training_of_trainers', 'workshop', 'practical_exercise',
    'investigative_case_forum', 'working_group', 'case_mentoring', 'expert_meeting',
    'study_visit', 'institutional_assessment',
  ];
  const METRIC_NOUN = { meetings: 'meetings', activities: 'activities', cases: 'cases' };
  const STATUS_COLOUR = {
    beneficiary: '#0f766e', associated: '#2563eb', partner: '#7c3aed', observer: '#64748b',
    suspended: '#d97706', withdrawn: '#b91c1c',
  };
  const RECENT = 20;
  const MAX_YEARS = 40;
  const NETWORK_LINKS = 160;

  // ---------------------------------------------------------------- helpers
  const $ = (id) => document.getElementById(id);
  const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ESC[c]);
  const fmt = (n) => Number(n || 0).toLocaleString('en-US');
  const pct = (x) => (Number(x || 0) * 100).toFixed(1) + '%';
  const human = (s) => String(s || '').replace(/_/g, ' ');
  const cap = (s) => { s = human(s); return s.charAt(0).toUpperCase() + s.slice(1); };
  const shortHash = (h) => (h ? h.slice(0, 12) + '…' + h.slice(-6) : '–');
  const when = (t) => (t ? String(t).replace('T', ' ').replace(/\.\d+/, '').replace('Z', ' UTC') : '–');
  const regionName = (r) => REGION_NAME[r] || human(r);
  const colour = (r) => REGION_COLOUR[r] || REGION_COLOUR.other;
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  function mix(a, b, t) {
    const pa = [1, 3, 5].map((i) => parseInt(a.slice(i, i + 2), 16));
    const pb = [1, 3, 5].map((i) => parseInt(b.slice(i, i + 2), 16));
    return '#' + pa.map((v, i) => Math.round(v + (pb[i] - v) * t).toString(16).padStart(2, '0')).join('');
  }
  function heat(t) {
    // a single-hue sequential scale, light to deep blue
    const stops = ['#f1f5f9', '#bfdbfe', '#60a5fa', '#2563eb', '#1e3a8a'];
    if (t <= 0) return stops[0];
    const x = Math.min(1, t) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x));
    return mix(stops[i], stops[i + 1], x - i);
  }
  // The top of an axis with four equal steps of a round size (1, 2, 2.5, 3, 4, 5, 6, 8 × 10^k).
  function niceMax(v) {
    if (v <= 0) return 4;
    const step = v / 4;
    const p = Math.pow(10, Math.floor(Math.log10(step)));
    for (const m of [1, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= step && Number.isInteger(m * p)) return 4 * m * p;
    return 4 * Math.max(1, Math.ceil(step));
  }
  // The real-world date an event's JSON is about (the report builder reads the same fields).
  const DATE_FIELDS = ['registered_on', 'joined_on', 'changed_on', 'start', 'opened_on', 'added_on', 'on', 'closed_on', 'cancelled_on'];
  function factDate(e) {
    for (const f of DATE_FIELDS) if (e && typeof e[f] === 'string') return e[f];
    return null;
  }

  // ---------------------------------------------------------------- data source
  const dataEl = document.getElementById('coopledger-report');
  const REPORT = dataEl ? JSON.parse(dataEl.textContent) : null;

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.detail) || ('HTTP ' + status));
      this.status = status;
      this.body = body;
    }
  }

  let token = '';
  try { token = sessionStorage.getItem('coopledger.token') || ''; } catch (_) { /* storage may be off */ }
  let tokenWaiters = null;

  function askForToken(message) {
    const panel = $('auth');
    panel.hidden = false;
    $('auth-message').textContent = message || 'Enter a reader or staff token. It is kept in this tab only.';
    if (!tokenWaiters) {
      tokenWaiters = [];
      setLive('down', 'Waiting for an access token');
      setTimeout(() => $('auth-token').focus(), 0);
    }
    return new Promise((resolve) => tokenWaiters.push(resolve));
  }
  $('auth-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = $('auth-token').value.trim();
    if (!value) return;
    token = value;
    try { sessionStorage.setItem('coopledger.token', token); } catch (_) { /* ignore */ }
    $('auth').hidden = true;
    $('auth-token').value = '';
    const waiters = tokenWaiters || [];
    tokenWaiters = null;
    waiters.forEach((w) => w());
    if (feed.wanted && !feed.source) connectFeed(feed.next);
  });

  async function request(path) {
    for (;;) {
      const headers = { Accept: 'application/json' };
      if (token) headers.Authorization = 'Bearer ' + token;
      const res = await fetch(path, { headers, cache: 'no-store' });
      if (res.status === 401) {
        let body = null;
        try { body = await res.json(); } catch (_) { /* not JSON */ }
        await askForToken(token ? 'That token was not accepted (' + ((body && body.detail) || 'unauthorized') + '). Enter another.' : null);
        continue;
      }
      return res;
    }
  }

  // One document: the embedded one in a report, else the API's answer.
  async function api(path) {
    if (REPORT) return embedded(path);
    const res = await request(path);
    const type = res.headers.get('content-type') || '';
    const body = type.includes('json') ? await res.json() : await res.text();
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  }

  function embedded(path) {
    const docs = REPORT.documents;
    if (Object.prototype.hasOwnProperty.call(docs, path)) return docs[path];
    // A country's view is the same object as its entry in the countries listing.
    const m = /^\/v1\/countries\/([A-Z]{2})(\?.*)?$/.exec(path);
    if (m) {
      const list = docs['/v1/countries' + (m[2] || '')];
      const view = Array.isArray(list) && list.find((c) => c.country === m[1]);
      if (view) return view;
    }
    throw new ApiError(404, { error: 'not_found', detail: 'not in this report' });
  }

  // A paged listing, every page (following Link: rel="next").
  async function apiAll(path) {
    if (REPORT) return embedded(path);
    let out = [];
    let next = path;
    while (next) {
      const res = await request(next);
      const body = await res.json();
      if (!res.ok) throw new ApiError(res.status, body);
      out = out.concat(body);
      const link = res.headers.get('link') || '';
      const m = /<([^>]+)>;\s*rel="next"/.exec(link);
      next = m ? m[1] : null;
    }
    return out;
  }

  // ---------------------------------------------------------------- state
  const state = {
    asOf: null, // null (head), {kind: 'seq', value: N} or {kind: 'date', value: 'YYYY-MM-DD'}
    metric: 'activities',
    top: 20,
    head: null,
    verify: null,
    checkpoint: undefined,
    regions: null,
    countries: [],
    byCode: new Map(),
    recent: [],
    first: undefined,
    series: [],
    sort: { key: 'activities', dir: -1 },
    filter: '',
  };
  if (REPORT && REPORT.as_of && REPORT.as_of.kind !== 'head') state.asOf = REPORT.as_of;
  let generation = 0;

  function asOfQuery(asOf) {
    if (!asOf) return '';
    return asOf.kind === 'seq' ? '?as_of=' + asOf.value : '?on=' + asOf.value;
  }
  function recentPath(asOf) {
    if (asOf && asOf.kind === 'seq') return '/v1/events?from=' + asOf.value + '&reverse=true&limit=' + RECENT;
    return '/v1/events?reverse=true&limit=' + RECENT;
  }
  function asOfLabel(asOf, seq) {
    if (!asOf) return 'as it stands (sequence ' + fmt(seq) + ')';
    if (asOf.kind === 'seq') return 'as of sequence ' + fmt(asOf.value);
    return 'counting what happened by ' + asOf.value;
  }
  function asOfKey(asOf) {
    return asOf ? asOf.kind + ':' + asOf.value : 'head';
  }

  // The dates of the share over time (the report builder computes the same list).
  function seriesDates(first, head, asOf) {
    const firstYear = first ? parseInt(String(factDate(first) || '').slice(0, 4), 10) : NaN;
    let last = head && head.recorded_at ? parseInt(head.recorded_at.slice(0, 4), 10) : NaN;
    if (!Number.isFinite(firstYear) || !Number.isFinite(last)) return [];
    let cut = null;
    if (asOf && asOf.kind === 'date') {
      const y = parseInt(asOf.value.slice(0, 4), 10);
      if (y <= last) { last = y; cut = asOf.value; }
    }
    const out = [];
    for (let y = Math.max(firstYear, last - MAX_YEARS + 1); y <= last; y++) {
      const end = String(y).padStart(4, '0') + '-12-31';
      out.push(cut && y === last && cut < end ? cut : end);
    }
    return out;
  }

  // ---------------------------------------------------------------- status strip
  function setLive(mode, text) {
    const el = $('live');
    el.dataset.mode = mode;
    $('live-text').textContent = text;
  }
  function showError(e) {
    const el = $('error');
    if (!e) { el.hidden = true; el.textContent = ''; return; }
    el.hidden = false;
    el.textContent = (e.status ? 'The API answered ' + e.status + ': ' : '') + (e.message || String(e));
  }

  function renderHead() {
    const h = state.head;
    if (!h) return;
    $('head-seq').textContent = fmt(h.seq);
    $('head-hash').textContent = shortHash(h.hash);
    $('head-hash').title = h.hash || '';
    $('head-time').textContent = h.seq > 0 ? 'recorded ' + when(h.recorded_at) : 'no events recorded yet';
    const range = $('asof-range');
    range.max = String(h.seq);
    if (!state.asOf || state.asOf.kind !== 'seq') range.value = String(h.seq);
    $('asof-seq').max = String(h.seq);
    renderVerify();
    renderCheckpoint();
  }

  function renderVerify() {
    const v = state.verify;
    const status = $('verify-status');
    const note = $('verify-note');
    if (!v) { status.textContent = '–'; note.textContent = 'not run yet'; return; }
    if (v.error) { status.className = 'stat-value bad'; status.textContent = 'Unavailable'; note.textContent = v.error; return; }
    if (v.ok) {
      status.className = 'stat-value ok';
      status.textContent = '✓ Chain intact';
      const behind = state.head && state.head.seq > v.head_seq ? state.head.seq - v.head_seq : 0;
      note.textContent = fmt(v.events) + ' records, to #' + fmt(v.head_seq) + (behind ? ' (+' + fmt(behind) + ' since)' : '');
    } else {
      status.className = 'stat-value bad';
      status.textContent = '✗ Failed at #' + fmt(v.first_bad_sequence);
      note.textContent = v.reason || '';
    }
    note.title = (v.head_hash ? 'head hash ' + v.head_hash : '') + (state.head && state.head.seq > v.head_seq ? '; newer records are not checked yet: Verify again' : '');
  }

  function parseCheckpoint(text) {
    const [body, sigs] = String(text).split('\n\n');
    const lines = body.split('\n');
    const signers = (sigs || '').split('\n').filter(Boolean).map((l) => l.replace(/^\u2014\s*/, '').split(' ')[0]);
    return { origin: lines[0], size: parseInt(lines[1], 10), root: lines[2] || '', signers };
  }

  function renderCheckpoint() {
    const c = state.checkpoint;
    const status = $('checkpoint-status');
    const note = $('checkpoint-note');
    const signer = $('checkpoint-signer');
    if (c === undefined) { status.textContent = '–'; note.textContent = '–'; signer.textContent = ''; return; }
    if (c === null) {
      status.className = 'stat-value muted';
      status.textContent = 'None signed yet';
      note.textContent = 'coopledger checkpoint --key FILE';
      signer.textContent = 'or serve with --key';
      return;
    }
    if (c.error) { status.className = 'stat-value bad'; status.textContent = 'Unavailable'; note.textContent = c.error; signer.textContent = ''; return; }
    const cp = parseCheckpoint(c.text);
    status.className = 'stat-value';
    const head = state.head ? state.head.seq : cp.size;
    status.textContent = 'Tree of ' + fmt(cp.size);
    note.textContent = 'root ' + cp.root;
    note.title = c.text;
    signer.textContent = 'signed by ' + (cp.signers.join(', ') || cp.origin) + (head > cp.size ? ' · ' + fmt(head - cp.size) + ' newer' : '');
  }

  // ---------------------------------------------------------------- overview charts
  function pairValues(regions, metric) {
    const value = {};
    for (const p of regions.pairs) {
      value[p.regions[0] + '|' + p.regions[1]] = p[metric];
      value[p.regions[1] + '|' + p.regions[0]] = p[metric];
    }
    return (a, b) => value[a + '|' + b] || 0;
  }

  function renderMatrix() {
    const regions = state.regions;
    const metric = state.metric;
    const v = pairValues(regions, metric);
    const n = REGIONS.length;
    const cell = 78;
    const left = 150;
    const top = 34;
    const w = left + n * cell + 4;
    const h = top + n * cell + 4;
    let max = 0;
    for (const a of REGIONS) for (const b of REGIONS) max = Math.max(max, v(a, b));
    const noun = METRIC_NOUN[metric];
    const out = [];
    out.push('<svg viewBox="0 0 ' + w + ' ' + h + '" role="img" aria-labelledby="hm-t hm-d" class="heatmap" data-metric="' + metric + '">');
    out.push('<title id="hm-t">Inter-regional matrix of ' + noun + '</title>');
    out.push('<desc id="hm-d">' + esc(matrixSummary(regions, metric)) + ' The table below the picture gives every number.</desc>');
    REGIONS.forEach((r, j) => {
      out.push('<text x="' + (left + j * cell + cell / 2) + '" y="' + (top - 12) + '" text-anchor="middle" class="lbl-strong">' + esc(REGION_SHORT[r]) + '</text>');
    });
    REGIONS.forEach((a, i) => {
      const y = top + i * cell;
      out.push('<circle cx="10" cy="' + (y + cell / 2) + '" r="5" fill="' + colour(a) + '"></circle>');
      out.push('<text x="22" y="' + (y + cell / 2 + 4) + '" class="lbl-strong">' + esc(REGION_SHORT[a]) + '</text>');
      REGIONS.forEach((b, j) => {
        const val = v(a, b);
        const t = max > 0 ? Math.sqrt(val / max) : 0;
        const x = left + j * cell;
        const fill = val > 0 ? heat(0.08 + 0.92 * t) : '#f8fafc';
        const dark = t > 0.55;
        const label = regionName(a) + ' × ' + regionName(b) + ': ' + fmt(val) + ' ' + noun + (a === b ? ' (within the region)' : '');
        out.push('<g class="hm-cell' + (a === b ? ' hm-diag' : '') + '" data-a="' + a + '" data-b="' + b + '" data-value="' + val + '">');
        out.push('<title>' + esc(label) + '</title>');
        out.push('<rect class="hm-bg" x="' + x + '" y="' + y + '" width="' + cell + '" height="' + cell + '" rx="6" fill="' + fill + '"></rect>');
        if (a === b) out.push('<rect x="' + (x + 5) + '" y="' + (y + 5) + '" width="' + (cell - 10) + '" height="' + (cell - 10) + '" rx="4" fill="none" stroke="' + (t > 0.55 ? '#ffffff' : '#94a3b8') + '" stroke-width="1" stroke-dasharray="3 3" opacity="0.7"></rect>');
        out.push('<text x="' + (x + cell / 2) + '" y="' + (y + cell / 2 + 5) + '" text-anchor="middle" class="hm-num' + (dark ? ' on-dark' : '') + '">' + (val > 0 ? fmt(val) : '·') + '</text>');
        out.push('</g>');
      });
    });
    out.push('</svg>');
    $('matrix').innerHTML = out.join('');
    // the table fallback
    const t = ['<table class="matrix-table"><caption>' + esc(cap(noun)) + ' by pair of programme regions, ' + esc(asOfLabel(state.asOf, regions.as_of_sequence)) + '</caption><thead><tr><th scope="col">Region</th>'];
    REGIONS.forEach((r) => t.push('<th scope="col" class="num">' + esc(REGION_SHORT[r]) + '</th>'));
    t.push('</tr></thead><tbody>');
    REGIONS.forEach((a) => {
      t.push('<tr><th scope="row">' + esc(regionName(a)) + '</th>');
      REGIONS.forEach((b) => t.push('<td class="num" data-a="' + a + '" data-b="' + b + '">' + fmt(v(a, b)) + '</td>'));
      t.push('</tr>');
    });
    t.push('</tbody></table>');
    $('matrix-table').innerHTML = t.join('');
  }

  function matrixSummary(regions, metric) {
    const pairs = regions.pairs.filter((p) => p[metric] > 0).slice().sort((x, y) => y[metric] - x[metric]);
    if (!pairs.length) return 'No ' + METRIC_NOUN[metric] + ' recorded.';
    const top = pairs.slice(0, 3).map((p) => regionName(p.regions[0]) + ' × ' + regionName(p.regions[1]) + ' ' + fmt(p[metric]));
    return 'Largest: ' + top.join('; ') + '.';
  }

  function renderKpis() {
    const r = state.regions;
    const c = state.countries;
    const byRegion = {};
    c.forEach((x) => { byRegion[x.programme_region] = (byRegion[x.programme_region] || 0) + 1; });
    const joined = c.filter((x) => x.participation && x.participation.status && x.participation.status !== 'withdrawn').length;
    const cards = [
      ['Countries', fmt(c.length), fmt(joined) + ' participating', 'kpi-countries'],
      ['Inter-regional events', fmt(r.interregional.events), 'meetings, activities and cases', 'kpi-events'],
      ['Inter-regional share', pct(r.interregional.share), 'of events with a country involved', 'kpi-share'],
      ['Corridors', fmt(r.corridors.length), 'country pairs across regions', 'kpi-corridors'],
      ['As of sequence', fmt(r.as_of_sequence), state.asOf ? asOfLabel(state.asOf) : REPORT ? 'the head when the report was written' : 'the head, live', 'kpi-asof'],
    ];
    $('kpis').innerHTML = cards.map(([label, value, note, id]) =>
      '<div class="kpi" id="' + id + '"><p class="kpi-label">' + esc(label) + '</p><p class="kpi-value">' + esc(value) + '</p><p class="kpi-note">' + esc(note) + '</p></div>').join('');
  }

  function renderCorridors() {
    const corridors = state.regions.corridors;
    const rows = corridors.slice(0, state.top);
    if (!rows.length) { $('corridors').innerHTML = '<p class="empty">No event involves countries of two regions yet.</p>'; return; }
    const rowH = 26;
    const left = 318;
    const w = 680;
    const right = 44;
    const h = rows.length * rowH + 8;
    const max = Math.max(1, rows[0].events);
    const scale = (w - left - right) / max;
    const out = ['<svg viewBox="0 0 ' + w + ' ' + h + '" role="group" aria-labelledby="co-t co-d" class="corridors-chart">'];
    out.push('<title id="co-t">Top ' + rows.length + ' corridors by shared events</title>');
    out.push('<desc id="co-d">' + esc(rows.slice(0, 5).map((c, i) => (i + 1) + '. ' + pairName(c) + ': ' + c.events).join('; ')) + '</desc>');
    rows.forEach((c, i) => {
      const y = 4 + i * rowH;
      const [a, b] = c.countries;
      const ra = regionOf(a);
      const rb = regionOf(b);
      const bw = Math.max(2, c.events * scale);
      out.push('<g class="corridor" data-pair="' + a + '-' + b + '" data-events="' + c.events + '">');
      out.push('<title>' + esc(pairName(c) + ': ' + fmt(c.events) + ' shared events (' + regionName(ra) + ' – ' + regionName(rb) + ')') + '</title>');
      out.push('<text x="18" y="' + (y + 16) + '" text-anchor="end" class="lbl-muted">' + (i + 1) + '</text>');
      out.push('<a href="#country/' + a + '" aria-label="' + esc(countryName(a)) + '"><circle cx="32" cy="' + (y + 12) + '" r="4.5" fill="' + colour(ra) + '"></circle><text x="41" y="' + (y + 16) + '" class="lbl-strong bar-label">' + esc(truncate(shortName(a), 14)) + ' <tspan class="lbl-muted">' + a + '</tspan></text></a>');
      out.push('<a href="#country/' + b + '" aria-label="' + esc(countryName(b)) + '"><circle cx="176" cy="' + (y + 12) + '" r="4.5" fill="' + colour(rb) + '"></circle><text x="185" y="' + (y + 16) + '" class="lbl-strong bar-label">' + esc(truncate(shortName(b), 14)) + ' <tspan class="lbl-muted">' + b + '</tspan></text></a>');
      out.push('<rect x="' + left + '" y="' + (y + 5) + '" width="' + (w - left - right) + '" height="14" rx="3" fill="#f1f5f9"></rect>');
      out.push('<rect x="' + left + '" y="' + (y + 5) + '" width="' + bw.toFixed(1) + '" height="14" rx="3" fill="#334e7e"></rect>');
      out.push('<text x="' + (left + bw + 6).toFixed(1) + '" y="' + (y + 16) + '" class="bar-value corridor-value">' + fmt(c.events) + '</text>');
      out.push('</g>');
    });
    out.push('</svg>');
    const more = corridors.length > rows.length ? '<p class="muted chart-note">' + fmt(corridors.length - rows.length) + ' more corridors; ' + fmt(corridors.length) + ' in all.</p>' : '';
    $('corridors').innerHTML = out.join('') + more;
  }
  function truncate(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + '…' : s; }
  function pairName(c) { return countryName(c.countries[0]) + ' – ' + countryName(c.countries[1]); }
  function countryName(cc) { const c = state.byCode.get(cc); return c ? c.name : cc; }
  // "Netherlands (Kingdom of the)" → "Netherlands", for labels (titles keep the full name).
  function shortName(cc) { return countryName(cc).replace(/\s*\(.*\)$/, ''); }
  function regionOf(cc) { const c = state.byCode.get(cc); return c ? c.programme_region : 'other'; }

  function renderNetwork() {
    const countries = state.countries.slice().sort((x, y) =>
      (REGIONS.indexOf(x.programme_region) - REGIONS.indexOf(y.programme_region)) || (x.country < y.country ? -1 : 1));
    if (!countries.length) { $('network').innerHTML = '<p class="empty">No country involved yet.</p>'; $('legend').innerHTML = ''; return; }
    const index = new Map(countries.map((c, i) => [c.country, i]));
    const links = [];
    const strength = new Map();
    for (const c of countries) {
      for (const [other, n] of Object.entries(c.counterparts || {})) {
        const w = (n.meetings || 0) + (n.activities || 0) + (n.cases || 0);
        strength.set(c.country, (strength.get(c.country) || 0) + w);
        if (c.country < other && index.has(other) && w > 0) links.push([c.country, other, w]);
      }
    }
    links.sort((x, y) => y[2] - x[2] || (x[0] + x[1] < y[0] + y[1] ? -1 : 1));
    const shown = links.slice(0, NETWORK_LINKS);
    // positions: a circle, one arc per region, gaps between regions
    const groups = REGIONS.filter((r) => countries.some((c) => c.programme_region === r));
    const gap = Math.max(1.5, countries.length / 40);
    const slots = countries.length + gap * groups.length;
    const size = 600;
    const cx = size / 2;
    const cy = size / 2;
    const R = size / 2 - 70;
    const pos = new Map();
    let slot = gap / 2;
    let prev = null;
    countries.forEach((c) => {
      if (prev !== null && c.programme_region !== prev) slot += gap;
      prev = c.programme_region;
      const angle = (2 * Math.PI * slot) / slots - Math.PI / 2;
      pos.set(c.country, { angle, x: cx + R * Math.cos(angle), y: cy + R * Math.sin(angle) });
      slot += 1;
    });
    const maxW = shown.length ? shown[0][2] : 1;
    const maxS = Math.max(1, ...strength.values());
    const out = ['<svg viewBox="0 0 ' + size + ' ' + size + '" role="group" aria-labelledby="nw-t nw-d" class="net">'];
    out.push('<title id="nw-t">Cooperation network of ' + countries.length + ' countries</title>');
    const strongest = shown.slice(0, 3).map((l) => countryName(l[0]) + ' – ' + countryName(l[1]) + ' (' + l[2] + ')').join('; ');
    out.push('<desc id="nw-d">' + esc('Countries on a circle grouped by programme region; the ' + shown.length + ' strongest of ' + links.length + ' links are drawn, thicker for more shared events. Strongest: ' + strongest + '. The countries table gives every country.') + '</desc>');
    out.push('<g class="links">');
    for (const [a, b, w] of shown) {
      const p = pos.get(a);
      const q = pos.get(b);
      const mx = (p.x + q.x) / 2;
      const my = (p.y + q.y) / 2;
      const kx = cx + (mx - cx) * 0.1;
      const ky = cy + (my - cy) * 0.1;
      const same = regionOf(a) === regionOf(b);
      const stroke = same ? colour(regionOf(a)) : '#51607a';
      const rel = w / maxW;
      const width = 0.4 + 3.6 * rel * rel;
      out.push('<path class="link" data-a="' + a + '" data-b="' + b + '" d="M' + p.x.toFixed(1) + ' ' + p.y.toFixed(1) + 'Q' + kx.toFixed(1) + ' ' + ky.toFixed(1) + ' ' + q.x.toFixed(1) + ' ' + q.y.toFixed(1) + '" stroke="' + stroke + '" stroke-width="' + width.toFixed(2) + '" opacity="' + (0.08 + 0.5 * rel * rel).toFixed(2) + '"><title>' + esc(countryName(a) + ' – ' + countryName(b) + ': ' + fmt(w) + ' shared events') + '</title></path>');
    }
    out.push('</g><g class="nodes">');
    const font = countries.length > 120 ? 7 : countries.length > 60 ? 8.5 : 10;
    for (const c of countries) {
      const p = pos.get(c.country);
      const s = strength.get(c.country) || 0;
      const r = 3 + 7 * Math.sqrt(s / maxS);
      const deg = (p.angle * 180) / Math.PI;
      const flip = deg > 90 && deg < 270;
      const lx = cx + (R + r + 6) * Math.cos(p.angle);
      const ly = cy + (R + r + 6) * Math.sin(p.angle);
      const rot = flip ? deg + 180 : deg;
      out.push('<a href="#country/' + c.country + '" class="node" data-cc="' + c.country + '" aria-label="' + esc(c.name + ' (' + c.country + '), ' + regionName(c.programme_region) + ': ' + fmt(s) + ' shared events with counterparts') + '">');
      out.push('<circle cx="' + p.x.toFixed(1) + '" cy="' + p.y.toFixed(1) + '" r="' + r.toFixed(1) + '" fill="' + colour(c.programme_region) + '" stroke="#fff" stroke-width="1"></circle>');
      out.push('<text x="' + lx.toFixed(1) + '" y="' + ly.toFixed(1) + '" dy="0.35em" font-size="' + font + '" text-anchor="' + (flip ? 'end' : 'start') + '" transform="rotate(' + rot.toFixed(1) + ' ' + lx.toFixed(1) + ' ' + ly.toFixed(1) + ')">' + c.country + '</text>');
      out.push('<title>' + esc(c.name + ' · ' + regionName(c.programme_region) + ' · ' + fmt(s) + ' shared events') + '</title></a>');
    }
    out.push('</g></svg>');
    $('network').innerHTML = out.join('');
    $('network-caption').textContent = 'Countries by programme region; the ' + fmt(shown.length) + ' strongest of ' + fmt(links.length) + ' links, weighted by shared events. Select a country to open it.';
    $('legend').innerHTML = groups.map((r) => '<span><span class="swatch sw-' + r + '"></span>' + esc(regionName(r)) + '</span>').join('') +
      '<span class="muted">grey links cross regions</span>';
  }

  function networkFocus(svg, cc) {
    if (!svg) return;
    svg.classList.toggle('focus', !!cc);
    svg.querySelectorAll('.hot').forEach((e) => e.classList.remove('hot'));
    if (!cc) return;
    svg.querySelectorAll('.link[data-a="' + cc + '"], .link[data-b="' + cc + '"]').forEach((l) => {
      l.classList.add('hot');
      const other = l.dataset.a === cc ? l.dataset.b : l.dataset.a;
      const n = svg.querySelector('.node[data-cc="' + other + '"]');
      if (n) n.classList.add('hot');
    });
    const self = svg.querySelector('.node[data-cc="' + cc + '"]');
    if (self) self.classList.add('hot');
  }
  ['mouseover', 'focusin'].forEach((type) => $('network').addEventListener(type, (ev) => {
    const node = ev.target.closest && ev.target.closest('.node');
    networkFocus($('network').querySelector('svg'), node ? node.dataset.cc : null);
  }));
  ['mouseleave', 'focusout'].forEach((type) => $('network').addEventListener(type, () => networkFocus($('network').querySelector('svg'), null)));

  function renderShare() {
    const series = state.series;
    const target = $('share');
    $('share-caption').textContent = state.asOf && state.asOf.kind === 'seq'
      ? 'Share of meetings, activities and cases spanning two or more regions by the end of each year, as the ledger knows them at its head (a series by date has no sequence).'
      : 'Share of meetings, activities and cases spanning two or more regions, counting what happened by the end of each year' + (state.asOf ? ', up to ' + state.asOf.value : '') + '.';
    if (!series.length) {
      target.innerHTML = '<p class="empty">' + (state.seriesLoading ? 'Loading…' : 'No dated events in range.') + '</p>';
      $('share-table').innerHTML = '';
      return;
    }
    const w = 600;
    const h = 340;
    const m = { l: 46, r: 52, t: 16, b: 34 };
    const iw = w - m.l - m.r;
    const ih = h - m.t - m.b;
    const band = iw / series.length;
    const maxE = niceMax(Math.max(1, ...series.map((s) => s.events)));
    const y = (share) => m.t + ih * (1 - share);
    const yE = (n) => m.t + ih * (1 - n / maxE);
    const out = ['<svg viewBox="0 0 ' + w + ' ' + h + '" role="img" aria-labelledby="sh-t sh-d" class="share-chart">'];
    out.push('<title id="sh-t">Inter-regional share by year</title>');
    const last = series[series.length - 1];
    out.push('<desc id="sh-d">' + esc(series.map((s) => s.label + ': ' + pct(s.share)).join('; ') + '. Latest: ' + pct(last.share) + ' of events, ' + last.events + ' inter-regional events.') + '</desc>');
    for (let i = 0; i <= 4; i++) {
      const v = i / 4;
      out.push('<line class="grid" x1="' + m.l + '" x2="' + (w - m.r) + '" y1="' + y(v) + '" y2="' + y(v) + '"></line>');
      out.push('<text x="' + (m.l - 8) + '" y="' + (y(v) + 4) + '" text-anchor="end" class="lbl-muted">' + (v * 100) + '%</text>');
      out.push('<text x="' + (w - m.r + 8) + '" y="' + (y(v) + 4) + '" class="lbl-muted">' + fmt(Math.round(maxE * v)) + '</text>');
    }
    const every = Math.ceil(series.length / 12);
    series.forEach((s, i) => {
      const x = m.l + band * i;
      const bh = ih - (yE(s.events) - m.t);
      out.push('<rect x="' + (x + band * 0.22).toFixed(1) + '" y="' + yE(s.events).toFixed(1) + '" width="' + (band * 0.56).toFixed(1) + '" height="' + Math.max(0, bh).toFixed(1) + '" rx="2" fill="#dbe4f0"><title>' + esc(s.label + ': ' + fmt(s.events) + ' inter-regional events') + '</title></rect>');
      if (i % every === 0 || i === series.length - 1) out.push('<text x="' + (x + band / 2).toFixed(1) + '" y="' + (h - m.b + 18) + '" text-anchor="middle" class="lbl-muted">' + esc(s.short) + '</text>');
    });
    const pts = series.map((s, i) => [m.l + band * i + band / 2, y(s.share)]);
    out.push('<path d="M' + pts.map((p) => p[0].toFixed(1) + ' ' + p[1].toFixed(1)).join('L') + '" fill="none" stroke="#1d4ed8" stroke-width="2.2" stroke-linejoin="round"></path>');
    series.forEach((s, i) => {
      out.push('<circle cx="' + pts[i][0].toFixed(1) + '" cy="' + pts[i][1].toFixed(1) + '" r="3.6" fill="#fff" stroke="#1d4ed8" stroke-width="2"><title>' + esc(s.label + ': ' + pct(s.share) + ' inter-regional (' + fmt(s.events) + ' events)') + '</title></circle>');
    });
    const lp = pts[pts.length - 1];
    out.push('<text x="' + (lp[0] - 8).toFixed(1) + '" y="' + (last.share > 0.85 ? lp[1] + 18 : lp[1] - 10).toFixed(1) + '" text-anchor="end" class="lbl-strong share-last" stroke="#ffffff" stroke-width="4" paint-order="stroke">' + pct(last.share) + '</text>');
    out.push('<line class="axis" x1="' + m.l + '" x2="' + (w - m.r) + '" y1="' + y(0) + '" y2="' + y(0) + '"></line>');
    out.push('</svg>');
    const first = series[0];
    const lead = '<p class="share-lead"><strong>' + pct(last.share) + '</strong> of events with a country involved were inter-regional by ' + esc(last.date) +
      ' (' + fmt(last.events) + ' events); ' + pct(first.share) + ' by ' + esc(first.date) + '.</p>';
    target.innerHTML = lead + out.join('') + '<div class="legend"><span><span class="swatch sw-line"></span>share (left axis)</span><span><span class="swatch sw-bar"></span>inter-regional events (right axis)</span></div>';
    const t = ['<table><thead><tr><th scope="col">As of</th><th scope="col" class="num">Inter-regional events</th><th scope="col" class="num">Share</th></tr></thead><tbody>'];
    series.forEach((s) => t.push('<tr><td>' + esc(s.date) + '</td><td class="num">' + fmt(s.events) + '</td><td class="num">' + pct(s.share) + '</td></tr>'));
    t.push('</tbody></table>');
    $('share-table').innerHTML = t.join('');
  }

  const COLUMNS = [
    ['country', 'Country', (c) => c.name],
    ['region', 'Region', (c) => REGIONS.indexOf(c.programme_region)],
    ['status', 'Status', (c) => (c.participation && c.participation.status) || ''],
    ['joined', 'Joined', (c) => (c.participation && c.participation.joined_on) || ''],
    ['meetings', 'Meetings', (c) => c.meetings, true],
    ['activities', 'Activities', (c) => c.activities.total, true],
    ['participants', 'Participants', (c) => c.participants.total, true],
    ['women', 'Women', (c) => c.participants.women, true],
    ['open', 'Cases open', (c) => c.cases.open, true],
    ['closed', 'Cases closed', (c) => c.cases.closed, true],
    ['counterparts', 'Counterparts', (c) => Object.keys(c.counterparts || {}).length, true],
  ];

  function renderCountries() {
    const col = COLUMNS.find((c) => c[0] === state.sort.key) || COLUMNS[5];
    const f = state.filter.trim().toLowerCase();
    let rows = state.countries;
    if (f) rows = rows.filter((c) => (c.name + ' ' + c.country + ' ' + regionName(c.programme_region)).toLowerCase().includes(f));
    rows = rows.slice().sort((a, b) => {
      const x = col[2](a);
      const y = col[2](b);
      const d = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
      return d * state.sort.dir || (a.country < b.country ? -1 : 1);
    });
    const out = ['<table class="countries-table"><caption class="visually-hidden">Countries, ' + esc(asOfLabel(state.asOf, state.regions ? state.regions.as_of_sequence : 0)) + '</caption><thead><tr>'];
    for (const [key, label, , num] of COLUMNS) {
      const sort = key === state.sort.key ? (state.sort.dir > 0 ? 'ascending' : 'descending') : 'none';
      out.push('<th scope="col" class="' + (num ? 'num' : '') + '" aria-sort="' + sort + '"><button type="button" class="sort" data-key="' + key + '">' + esc(label) + '</button></th>');
    }
    out.push('</tr></thead><tbody>');
    for (const c of rows) {
      const status = (c.participation && c.participation.status) || '';
      out.push('<tr data-cc="' + c.country + '">' +
        '<td><a href="#country/' + c.country + '">' + esc(c.name) + '</a> <span class="muted mono">' + c.country + '</span></td>' +
        '<td><span class="swatch sw-' + esc(c.programme_region) + '"></span>' + esc(regionName(c.programme_region)) + '</td>' +
        '<td>' + (status ? esc(human(status)) : '<span class="muted">never joined</span>') + '</td>' +
        '<td>' + esc((c.participation && c.participation.joined_on) || '–') + '</td>' +
        '<td class="num">' + fmt(c.meetings) + '</td>' +
        '<td class="num">' + fmt(c.activities.total) + '</td>' +
        '<td class="num">' + fmt(c.participants.total) + '</td>' +
        '<td class="num">' + fmt(c.participants.women) + '</td>' +
        '<td class="num">' + fmt(c.cases.open) + '</td>' +
        '<td class="num">' + fmt(c.cases.closed) + '</td>' +
        '<td class="num">' + fmt(Object.keys(c.counterparts || {}).length) + '</td></tr>');
    }
    if (!rows.length) out.push('<tr><td colspan="' + COLUMNS.length + '" class="muted">' + (f ? 'No country matches.' : 'No country has joined or been involved yet.') + '</td></tr>');
    out.push('</tbody></table>');
    const host = $('countries');
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
    host.innerHTML = out.join('');
    if (focused) { const b = host.querySelector('button.sort[data-key="' + focused + '"]'); if (b) b.focus(); }
  }
  $('countries').addEventListener('click', (ev) => {
    const b = ev.target.closest('button.sort');
    if (!b) return;
    const key = b.dataset.key;
    const numeric = !!(COLUMNS.find((c) => c[0] === key) || [])[3];
    state.sort = state.sort.key === key ? { key, dir: -state.sort.dir } : { key, dir: numeric ? -1 : 1 };
    renderCountries();
  });
  $('country-filter').addEventListener('input', (ev) => { state.filter = ev.target.value; renderCountries(); });

  function summary(e) {
    const r = e.replacement || {};
    switch (e.type) {
      case 'PartnerRegistered': return e.name;
      case 'CountryJoined': return e.country + ' joined as ' + human(e.participation) + ' (' + e.joined_on + ')';
      case 'ParticipationChanged': return e.country + ' → ' + human(e.participation) + ' (' + e.changed_on + ')';
      case 'MeetingHeld': return e.title + ' · ' + (e.countries || []).join(', ');
      case 'ActivityScheduled':
      case 'ActivityDelivered': return e.title + ' · ' + (e.beneficiaries || []).concat(e.other_countries || []).join(', ');
      case 'ActivityCancelled': return 'Cancelled: ' + e.reason;
      case 'CaseOpened': return e.codename + ' · ' + (e.countries || []).join(', ');
      case 'CaseCountryAdded': return 'Added ' + e.country;
      case 'CaseMilestoneRecorded': return human(e.milestone && e.milestone.kind) + ' (' + e.on + ')';
      case 'CaseClosed': return 'Closed: ' + human(e.outcome) + ' (' + e.closed_on + ')';
      case 'EventCorrected': return 'Correction of ' + String(e.target).slice(0, 8) + '…: ' + (r.title || e.reason || '');
      case 'EventRetracted': return 'Retraction of ' + String(e.target).slice(0, 8) + '…: ' + human(e.reason);
      default: return '';
    }
  }

  function streamCell(stream) {
    const m = /^country\/([A-Z]{2})$/.exec(stream || '');
    if (m) return '<a href="#country/' + m[1] + '" class="mono">' + esc(stream) + '</a>';
    const s = String(stream || '');
    return '<span class="mono" title="' + esc(s) + '">' + esc(s.length > 24 ? s.slice(0, 22) + '…' : s) + '</span>';
  }

  function eventsTable(events, caption) {
    if (!events.length) return '<p class="empty">No events.</p>';
    const out = ['<table class="events-table"><caption class="visually-hidden">' + esc(caption) + '</caption><thead><tr><th scope="col" class="num">Seq</th><th scope="col">Recorded (UTC)</th><th scope="col">Type</th><th scope="col">Stream</th><th scope="col">What</th><th scope="col">By</th></tr></thead><tbody>'];
    for (const e of events) {
      const fix = e.type === 'EventCorrected' || e.type === 'EventRetracted';
      out.push('<tr data-seq="' + e.seq + '"><td class="num mono">' + fmt(e.seq) + '</td><td>' + esc(when(e.recorded_at).replace(' UTC', '')) + '</td>' +
        '<td><span class="type' + (fix ? ' type-fix' : '') + '">' + esc(e.type) + '</span></td><td>' + streamCell(e.stream) + '</td>' +
        '<td class="wrap-cell">' + esc(summary(e)) + '</td><td class="muted">' + esc(e.recorded_by) + '</td></tr>');
    }
    out.push('</tbody></table>');
    return out.join('');
  }

  function renderRecent() {
    $('recent').innerHTML = eventsTable(state.recent, 'Latest recorded events');
    $('recent-caption').textContent = state.asOf && state.asOf.kind === 'seq'
      ? 'Newest first, up to sequence ' + fmt(state.asOf.value) + '.'
      : REPORT ? 'Newest first, when the report was written.' : 'Newest first; new appends arrive live.';
  }

  function renderOverview() {
    if (!state.regions) return;
    renderKpis();
    renderMatrix();
    renderCorridors();
    renderNetwork();
    renderShare();
    renderCountries();
    renderRecent();
  }

  // ---------------------------------------------------------------- country page
  function participationFacts(stream, asOf) {
    const facts = new Map();
    const order = [];
    for (const e of stream) {
      if (asOf && asOf.kind === 'seq' && e.seq > asOf.value) continue;
      if (e.type === 'CountryJoined' || e.type === 'ParticipationChanged') {
        const f = { id: e.event_id, seq: e.seq, type: e.type, date: e.joined_on || e.changed_on, status: e.participation, reason: e.reason, retracted: false, corrected: false };
        facts.set(e.event_id, f);
        order.push(f);
      } else if (e.type === 'EventCorrected' && facts.has(e.target)) {
        const f = facts.get(e.target);
        const r = e.replacement || {};
        f.date = r.joined_on || r.changed_on || f.date;
        f.status = r.participation || f.status;
        f.corrected = true;
      } else if (e.type === 'EventRetracted' && facts.has(e.target)) {
        facts.get(e.target).retracted = true;
      }
    }
    let effective = order.filter((f) => !f.retracted);
    if (asOf && asOf.kind === 'date') effective = effective.filter((f) => f.date <= asOf.value);
    effective.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.seq - b.seq));
    return { all: order, effective };
  }

  const dayNumber = (d) => Date.UTC(+d.slice(0, 4), +d.slice(5, 7) - 1, +d.slice(8, 10)) / 86400000;

  function timelineSvg(effective, end, name) {
    if (!effective.length) return '<p class="empty">' + esc(name) + ' has no effective participation events: it never joined (it appears through the events it is involved in).</p>';
    const start = effective[0].date;
    if (end < effective[effective.length - 1].date) end = effective[effective.length - 1].date;
    const w = 1000;
    const h = 112;
    const l = 16;
    const r = 16;
    const d0 = dayNumber(start) - 30;
    const d1 = Math.max(dayNumber(end), d0 + 60) + 30;
    const x = (d) => l + ((dayNumber(d) - d0) / (d1 - d0)) * (w - l - r);
    const out = ['<svg viewBox="0 0 ' + w + ' ' + h + '" role="img" aria-labelledby="tl-t tl-d" class="timeline">'];
    out.push('<title id="tl-t">Participation timeline of ' + esc(name) + '</title>');
    out.push('<desc id="tl-d">' + esc(effective.map((f) => human(f.status) + ' from ' + f.date).join('; ') + ', to ' + end + '.') + '</desc>');
    const y0 = 48;
    const y1 = Number(start.slice(0, 4));
    const y2 = Number(end.slice(0, 4));
    const step = Math.max(1, Math.ceil((y2 - y1 + 1) / 14));
    for (let y = y1 + 1; y <= y2; y += step) {
      const xx = x(y + '-01-01');
      out.push('<line class="grid" x1="' + xx.toFixed(1) + '" x2="' + xx.toFixed(1) + '" y1="' + (y0 - 18) + '" y2="' + (y0 + 34) + '"></line>');
      out.push('<text x="' + xx.toFixed(1) + '" y="' + (h - 4) + '" text-anchor="middle" class="lbl-muted">' + y + '</text>');
    }
    effective.forEach((f, i) => {
      const to = i + 1 < effective.length ? effective[i + 1].date : end;
      const a = x(f.date);
      const b = Math.max(a + 2, x(to));
      const fill = STATUS_COLOUR[f.status] || '#64748b';
      out.push('<rect x="' + a.toFixed(1) + '" y="' + y0 + '" width="' + (b - a).toFixed(1) + '" height="16" fill="' + fill + '" opacity="' + (f.status === 'withdrawn' ? 0.35 : 0.85) + '"><title>' + esc(cap(f.status) + ': ' + f.date + ' to ' + to) + '</title></rect>');
    });
    effective.forEach((f, i) => {
      const a = x(f.date);
      const up = i % 2 === 0;
      out.push('<circle cx="' + a.toFixed(1) + '" cy="' + (y0 + 8) + '" r="5" fill="#fff" stroke="' + (STATUS_COLOUR[f.status] || '#64748b') + '" stroke-width="2.5"></circle>');
      const ty = up ? y0 - 10 : y0 + 34;
      out.push('<text x="' + a.toFixed(1) + '" y="' + ty + '" text-anchor="' + (a > w - 180 ? 'end' : 'start') + '" class="lbl-strong">' + esc(cap(f.status)) + ' <tspan class="lbl-muted">' + esc(f.date) + (f.corrected ? ' (corrected)' : '') + '</tspan></text>');
    });
    out.push('</svg>');
    return out.join('');
  }

  function hbars(items, opts) {
    // items: [{label, value, title, href?, colour?}]
    const rowH = opts.rowH || 24;
    const left = opts.left || 190;
    const w = opts.width || 560;
    const right = 56;
    const h = items.length * rowH + 6;
    const max = Math.max(1, ...items.map((i) => i.value));
    const scale = (w - left - right) / max;
    const out = ['<svg viewBox="0 0 ' + w + ' ' + h + '" role="' + (items.some((i) => i.href) ? 'group' : 'img') + '" aria-labelledby="' + opts.id + '-t ' + opts.id + '-d" class="' + (opts.cls || '') + '">'];
    out.push('<title id="' + opts.id + '-t">' + esc(opts.title) + '</title><desc id="' + opts.id + '-d">' + esc(items.map((i) => i.label + ': ' + i.value).join('; ')) + '</desc>');
    items.forEach((it, k) => {
      const y = 3 + k * rowH;
      const bw = it.value > 0 ? Math.max(2, it.value * scale) : 0;
      out.push('<g class="hbar" data-key="' + esc(it.key || it.label) + '" data-value="' + it.value + '"><title>' + esc(it.title || it.label + ': ' + fmt(it.value)) + '</title>');
      const label = '<text x="' + (left - 10) + '" y="' + (y + rowH / 2 + 4) + '" text-anchor="end" class="' + (it.value > 0 ? 'lbl-strong' : 'lbl-muted') + ' bar-label">' + esc(it.label) + '</text>';
      out.push(it.href ? '<a href="' + it.href + '" aria-label="' + esc(it.title || it.label) + '">' + label + '</a>' : label);
      out.push('<rect x="' + left + '" y="' + (y + 4) + '" width="' + (w - left - right) + '" height="' + (rowH - 8) + '" rx="3" fill="#f1f5f9"></rect>');
      if (it.segments) {
        let x = left;
        for (const s of it.segments) {
          const sw = s.value * scale;
          if (sw > 0) out.push('<rect x="' + x.toFixed(1) + '" y="' + (y + 4) + '" width="' + sw.toFixed(1) + '" height="' + (rowH - 8) + '" fill="' + s.colour + '"></rect>');
          x += sw;
        }
      } else if (bw > 0) {
        out.push('<rect x="' + left + '" y="' + (y + 4) + '" width="' + bw.toFixed(1) + '" height="' + (rowH - 8) + '" rx="3" fill="' + (it.colour || '#334e7e') + '"></rect>');
      }
      out.push('<text x="' + (left + bw + 6).toFixed(1) + '" y="' + (y + rowH / 2 + 4) + '" class="bar-value">' + fmt(it.value) + '</text></g>');
    });
    out.push('</svg>');
    return out.join('');
  }

  function splitBar(parts, id, title) {
    // one stacked bar: parts [{label, value, colour}]
    const total = sum(parts.map((p) => p.value));
    const w = 560;
    const h = 58;
    const out = ['<svg viewBox="0 0 ' + w + ' ' + h + '" role="img" aria-labelledby="' + id + '-t" class="split">'];
    out.push('<title id="' + id + '-t">' + esc(title + ': ' + parts.map((p) => p.label + ' ' + fmt(p.value)).join(', ')) + '</title>');
    out.push('<rect x="0" y="6" width="' + w + '" height="22" rx="4" fill="#f1f5f9"></rect>');
    let x = 0;
    parts.forEach((p) => {
      const pw = total > 0 ? (p.value / total) * w : 0;
      if (pw > 0) out.push('<rect x="' + x.toFixed(1) + '" y="6" width="' + pw.toFixed(1) + '" height="22" fill="' + p.colour + '"><title>' + esc(p.label + ': ' + fmt(p.value)) + '</title></rect>');
      x += pw;
    });
    let lx = 0;
    parts.forEach((p) => {
      out.push('<rect x="' + lx + '" y="40" width="10" height="10" rx="2" fill="' + p.colour + '"></rect><text x="' + (lx + 15) + '" y="49">' + esc(p.label) + ' <tspan class="bar-value">' + fmt(p.value) + '</tspan>' + (total > 0 ? ' <tspan class="lbl-muted">(' + ((p.value / total) * 100).toFixed(0) + '%)</tspan>' : '') + '</text>');
      lx += 200;
    });
    out.push('</svg>');
    return out.join('');
  }

  async function renderCountryPage(cc, gen) {
    const host = $('page-country');
    const q = asOfQuery(state.asOf);
    let view = null;
    let missing = null;
    let stream = [];
    try {
      [view, stream] = await Promise.all([
        api('/v1/countries/' + cc + q).catch((e) => { if (e.status === 404 || e.status === 400) { missing = e; return null; } throw e; }),
        api('/v1/streams/country/' + cc).catch((e) => { if (e.status === 404 || e.status === 400) return []; throw e; }),
      ]);
    } catch (e) {
      if (gen !== generation) return;
      throw e;
    }
    if (gen !== generation) return;
    const back = '<p class="crumbs"><a href="#overview">← All countries</a></p>';
    if (!view) {
      host.innerHTML = back + '<div class="card"><h1>' + esc(cc) + '</h1><p class="empty">' + esc((missing && missing.message) || 'Not in the views.') + '</p></div>';
      document.title = cc + ' · coopledger';
      return;
    }
    document.title = view.name + ' · coopledger';
    const p = view.participation || {};
    const parts = participationFacts(stream, state.asOf);
    const end = state.asOf && state.asOf.kind === 'date' ? state.asOf.value
      : (state.head && state.head.recorded_at ? state.head.recorded_at.slice(0, 10) : new Date().toISOString().slice(0, 10));
    const women = view.participants.women;
    const total = view.participants.total;
    const counterparts = Object.entries(view.counterparts || {}).map(([code, n]) => ({ code, n, total: n.meetings + n.activities + n.cases }))
      .sort((a, b) => b.total - a.total || (a.code < b.code ? -1 : 1));
    const m49 = view.m49 || {};
    const out = [back];
    out.push('<div class="country-head" id="country-head" data-cc="' + esc(view.country) + '"><h1>' + esc(view.name) + '</h1><span class="code mono">' + esc(view.country) + '</span>' +
      '<span class="chip"><span class="swatch sw-' + esc(view.programme_region) + '"></span>' + esc(regionName(view.programme_region)) + '</span>' +
      '<span class="muted">M49 ' + esc([m49.region, m49.sub_region, m49.intermediate_region].map((x) => x || '–').join(' / ')) + ' · ' + esc(asOfLabel(state.asOf, view.as_of_sequence)) + '</span></div>');
    const kpi = (label, value, note, id) => '<div class="kpi" id="' + id + '"><p class="kpi-label">' + esc(label) + '</p><p class="kpi-value">' + esc(value) + '</p><p class="kpi-note">' + esc(note) + '</p></div>';
    out.push('<section class="kpis country-kpis" aria-label="Key figures">' +
      kpi('Participation', p.status ? cap(p.status) : 'Never joined', p.joined_on ? 'joined ' + p.joined_on : 'involved through events', 'c-status') +
      kpi('Meetings', fmt(view.meetings), 'effective meetings involved in', 'c-meetings') +
      kpi('Activities', fmt(view.activities.total), 'delivered, involved in', 'c-activities') +
      kpi('Participants', fmt(total), total > 0 ? fmt(women) + ' women (' + ((women / total) * 100).toFixed(0) + '%)' : 'as a beneficiary', 'c-participants') +
      kpi('Cases', fmt(view.cases.open + view.cases.closed), fmt(view.cases.open) + ' open · ' + fmt(view.cases.closed) + ' closed', 'c-cases') +
      '</section>');
    out.push('<section class="card" aria-labelledby="tl-h"><header class="card-head"><div><h2 id="tl-h">Participation timeline</h2><p class="muted">From the country\'s own stream (<code>/v1/streams/country/' + esc(view.country) + '</code>): joins and status changes, corrections applied, retractions removed.</p></div>' +
      '<div class="legend">' + Object.keys(STATUS_COLOUR).map((s) => '<span><svg width="10" height="10" aria-hidden="true" focusable="false"><rect width="10" height="10" rx="2" fill="' + STATUS_COLOUR[s] + '"></rect></svg> ' + esc(human(s)) + '</span>').join('') + '</div></header>' +
      '<div class="chart" id="c-timeline">' + timelineSvg(parts.effective, end, view.name) + '</div></section>');
    const kinds = KINDS.map((k) => ({ key: k, label: cap(k), value: view.activities.by_kind[k] || 0 }));
    out.push('<div class="grid2">');
    out.push('<section class="card" aria-labelledby="kinds-h"><header class="card-head"><div><h2 id="kinds-h">Activities by kind</h2><p class="muted">Delivered activities the country is involved in.</p></div></header><div class="chart" id="c-kinds">' +
      hbars(kinds, { id: 'kinds', title: 'Activities of ' + view.name + ' by kind', left: 190, cls: 'kinds-chart' }) + '</div></section>');
    out.push('<section class="card" aria-labelledby="pc-h"><header class="card-head"><div><h2 id="pc-h">Participants and cases</h2><p class="muted">Participants of delivered activities where it is a beneficiary; cases it is involved in.</p></div></header>' +
      '<h3>Participants</h3><div class="chart" id="c-participants">' + splitBar([{ label: 'Women', value: women, colour: '#7c3aed' }, { label: 'Others or not given', value: Math.max(0, total - women), colour: '#c4b5fd' }], 'pp', 'Participants of ' + view.name) + '</div>' +
      '<h3>Cases</h3><div class="chart" id="c-cases">' + splitBar([{ label: 'Open', value: view.cases.open, colour: '#b45309' }, { label: 'Closed', value: view.cases.closed, colour: '#94a3b8' }], 'cs', 'Cases of ' + view.name) + '</div>' +
      '<h3>Meetings</h3><p class="kpi-value" id="c-meetings-n">' + fmt(view.meetings) + '</p></section>');
    out.push('</div>');
    const topCp = counterparts.slice(0, 15).map((c) => ({
      key: c.code,
      label: truncate(shortName(c.code), 22) + ' ' + c.code,
      value: c.total,
      href: '#country/' + c.code,
      title: countryName(c.code) + ': ' + c.n.meetings + ' meetings, ' + c.n.activities + ' activities, ' + c.n.cases + ' cases',
      segments: [{ value: c.n.meetings, colour: '#0f766e' }, { value: c.n.activities, colour: '#334e7e' }, { value: c.n.cases, colour: '#b45309' }],
    }));
    out.push('<div class="grid2">');
    out.push('<section class="card" aria-labelledby="cp-h"><header class="card-head"><div><h2 id="cp-h">Counterparts</h2><p class="muted">' + fmt(counterparts.length) + ' countries share events with ' + esc(view.name) + '; the top ' + topCp.length + ' by shared events.</p></div>' +
      '<div class="legend"><span><span class="swatch sw-m"></span>meetings</span><span><span class="swatch sw-a"></span>activities</span><span><span class="swatch sw-c"></span>cases</span></div></header>' +
      '<div class="chart" id="c-counterparts">' + (topCp.length ? hbars(topCp, { id: 'cps', title: 'Counterparts of ' + view.name, left: 200, cls: 'cp-chart' }) : '<p class="empty">No counterparts.</p>') + '</div></section>');
    const rows = counterparts.map((c) => '<tr><td><span class="swatch sw-' + esc(regionOf(c.code)) + '"></span><a href="#country/' + c.code + '">' + esc(countryName(c.code)) + '</a> <span class="muted mono">' + c.code + '</span></td><td class="num">' + fmt(c.n.meetings) + '</td><td class="num">' + fmt(c.n.activities) + '</td><td class="num">' + fmt(c.n.cases) + '</td><td class="num"><strong>' + fmt(c.total) + '</strong></td></tr>');
    out.push('<section class="card" aria-labelledby="cpt-h"><header class="card-head"><div><h2 id="cpt-h">Every counterpart</h2><p class="muted">Effective meetings, activities and cases both countries are involved in.</p></div></header>' +
      '<div class="table-scroll"><table id="c-counterparts-table"><thead><tr><th scope="col">Country</th><th scope="col" class="num">Meetings</th><th scope="col" class="num">Activities</th><th scope="col" class="num">Cases</th><th scope="col" class="num">Total</th></tr></thead><tbody>' +
      (rows.join('') || '<tr><td colspan="5" class="muted">None.</td></tr>') + '</tbody></table></div></section>');
    out.push('</div>');
    const history = stream.filter((e) => !(state.asOf && state.asOf.kind === 'seq' && e.seq > state.asOf.value));
    out.push('<section class="card" aria-labelledby="hist-h"><header class="card-head"><div><h2 id="hist-h">Recorded history of <span class="mono">country/' + esc(view.country) + '</span></h2><p class="muted">Every record of the stream, as recorded; nothing is ever rewritten.</p></div></header>' +
      '<div class="table-scroll">' + eventsTable(history, 'Records of country/' + view.country) + '</div></section>');
    host.innerHTML = out.join('');
    if (window.coopledgerForms) window.coopledgerForms.entityActions('country/' + view.country, $('country-head')); // form.js
  }

  // ---------------------------------------------------------------- loading
  // Each point is a fold of the whole log by date, so while live the series is refreshed at most
  // every SERIES_EVERY ms (the other views follow every append).
  const SERIES_EVERY = 20000;
  let seriesKey = null;
  let seriesAt = 0;
  let seriesTimer = null;
  let seriesInFlight = null;
  async function loadSeries() {
    const dates = seriesDates(state.first, state.head, state.asOf);
    const shape = dates.join(',');
    const key = shape + '@' + (state.head ? state.head.seq : 0);
    if (key === seriesKey) return;
    const wait = SERIES_EVERY - (Date.now() - seriesAt);
    const same = (seriesKey && seriesKey.startsWith(shape + '@')) || seriesInFlight === shape;
    if (same && wait > 0) {
      // only newer appends: refresh later
      clearTimeout(seriesTimer);
      seriesTimer = setTimeout(() => loadSeries().catch(showError), wait);
      return;
    }
    clearTimeout(seriesTimer);
    seriesAt = Date.now();
    seriesInFlight = shape;
    state.seriesLoading = true;
    if (!state.series.length) renderShare();
    const out = new Array(dates.length);
    let next = 0;
    const worker = async () => {
      while (next < dates.length) {
        const i = next++;
        const r = await api('/v1/regions?on=' + dates[i]);
        const d = dates[i];
        out[i] = { date: d, label: d.endsWith('-12-31') ? 'end of ' + d.slice(0, 4) : d, short: d.endsWith('-12-31') ? d.slice(0, 4) : d.slice(0, 7), share: r.interregional.share, events: r.interregional.events };
      }
    };
    try {
      await Promise.all([worker(), worker(), worker(), worker()]);
    } finally {
      if (seriesInFlight === shape) seriesInFlight = null;
    }
    // A series for other dates is dropped; one a few appends old is kept.
    if (seriesDates(state.first, state.head, state.asOf).join(',') !== shape) return;
    seriesKey = key;
    state.series = out;
    state.seriesLoading = false;
    renderShare();
    document.body.dataset.series = 'ready';
  }

  async function loadVerify() {
    try { state.verify = await api('/v1/verify'); } catch (e) { state.verify = e.body && e.body.ok === false ? e.body : { error: e.message }; }
    renderVerify();
  }
  async function loadCheckpoint() {
    try { state.checkpoint = { text: await api('/v1/checkpoint') }; } catch (e) { state.checkpoint = e.status === 404 ? null : { error: e.message }; }
    renderCheckpoint();
  }

  function route() {
    const m = /^#country\/([A-Za-z]{2})$/.exec(location.hash);
    return m ? { page: 'country', cc: m[1].toUpperCase() } : { page: 'overview' };
  }

  function showRoute() {
    const r = route();
    $('page-overview').hidden = r.page !== 'overview';
    $('page-country').hidden = r.page !== 'country';
    if (r.page === 'overview') document.title = 'coopledger · cooperation dashboard';
    return r;
  }

  // Everything for the current point of history; `full` also verifies and reads the checkpoint.
  async function refresh(full) {
    const gen = ++generation;
    document.body.dataset.state = 'loading';
    const asOf = state.asOf;
    const q = asOfQuery(asOf);
    try {
      const side = full ? Promise.all([loadVerify(), loadCheckpoint()]) : Promise.resolve();
      const [head, regions, countries, recent] = await Promise.all([
        api('/v1/head'), api('/v1/regions' + q), apiAll('/v1/countries' + q), api(recentPath(asOf)),
      ]);
      if (state.first === undefined || (state.first === null && head.seq > 0)) {
        const first = await api('/v1/events?limit=1');
        state.first = first.length ? first[0] : null;
      }
      if (gen !== generation) return;
      if (!state.head || head.seq >= state.head.seq) state.head = head;
      state.regions = regions;
      state.countries = countries;
      state.byCode = new Map(countries.map((c) => [c.country, c]));
      state.recent = recent;
      showError(null);
      renderHead();
      const r = showRoute();
      if (r.page === 'country') await renderCountryPage(r.cc, gen);
      renderOverview();
      if (gen !== generation) return;
      $('main').dataset.asOf = asOfKey(asOf);
      $('main').dataset.viewSeq = String(regions.as_of_sequence);
      document.body.dataset.state = 'ready';
      loadSeries().catch(showError);
      await side;
      if (!feed.wanted) startFeed();
    } catch (e) {
      if (gen !== generation) return;
      document.body.dataset.state = 'error';
      showError(e);
    }
  }

  // ---------------------------------------------------------------- live feed
  const feed = { wanted: false, source: null, next: 1 };
  function startFeed() {
    feed.wanted = true;
    if (REPORT) {
      setLive('report', 'Report · ' + (REPORT.generated_at ? 'written ' + when(REPORT.generated_at) : 'static'));
      return;
    }
    if (!window.EventSource) { setLive('down', 'No live updates in this browser'); return; }
    connectFeed((state.head ? state.head.seq : 0) + 1);
  }
  function connectFeed(from) {
    if (feed.source) feed.source.close();
    feed.next = from;
    let url = '/v1/feed?from=' + from;
    if (token) url += '&access_token=' + encodeURIComponent(token);
    const es = new EventSource(url);
    feed.source = es;
    es.addEventListener('open', () => liveStatus());
    es.addEventListener('record', (ev) => {
      let rec;
      try { rec = JSON.parse(ev.data); } catch (_) { return; }
      onRecord(rec);
    });
    es.addEventListener('dropped', (ev) => {
      // the server dropped this slow feed: resume after the last record it sent
      let last = feed.next - 1;
      try { last = JSON.parse(ev.data).last; } catch (_) { /* keep */ }
      es.close();
      feed.source = null;
      connectFeed(last + 1);
      scheduleRefresh();
    });
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        feed.source = null;
        setLive('down', 'Live updates stopped · reload to retry');
      } else {
        setLive('down', 'Reconnecting…');
      }
    });
  }
  function liveStatus() {
    if (REPORT) return;
    if (state.asOf) setLive('paused', 'Live feed on · showing ' + asOfLabel(state.asOf));
    else setLive('live', 'Live · head #' + fmt(state.head ? state.head.seq : 0));
  }
  function onRecord(rec) {
    feed.next = rec.seq + 1;
    if (!state.head || rec.seq > state.head.seq) {
      state.head = { seq: rec.seq, hash: rec.hash, recorded_at: rec.recorded_at };
      renderHead();
    }
    liveStatus();
    if (state.asOf) return;
    if (!state.recent.some((e) => e.seq === rec.seq)) {
      state.recent = [rec].concat(state.recent).slice(0, RECENT);
      renderRecent();
    }
    scheduleRefresh();
  }
  // Appends redraw the views at most one refresh at a time: records arriving meanwhile are
  // folded into the next one, so a busy ledger neither starves the page nor floods the server.
  const live = { timer: null, running: false, pending: false };
  function scheduleRefresh() {
    if (live.timer || live.running) { live.pending = live.pending || live.running; return; }
    live.timer = setTimeout(runLiveRefresh, 300);
  }
  async function runLiveRefresh() {
    live.timer = null;
    live.running = true;
    try {
      await refresh(false);
    } finally {
      live.running = false;
      if (live.pending) { live.pending = false; scheduleRefresh(); }
    }
  }

  // ---------------------------------------------------------------- controls
  const form = $('asof');
  const modeInputs = Array.from(form.querySelectorAll('input[name="asof-mode"]'));
  const mode = () => (modeInputs.find((i) => i.checked) || {}).value || 'head';
  const setMode = (v) => modeInputs.forEach((i) => { i.checked = i.value === v; });
  $('asof-seq').addEventListener('input', () => setMode('seq'));
  $('asof-date').addEventListener('input', () => setMode('date'));
  let rangeTimer = null;
  $('asof-range').addEventListener('input', (ev) => {
    setMode('seq');
    $('asof-seq').value = ev.target.value;
    clearTimeout(rangeTimer);
    rangeTimer = setTimeout(() => applyAsOf(), 250);
  });
  form.addEventListener('submit', (ev) => { ev.preventDefault(); applyAsOf(); });
  $('asof-latest').addEventListener('click', () => { setMode('head'); $('asof-date').value = ''; applyAsOf(); });
  $('verify-again').addEventListener('click', () => loadVerify());

  function applyAsOf() {
    const note = $('asof-note');
    const m = mode();
    let next = null;
    if (m === 'seq') {
      const raw = $('asof-seq').value.trim();
      const n = Number(raw);
      const head = state.head ? state.head.seq : 0;
      if (raw === '' || !Number.isInteger(n) || n < 0) { note.textContent = 'Give a sequence number, 0 or more.'; $('asof-seq').focus(); return; }
      next = { kind: 'seq', value: Math.min(n, head) };
      $('asof-seq').value = String(next.value);
      $('asof-range').value = String(next.value);
    } else if (m === 'date') {
      const d = $('asof-date').value;
      if (!/^\d{4}-\d{2}-\d{2}$/.test(d)) { note.textContent = 'Give a date (YYYY-MM-DD).'; $('asof-date').focus(); return; }
      next = { kind: 'date', value: d };
    }
    note.textContent = next ? 'Showing the ledger ' + asOfLabel(next) + '.' : 'Showing the ledger as it stands; live.';
    state.asOf = next;
    if (!next) $('asof-seq').value = '';
    liveStatus();
    refresh(false);
  }

  document.querySelectorAll('input[name="metric"]').forEach((i) => i.addEventListener('change', (ev) => {
    state.metric = ev.target.value;
    if (state.regions) renderMatrix();
  }));
  $('corridor-top').addEventListener('change', (ev) => { state.top = Number(ev.target.value); if (state.regions) renderCorridors(); });

  window.addEventListener('hashchange', () => {
    const r = showRoute();
    if (r.page === 'country') {
      renderCountryPage(r.cc, generation).then(() => { window.scrollTo(0, 0); $('main').focus({ preventScroll: true }); }).catch(showError);
    } else {
      const target = location.hash.length > 1 ? document.getElementById(location.hash.slice(1)) : null;
      if (target && target.scrollIntoView) target.scrollIntoView();
    }
  });
  window.addEventListener('beforeprint', () => document.querySelectorAll('details.fallback').forEach((d) => { d.dataset.wasOpen = d.open ? '1' : ''; d.open = true; }));
  window.addEventListener('afterprint', () => document.querySelectorAll('details.fallback').forEach((d) => { d.open = d.dataset.wasOpen === '1'; }));

  // ---------------------------------------------------------------- start
  if (REPORT) {
    document.body.classList.add('is-report');
    const a = REPORT.as_of || { kind: 'head' };
    setMode(a.kind);
    if (a.kind === 'seq') $('asof-seq').value = String(a.value);
    if (a.kind === 'date') $('asof-date').value = a.value;
    form.querySelectorAll('input, button').forEach((el) => { el.disabled = true; });
    $('verify-again').hidden = true;
    $('asof-note').textContent = 'This report is fixed ' + (a.kind === 'head' ? 'at the head when it was written' : asOfLabel(a)) + '.';
    $('foot-text').textContent = 'Report written ' + when(REPORT.generated_at) + ' by ' + (REPORT.generator || 'coopledger') +
      '. Every figure is drawn from the API documents embedded in this file (the JSON of /v1/regions, /v1/countries, /v1/streams, /v1/events, /v1/head, /v1/verify and /v1/checkpoint); nothing is fetched.';
  }
  showRoute();
  refresh(true);
})();
