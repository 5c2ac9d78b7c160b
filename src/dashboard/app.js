// coopledger dashboard: draws the views from the API's own JSON with hand-written SVG.
// Served at / by `coopledger serve` (fetches /v1/...), or inside a report file written by
// `coopledger report`, where the same documents are embedded and nothing is fetched.
//
// A page load makes a bounded number of requests whatever the ledger's size: the head, the kept
// verification, the checkpoint, the regions, the countries, the latest events and the timeline
// (one fold of the log for every year); a country page adds its stream, its timeline and one
// page of its meetings, activities and cases; an entity page one document.
//
// Hook for other scripts (the staff form, src/dashboard/form.js): an entity page holds an empty
// <div id="entity-actions" data-stream="…"> for their buttons, and each time an entity page is
// drawn the document receives a `coopledger:entity` CustomEvent whose detail is
// {stream, entity, asOf, report}: the stream name, the /v1/entities/{stream} document shown,
// the point of history ({seq, on} or null) and whether this is a static report.
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

  async function request(path, opts) {
    const method = (opts && opts.method) || 'GET';
    const accept = (opts && opts.accept) || 'application/json';
    for (;;) {
      const headers = { Accept: accept };
      if (token) headers.Authorization = 'Bearer ' + token;
      const res = await fetch(path, { method, headers, cache: 'no-store' });
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
    asOf: null, // null (the head), or {seq: N or null, on: 'YYYY-MM-DD' or null}
    metric: 'activities',
    top: 20,
    head: null,
    verify: null,
    checkpoint: undefined,
    regions: null,
    countries: [],
    byCode: new Map(),
    recent: [],
    timeline: null,
    sort: { key: 'activities', dir: -1 },
    filter: '',
    listing: { cc: null, offset: 0 },
  };
  if (REPORT && REPORT.as_of && (REPORT.as_of.seq != null || REPORT.as_of.on)) {
    state.asOf = { seq: REPORT.as_of.seq == null ? null : REPORT.as_of.seq, on: REPORT.as_of.on || null };
  }
  let generation = 0;
  const LISTING = 10; // entities per page of a country's listing (dashboard::LISTING_PAGE)

  // The query of a point of history: `as_of=N`, then `on=D` (the report builds the same).
  function asOfQuery(asOf) {
    if (!asOf) return '';
    const parts = [];
    if (asOf.seq != null) parts.push('as_of=' + asOf.seq);
    if (asOf.on) parts.push('on=' + asOf.on);
    return parts.join('&');
  }
  // `path` with `query` appended after `?` or `&` (dashboard::with_query does the same).
  function withQuery(path, query) {
    if (!query) return path;
    return path + (path.includes('?') ? '&' : '?') + query;
  }
  const csvPath = (path) => withQuery(path, 'format=csv');
  const atPoint = (path) => withQuery(path, asOfQuery(state.asOf));
  function recentPath(asOf) {
    if (asOf && asOf.seq != null) return '/v1/events?from=' + asOf.seq + '&reverse=true&limit=' + RECENT;
    return '/v1/events?reverse=true&limit=' + RECENT;
  }
  function asOfLabel(asOf, seq) {
    if (!asOf) return 'as it stands (sequence ' + fmt(seq) + ')';
    const parts = [];
    if (asOf.seq != null) parts.push('as of sequence ' + fmt(asOf.seq));
    if (asOf.on) parts.push('counting what happened by ' + asOf.on);
    return parts.join(', ');
  }
  function asOfKey(asOf) {
    if (!asOf) return 'head';
    const parts = [];
    if (asOf.seq != null) parts.push('seq:' + asOf.seq);
    if (asOf.on) parts.push('date:' + asOf.on);
    return parts.join(';');
  }

  // A "Download CSV" link: the CSV form of the document at `path` (fetched with the token, or
  // read from the report, when clicked).
  function csvLink(path, name, label) {
    const file = (name || 'coopledger') + '.csv';
    return '<a class="csv-link interactive" href="' + esc(csvPath(path)) + '" download="' + esc(file) + '" data-csv="' + esc(csvPath(path)) + '">' +
      esc(label || 'Download CSV') + '</a>';
  }
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a[data-csv]');
    if (!a) return;
    ev.preventDefault();
    downloadCsv(a.dataset.csv, a.getAttribute('download')).catch(showError);
  });
  async function downloadCsv(path, file) {
    let text;
    if (REPORT) {
      text = embedded(path);
    } else {
      const res = await request(path, { accept: 'text/csv' });
      text = await res.text();
      if (!res.ok) {
        let body = null;
        try { body = JSON.parse(text); } catch (_) { /* not JSON */ }
        throw new ApiError(res.status, body);
      }
    }
    const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = file || 'coopledger.csv';
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
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
    if (!state.asOf || state.asOf.seq == null) range.value = String(h.seq);
    $('asof-seq').max = String(h.seq);
    renderVerify();
    renderCheckpoint();
  }

  function renderVerify() {
    const v = state.verify;
    const status = $('verify-status');
    const note = $('verify-note');
    const time = $('verify-time');
    if (!v) { status.textContent = '–'; note.textContent = 'not run yet'; time.textContent = ''; return; }
    if (v.error) { status.className = 'stat-value bad'; status.textContent = 'Unavailable'; note.textContent = v.error; time.textContent = ''; return; }
    time.textContent = v.verified_at ? 'verified ' + when(v.verified_at) : '';
    if (v.ok) {
      status.className = 'stat-value ok';
      status.textContent = '✓ Chain intact';
      const behind = state.head && state.head.seq > v.head_seq ? state.head.seq - v.head_seq : 0;
      note.textContent = fmt(v.events) + ' records, to #' + fmt(v.head_seq) + (behind ? ' (+' + fmt(behind) + ' since, not yet verified)' : '');
    } else {
      status.className = 'stat-value bad';
      status.textContent = '✗ Failed at #' + fmt(v.first_bad_sequence);
      note.textContent = v.reason || '';
    }
    note.title = (v.head_hash ? 'head hash ' + v.head_hash : '') + (state.head && state.head.seq > v.head_seq ? '; newer records are not verified yet (staff: Verify now)' : '');
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

  // The timeline as bars per period (meetings, activities, cases opened, stacked) with the
  // inter-regional share of each period (line) and up to its end (dashed line).
  const TL = [['meetings', 'Meetings', '#0f766e', 'sw-m'], ['activities', 'Activities', '#334e7e', 'sw-a'], ['cases', 'Cases opened', '#b45309', 'sw-c']];
  const tlValue = (p, key) => (key === 'activities' ? p.activities.total : key === 'cases' ? p.cases.opened : p.meetings);
  function timelineChart(tl, id, name) {
    const periods = (tl && tl.periods) || [];
    if (!periods.length) return '<p class="empty">Nothing dated yet' + (name ? ' for ' + esc(name) : '') + '.</p>';
    const w = 640;
    const h = 330;
    const m = { l: 46, r: 52, t: 16, b: 34 };
    const iw = w - m.l - m.r;
    const ih = h - m.t - m.b;
    const band = iw / periods.length;
    const maxN = niceMax(Math.max(1, ...periods.map((p) => sum(TL.map(([k]) => tlValue(p, k))))));
    const yN = (n) => m.t + ih * (1 - n / maxN);
    const yS = (share) => m.t + ih * (1 - share);
    const last = periods[periods.length - 1];
    const out = ['<svg viewBox="0 0 ' + w + ' ' + h + '" role="img" aria-labelledby="' + id + '-t ' + id + '-d" class="timeline-chart" data-periods="' + periods.length + '">'];
    out.push('<title id="' + id + '-t">' + esc((name ? name + ': ' : '') + 'meetings, activities and cases per ' + tl.by + ', and the inter-regional share') + '</title>');
    out.push('<desc id="' + id + '-d">' + esc(periods.map((p) => p.period + ': ' + p.meetings + ' meetings, ' + p.activities.total + ' activities, ' + p.cases.opened + ' cases opened, ' + pct(p.interregional.share) + ' inter-regional').join('; ') + '. Up to ' + last.end + ': ' + pct(last.cumulative.share) + ' inter-regional.') + '</desc>');
    for (let i = 0; i <= 4; i++) {
      const v = i / 4;
      out.push('<line class="grid" x1="' + m.l + '" x2="' + (w - m.r) + '" y1="' + yS(v) + '" y2="' + yS(v) + '"></line>');
      out.push('<text x="' + (m.l - 8) + '" y="' + (yS(v) + 4) + '" text-anchor="end" class="lbl-muted">' + fmt(Math.round(maxN * v)) + '</text>');
      out.push('<text x="' + (w - m.r + 8) + '" y="' + (yS(v) + 4) + '" class="lbl-muted">' + (v * 100) + '%</text>');
    }
    const every = Math.ceil(periods.length / 12);
    periods.forEach((p, i) => {
      const x = m.l + band * i;
      out.push('<g class="tl-bar" data-period="' + esc(p.period) + '" data-meetings="' + p.meetings + '" data-activities="' + p.activities.total + '" data-cases="' + p.cases.opened + '">');
      out.push('<title>' + esc(p.period + ': ' + fmt(p.meetings) + ' meetings, ' + fmt(p.activities.total) + ' activities (' + fmt(p.participants.total) + ' participants), ' + fmt(p.cases.opened) + ' cases opened, ' + fmt(p.cases.closed) + ' closed; ' + fmt(p.interregional.events) + ' of ' + fmt(p.interregional.counted) + ' inter-regional') + '</title>');
      let base = 0;
      for (const [key, , colour] of TL) {
        const v = tlValue(p, key);
        if (v > 0) {
          const y0 = yN(base + v);
          out.push('<rect x="' + (x + band * 0.18).toFixed(1) + '" y="' + y0.toFixed(1) + '" width="' + (band * 0.64).toFixed(1) + '" height="' + (yN(base) - y0).toFixed(1) + '" fill="' + colour + '"></rect>');
        }
        base += v;
      }
      out.push('</g>');
      if (i % every === 0 || i === periods.length - 1) out.push('<text x="' + (x + band / 2).toFixed(1) + '" y="' + (h - m.b + 18) + '" text-anchor="middle" class="lbl-muted">' + esc(p.period) + '</text>');
    });
    const line = (pick, cls, dash) => {
      const pts = [];
      periods.forEach((p, i) => { if (pick(p) != null) pts.push([m.l + band * i + band / 2, yS(pick(p)), p, i]); });
      if (!pts.length) return;
      out.push('<path d="M' + pts.map((q) => q[0].toFixed(1) + ' ' + q[1].toFixed(1)).join('L') + '" fill="none" stroke="#1d4ed8" stroke-width="2.2" stroke-linejoin="round"' + (dash ? ' stroke-dasharray="5 4" opacity="0.7"' : '') + '></path>');
      pts.forEach(([px, py, p]) => out.push('<circle class="' + cls + '" data-period="' + esc(p.period) + '" data-share="' + pick(p) + '" cx="' + px.toFixed(1) + '" cy="' + py.toFixed(1) + '" r="' + (dash ? 2.6 : 3.6) + '" fill="#fff" stroke="#1d4ed8" stroke-width="2"><title>' + esc(p.period + ': ' + pct(pick(p)) + (dash ? ' inter-regional up to ' + p.end : ' of the period inter-regional')) + '</title></circle>'));
    };
    line((p) => (p.interregional.counted > 0 ? p.interregional.share : null), 'tl-share', false);
    line((p) => (p.cumulative.counted > 0 ? p.cumulative.share : null), 'tl-cum', true);
    out.push('<line class="axis" x1="' + m.l + '" x2="' + (w - m.r) + '" y1="' + yS(0) + '" y2="' + yS(0) + '"></line>');
    out.push('</svg>');
    const lead = '<p class="share-lead"><strong>' + pct(last.cumulative.share) + '</strong> of ' + fmt(last.cumulative.counted) + ' meetings, activities and cases up to ' + esc(last.end) +
      ' spanned two or more regions; ' + pct(last.interregional.share) + ' in ' + esc(last.period) + '.</p>';
    const legend = '<div class="legend">' + TL.map(([, label, , cls]) => '<span><span class="swatch ' + cls + '"></span>' + esc(label) + '</span>').join('') +
      '<span><span class="swatch sw-line"></span>share in the ' + esc(tl.by) + '</span><span class="muted">dashed: share up to its end</span></div>';
    return lead + out.join('') + legend;
  }

  function timelineTable(tl, caption) {
    const periods = (tl && tl.periods) || [];
    if (!periods.length) return '<p class="empty">No periods.</p>';
    const t = ['<table class="timeline-table"><caption class="visually-hidden">' + esc(caption) + '</caption><thead><tr><th scope="col">' + esc(cap(tl.by)) + '</th><th scope="col" class="num">Meetings</th><th scope="col" class="num">Activities</th><th scope="col" class="num">Participants</th><th scope="col" class="num">Women</th><th scope="col" class="num">Cases opened</th><th scope="col" class="num">Closed</th><th scope="col" class="num">Inter-regional</th><th scope="col" class="num">Share</th><th scope="col" class="num">Up to its end</th></tr></thead><tbody>'];
    for (const p of periods) {
      t.push('<tr data-period="' + esc(p.period) + '"><th scope="row">' + esc(p.period) + '</th><td class="num">' + fmt(p.meetings) + '</td><td class="num">' + fmt(p.activities.total) + '</td><td class="num">' + fmt(p.participants.total) + '</td><td class="num">' + fmt(p.participants.women) +
        '</td><td class="num">' + fmt(p.cases.opened) + '</td><td class="num">' + fmt(p.cases.closed) + '</td><td class="num">' + fmt(p.interregional.events) + ' / ' + fmt(p.interregional.counted) + '</td><td class="num">' + pct(p.interregional.share) + '</td><td class="num">' + pct(p.cumulative.share) + '</td></tr>');
    }
    t.push('</tbody></table>');
    return t.join('');
  }

  function renderTimeline() {
    const tl = state.timeline;
    $('timeline-caption').textContent = 'Meetings, activities and cases opened per year (bars), and the share of them spanning two or more regions: in the year (line) and up to its end (dashed)' +
      (state.asOf ? ', ' + asOfLabel(state.asOf) : '') + '. One fold of the log gives every year.';
    $('timeline').innerHTML = timelineChart(tl, 'tl', '');
    $('timeline-table').innerHTML = timelineTable(tl, 'The programme per year');
    $('timeline-csv').innerHTML = csvLink(atPoint('/v1/timeline?by=year'), 'timeline');
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
    const short = esc(s.length > 24 ? s.slice(0, 22) + '…' : s);
    // A meeting, activity or case opens its own page.
    if (ENTITY_RE.test('#' + s)) return '<a href="#' + esc(s) + '" class="mono" title="' + esc(s) + '">' + short + '</a>';
    return '<span class="mono" title="' + esc(s) + '">' + short + '</span>';
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
    $('recent-caption').textContent = state.asOf && state.asOf.seq != null
      ? 'Newest first, up to sequence ' + fmt(state.asOf.seq) + '.'
      : REPORT ? 'Newest first, when the report was written.' : 'Newest first; new appends arrive live.';
    $('recent-csv').innerHTML = csvLink(recentPath(state.asOf), 'latest-events');
  }

  function renderOverview() {
    if (!state.regions) return;
    renderKpis();
    renderMatrix();
    renderCorridors();
    renderNetwork();
    renderTimeline();
    renderCountries();
    renderRecent();
    $('matrix-csv').innerHTML = csvLink(atPoint('/v1/regions'), 'region-pairs');
    $('corridors-csv').innerHTML = csvLink(atPoint('/v1/regions?table=corridors'), 'corridors');
    $('countries-csv').innerHTML = csvLink(atPoint('/v1/countries'), 'countries');
    renderPrintSummary();
  }

  // What a printed report says first, on page 1.
  function renderPrintSummary() {
    const r = state.regions;
    const h = state.head;
    const v = state.verify;
    const verified = v && v.ok ? 'the hash chain verified intact to #' + fmt(v.head_seq) + (v.verified_at ? ' (' + when(v.verified_at) + ')' : '')
      : v && v.ok === false ? 'verification FAILED at #' + fmt(v.first_bad_sequence) : 'not verified';
    const last = state.timeline && state.timeline.periods.length ? state.timeline.periods[state.timeline.periods.length - 1] : null;
    $('print-summary').innerHTML = '<h1>Cooperation programme: summary</h1><p>' + esc('The ledger ' + asOfLabel(state.asOf, r.as_of_sequence) + '; head #' + fmt(h ? h.seq : 0) + (h && h.hash ? ' ' + shortHash(h.hash) : '') + '; ' + verified + '.') + '</p>' +
      '<p>' + esc(fmt(state.countries.length) + ' countries; ' + fmt(r.interregional.events) + ' inter-regional meetings, activities and cases (' + pct(r.interregional.share) + ')' +
        (last ? '; up to ' + last.end + ', ' + fmt(last.cumulative.counted) + ' counted' : '') + '; ' + fmt(r.corridors.length) + ' corridors.') + '</p>';
  }

  // ---------------------------------------------------------------- country page
  function participationFacts(stream, asOf) {
    const facts = new Map();
    const order = [];
    for (const e of stream) {
      if (asOf && asOf.seq != null && e.seq > asOf.seq) continue;
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
    if (asOf && asOf.on) effective = effective.filter((f) => f.date <= asOf.on);
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

  function listingPath(cc, offset) {
    return atPoint('/v1/entities?country=' + cc + '&offset=' + offset + '&limit=' + LISTING);
  }

  async function renderCountryPage(cc, gen) {
    const host = $('page-country');
    let view = null;
    let missing = null;
    let stream = [];
    let own = null;
    let listing = null;
    if (state.listing.cc !== cc) state.listing = { cc, offset: 0 };
    const absent = (fallback) => (e) => { if (e.status === 404 || e.status === 400) return fallback; throw e; };
    try {
      [view, stream, own, listing] = await Promise.all([
        api(atPoint('/v1/countries/' + cc)).catch((e) => { if (e.status === 404 || e.status === 400) { missing = e; return null; } throw e; }),
        api('/v1/streams/country/' + cc).catch(absent([])),
        api(atPoint('/v1/timeline?by=year&country=' + cc)).catch(absent(null)),
        api(listingPath(cc, state.listing.offset)).catch(absent(null)),
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
    const end = state.asOf && state.asOf.on ? state.asOf.on
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
    out.push('<div class="grid2">');
    out.push('<section class="card" aria-labelledby="ctl-h"><header class="card-head"><div><h2 id="ctl-h">' + esc(view.name) + ' over time</h2><p class="muted">What involved it per year (participants where it is a beneficiary), and the share of it spanning two or more regions.</p></div></header>' +
      '<div class="chart" id="c-over-time">' + timelineChart(own, 'ctl', view.name) + '</div>' +
      '<details class="fallback"><summary>The years as a table</summary>' + timelineTable(own, view.name + ' per year') + '</details>' +
      '<p class="csv">' + csvLink(atPoint('/v1/timeline?by=year&country=' + view.country), 'country-' + view.country + '-timeline') + '</p></section>');
    out.push('<section class="card" aria-labelledby="cl-h"><header class="card-head"><div><h2 id="cl-h">Meetings, activities and cases</h2><p class="muted">Everything ' + esc(view.name) + ' is involved in, newest first; a title opens its page.</p></div></header>' +
      '<div id="c-listing"></div></section>');
    out.push('</div>');
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
      (rows.join('') || '<tr><td colspan="5" class="muted">None.</td></tr>') + '</tbody></table></div>' +
      '<p class="csv">' + csvLink(atPoint('/v1/countries/' + view.country), 'country-' + view.country + '-counterparts') + '</p></section>');
    out.push('</div>');
    const history = stream.filter((e) => !(state.asOf && state.asOf.seq != null && e.seq > state.asOf.seq));
    out.push('<section class="card" aria-labelledby="hist-h"><header class="card-head"><div><h2 id="hist-h">Recorded history of <span class="mono">country/' + esc(view.country) + '</span></h2><p class="muted">Every record of the stream, as recorded; nothing is ever rewritten.</p></div></header>' +
      '<div class="table-scroll">' + eventsTable(history, 'Records of country/' + view.country) + '</div>' +
      '<p class="csv">' + csvLink('/v1/streams/country/' + view.country, 'country-' + view.country + '-records') + '</p></section>');
    host.innerHTML = out.join('');
    $('c-listing').innerHTML = listingHtml(view, listing);
    if (window.coopledgerForms) window.coopledgerForms.entityActions('country/' + view.country, $('country-head')); // form.js
  }

  // One page of a country's meetings, activities and cases, newest first.
  function listingHtml(view, listing) {
    if (!listing) return '<p class="empty">Not available.</p>';
    const rows = listing.entities.map((e) => '<tr data-stream="' + esc(e.stream) + '"><td>' + esc(e.date) + '</td><td>' + esc(cap(e.entity)) + (e.kind ? ' <span class="muted">' + esc(human(e.kind)) + '</span>' : '') + '</td>' +
      '<td class="wrap-cell"><a href="#' + esc(e.stream) + '">' + esc(e.title || e.stream) + '</a></td><td>' + esc(human(e.status)) + '</td>' +
      '<td>' + e.countries.map((c) => '<a class="mono" href="#country/' + c + '">' + c + '</a>').join(' ') + '</td><td>' + (e.interregional ? 'yes' : '') + '</td></tr>');
    const from = listing.total ? listing.offset + 1 : 0;
    const to = listing.offset + listing.entities.length;
    const pager = REPORT ? (listing.total > to ? '<span class="muted">' + fmt(listing.total - to) + ' more in the API (this report holds the newest ' + LISTING + ')</span>' : '')
      : '<button type="button" class="btn small interactive" data-page="' + Math.max(0, listing.offset - LISTING) + '"' + (listing.offset > 0 ? '' : ' disabled') + '>Newer</button> ' +
        '<button type="button" class="btn small interactive" data-page="' + (listing.offset + LISTING) + '"' + (to < listing.total ? '' : ' disabled') + '>Older</button>';
    return '<p class="muted listing-range" id="c-listing-range">' + fmt(from) + '–' + fmt(to) + ' of ' + fmt(listing.total) + ', newest first</p>' +
      '<div class="table-scroll"><table id="c-listing-table"><caption class="visually-hidden">Meetings, activities and cases of ' + esc(view.name) + '</caption><thead><tr><th scope="col">Date</th><th scope="col">What</th><th scope="col">Title</th><th scope="col">Status</th><th scope="col">Countries</th><th scope="col">Inter-regional</th></tr></thead><tbody>' +
      (rows.join('') || '<tr><td colspan="6" class="muted">None.</td></tr>') + '</tbody></table></div>' +
      '<p class="pager">' + pager + '</p><p class="csv">' + csvLink(listingPath(view.country, listing.offset), 'country-' + view.country + '-entities') + '</p>';
  }
  $('page-country').addEventListener('click', (ev) => {
    const b = ev.target.closest && ev.target.closest('button[data-page]');
    if (!b || !state.listing.cc) return;
    const cc = state.listing.cc;
    state.listing.offset = Number(b.dataset.page);
    const gen = generation;
    api(listingPath(cc, state.listing.offset)).then((listing) => {
      if (gen !== generation) return;
      const view = state.byCode.get(cc) || { country: cc, name: cc };
      $('c-listing').innerHTML = listingHtml(view, listing);
    }).catch(showError);
  });

  // ---------------------------------------------------------------- entity page
  const ENTITY_RE = /^#(meeting|activity|case)\/([0-9a-fA-F-]{36})$/;

  function contributionText(c) {
    if (!c) return 'nothing';
    let text = c.entity + (c.kind ? ' (' + human(c.kind) + ')' : '') + ' with ' + (c.countries.join(' ') || 'no country');
    if (c.participants) text += ', ' + fmt(c.participants.total) + ' participants' + (c.participants.women != null ? ' (' + fmt(c.participants.women) + ' women)' : '');
    if (c.closed != null) text += c.closed ? ', closed' : ', open';
    return text;
  }
  const signed = (n) => (n > 0 ? '+' : '') + fmt(n);
  const MOVES = [['meetings', 'meetings'], ['activities', 'activities'], ['participants_total', 'participants'], ['participants_women', 'women'], ['cases_open', 'open cases'], ['cases_closed', 'closed cases']];
  // What a record changed in the views, in words (the replay's effect).
  function effectText(effect) {
    if (!effect || effect.change === 'none') return 'Nothing in the views.';
    const parts = [];
    if (effect.undid) parts.push('Undid: ' + contributionText(effect.undid) + '.');
    if (effect.added) parts.push('Added: ' + contributionText(effect.added) + '.');
    for (const c of effect.countries) {
      const moved = MOVES.filter(([k]) => c[k]).map(([k, label]) => label + ' ' + signed(c[k]));
      Object.entries(c.by_kind || {}).forEach(([k, n]) => moved.push(human(k) + ' ' + signed(n)));
      if (c.participation) moved.push('participation ' + (c.participation.from ? human(c.participation.from) : 'none') + ' → ' + (c.participation.to ? human(c.participation.to) : 'none'));
      if (moved.length) parts.push(c.country + ': ' + moved.join(', ') + '.');
    }
    for (const p of effect.pairs) {
      const moved = ['meetings', 'activities', 'cases'].filter((k) => p[k]).map((k) => k + ' ' + signed(p[k]));
      parts.push(REGION_SHORT[p.regions[0]] + ' × ' + REGION_SHORT[p.regions[1]] + ': ' + moved.join(', ') + '.');
    }
    return parts.join(' ');
  }

  function factFields(type, f) {
    if (!f) return '<span class="muted">retracted: counts for nothing</span>';
    const bits = [];
    const dates = f.start ? f.start + (f.end && f.end !== f.start ? ' to ' + f.end : '') : (f.opened_on || f.added_on || f.on || f.closed_on || f.cancelled_on || '');
    if (dates) bits.push(dates);
    if (f.venue) bits.push(f.venue === 'virtual' ? 'online' : f.venue.city + ' (' + f.venue.country + ')');
    if (f.participants) bits.push(fmt(f.participants.total) + ' participants' + (f.participants.women != null ? ', ' + fmt(f.participants.women) + ' women' : ''));
    if (f.milestone) bits.push(human(f.milestone.kind));
    if (f.outcome) bits.push(human(f.outcome));
    if (f.reason) bits.push(f.reason);
    return esc((type ? type + ': ' : '') + bits.join(' · '));
  }

  async function renderEntityPage(kind, id, gen) {
    const host = $('page-entity');
    const stream = kind + '/' + id.toLowerCase();
    let doc = null;
    let missing = null;
    try {
      doc = await api(atPoint('/v1/entities/' + stream));
    } catch (e) {
      if (gen !== generation) return;
      if (e.status === 404 || e.status === 400) missing = e; else throw e;
    }
    if (gen !== generation) return;
    const back = '<p class="crumbs"><a href="#overview">← Overview</a></p>';
    if (!doc) {
      host.innerHTML = back + '<div class="card" id="entity-head" data-stream="' + esc(stream) + '" data-missing="1"><h1>' + esc(cap(kind)) + '</h1><p class="mono muted">' + esc(stream) + '</p><p class="empty">' + esc((missing && missing.message) || 'Not found.') + '</p></div>';
      document.title = cap(kind) + ' · coopledger';
      return;
    }
    const sm = doc.summary;
    const title = (sm && sm.title) || cap(kind);
    document.title = title + ' · coopledger';
    const out = [back];
    out.push('<div class="country-head entity-head" id="entity-head" data-stream="' + esc(doc.stream) + '" data-status="' + esc(sm ? sm.status : 'none') + '"><h1>' + esc(title) + '</h1>' +
      '<span class="chip">' + esc(cap(kind) + (sm && sm.kind ? ' · ' + human(sm.kind) : '')) + '</span>' +
      '<span class="chip status-chip">' + esc(sm ? human(sm.status) : 'nothing effective') + '</span>' +
      (sm && sm.interregional ? '<span class="chip">inter-regional</span>' : '') +
      '<span class="muted">' + esc((sm ? sm.date + (sm.end && sm.end !== sm.date ? ' to ' + sm.end : '') + ' · ' : '') + asOfLabel(state.asOf, doc.as_of_sequence)) + '</span>' +
      '<span class="mono muted">' + esc(doc.stream) + '</span></div>');
    // The staff form (form.js) puts its "Correct this" / "Retract" buttons here.
    out.push('<div id="entity-actions" class="interactive" data-stream="' + esc(doc.stream) + '"></div>');
    const countries = doc.countries.map((c) => '<li data-cc="' + c.country + '"><span class="swatch sw-' + esc(c.programme_region) + '"></span><a href="#country/' + c.country + '">' + esc(c.name) + '</a> <span class="muted mono">' + c.country + '</span> <span class="muted">' + esc(c.roles.map(human).join(', ')) + '</span></li>');
    out.push('<div class="grid2"><section class="card" aria-labelledby="ec-h"><header class="card-head"><div><h2 id="ec-h">Countries involved</h2><p class="muted">As the ledger says now; the venue is not involved unless listed.</p></div></header>' +
      '<ul class="entity-countries" id="e-countries">' + (countries.join('') || '<li class="muted">None.</li>') + '</ul></section>');
    const facts = doc.facts.map((f) => '<tr data-seq="' + f.seq + '"' + (f.effective ? '' : ' class="struck"') + '><td class="num mono">' + fmt(f.seq) + '</td><td class="wrap-cell">' + factFields(f.type, f.effective) + '</td>' +
      '<td>' + (f.corrected_by.length ? 'corrected by #' + f.corrected_by.map(fmt).join(', #') : '') + (f.retracted_by ? 'retracted by #' + fmt(f.retracted_by) : '') + '</td><td>' + (f.counts ? 'counts' : '<span class="muted">does not count here</span>') + '</td></tr>');
    out.push('<section class="card" aria-labelledby="ef-h"><header class="card-head"><div><h2 id="ef-h">As it stands</h2><p class="muted">Each fact with its effective payload: the latest correction replaces it, a retraction empties it.</p></div></header>' +
      '<div class="table-scroll"><table id="e-facts"><thead><tr><th scope="col" class="num">Seq</th><th scope="col">Fact</th><th scope="col">Amended</th><th scope="col">Here</th></tr></thead><tbody>' + facts.join('') + '</tbody></table></div></section></div>');
    const rows = doc.history.map((h) => {
      const e = h.record;
      const fix = e.type === 'EventCorrected' || e.type === 'EventRetracted';
      return '<tr data-seq="' + e.seq + '" data-change="' + esc(h.effect.change) + '"><td class="num mono">' + fmt(e.seq) + '</td><td>' + esc(when(e.recorded_at).replace(' UTC', '')) + '</td>' +
        '<td><span class="type' + (fix ? ' type-fix' : '') + '">' + esc(e.type) + '</span></td><td class="wrap-cell">' + esc(summary(e)) + '</td><td class="wrap-cell effect">' + esc(effectText(h.effect)) + '</td><td class="muted">' + esc(e.recorded_by) + '</td></tr>';
    });
    out.push('<section class="card" aria-labelledby="eh-h"><header class="card-head"><div><h2 id="eh-h">History and what each record changed</h2><p class="muted">Every record of <span class="mono">' + esc(doc.stream) + '</span>, with the counters it moved in the views (as <code>coopledger replay --stream</code> shows).</p></div></header>' +
      '<div class="table-scroll"><table id="e-history"><thead><tr><th scope="col" class="num">Seq</th><th scope="col">Recorded (UTC)</th><th scope="col">Type</th><th scope="col">What</th><th scope="col">What it changed</th><th scope="col">By</th></tr></thead><tbody>' + rows.join('') + '</tbody></table></div>' +
      '<p class="csv">' + csvLink('/v1/streams/' + doc.stream, doc.stream.replace('/', '-')) + '</p></section>');
    host.innerHTML = out.join('');
    document.dispatchEvent(new CustomEvent('coopledger:entity', { detail: { stream: doc.stream, entity: doc, asOf: state.asOf, report: !!REPORT } }));
  }

  // ---------------------------------------------------------------- loading
  async function loadVerify() {
    try { state.verify = await api('/v1/verify'); } catch (e) { state.verify = e.body && e.body.ok === false ? e.body : { error: e.message }; }
    renderVerify();
  }
  // Staff: verify again now (the server runs it only when the head moved since the kept one).
  async function verifyNow() {
    const button = $('verify-now');
    button.disabled = true;
    try {
      const res = await request('/v1/verify', { method: 'POST' });
      const body = await res.json().catch(() => null);
      if (res.status === 403) { $('verify-note').textContent = 'Only a staff token may verify now; readers see the kept result.'; return; }
      state.verify = res.ok || (body && body.ok === false) ? body : { error: (body && body.message) || 'HTTP ' + res.status };
      renderVerify();
    } catch (e) {
      showError(e);
    } finally {
      button.disabled = false;
    }
  }
  async function loadCheckpoint() {
    try { state.checkpoint = { text: await api('/v1/checkpoint') }; } catch (e) { state.checkpoint = e.status === 404 ? null : { error: e.message }; }
    renderCheckpoint();
  }

  function route() {
    const m = /^#country\/([A-Za-z]{2})$/.exec(location.hash);
    if (m) return { page: 'country', cc: m[1].toUpperCase() };
    const e = ENTITY_RE.exec(location.hash);
    if (e) return { page: 'entity', kind: e[1], id: e[2] };
    return { page: 'overview' };
  }

  function showRoute() {
    const r = route();
    $('page-overview').hidden = r.page !== 'overview';
    $('page-country').hidden = r.page !== 'country';
    $('page-entity').hidden = r.page !== 'entity';
    if (r.page === 'overview') document.title = 'coopledger · cooperation dashboard';
    return r;
  }

  function renderRoute(r, gen) {
    if (r.page === 'country') return renderCountryPage(r.cc, gen);
    if (r.page === 'entity') return renderEntityPage(r.kind, r.id, gen);
    return Promise.resolve();
  }

  // Everything for the current point of history; `full` also reads the kept verification and
  // the checkpoint.
  async function refresh(full) {
    const gen = ++generation;
    document.body.dataset.state = 'loading';
    const asOf = state.asOf;
    try {
      const side = full ? Promise.all([loadVerify(), loadCheckpoint()]) : Promise.resolve();
      const [head, regions, countries, recent, timeline] = await Promise.all([
        api('/v1/head'), api(atPoint('/v1/regions')), apiAll(atPoint('/v1/countries')), api(recentPath(asOf)),
        api(atPoint('/v1/timeline?by=year')),
      ]);
      if (gen !== generation) return;
      if (!state.head || head.seq >= state.head.seq) state.head = head;
      state.regions = regions;
      state.countries = countries;
      state.byCode = new Map(countries.map((c) => [c.country, c]));
      state.recent = recent;
      state.timeline = timeline;
      showError(null);
      renderHead();
      const r = showRoute();
      await renderRoute(r, gen);
      renderOverview();
      if (gen !== generation) return;
      $('main').dataset.asOf = asOfKey(asOf);
      $('main').dataset.viewSeq = String(regions.as_of_sequence);
      document.body.dataset.timeline = 'ready';
      document.body.dataset.state = 'ready';
      await side;
      renderPrintSummary();
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
  // The bitemporal control: how far into the log (a sequence) and which dates count (a date),
  // each optional, both together "what the ledger said at N about what had happened by D".
  const form = $('asof');
  const useSeq = $('asof-use-seq');
  const useDate = $('asof-use-date');
  $('asof-seq').addEventListener('input', () => { useSeq.checked = $('asof-seq').value !== ''; });
  $('asof-date').addEventListener('input', () => { useDate.checked = $('asof-date').value !== ''; });
  let rangeTimer = null;
  $('asof-range').addEventListener('input', (ev) => {
    useSeq.checked = true;
    $('asof-seq').value = ev.target.value;
    clearTimeout(rangeTimer);
    rangeTimer = setTimeout(() => applyAsOf(), 250);
  });
  form.addEventListener('submit', (ev) => { ev.preventDefault(); applyAsOf(); });
  $('asof-latest').addEventListener('click', () => {
    useSeq.checked = false;
    useDate.checked = false;
    $('asof-seq').value = '';
    $('asof-date').value = '';
    applyAsOf();
  });
  $('verify-now').addEventListener('click', () => verifyNow());

  function applyAsOf() {
    const note = $('asof-note');
    let seq = null;
    let on = null;
    if (useSeq.checked) {
      const raw = $('asof-seq').value.trim();
      const n = Number(raw);
      const head = state.head ? state.head.seq : 0;
      if (raw === '' || !Number.isInteger(n) || n < 0) { note.textContent = 'Give a sequence number, 0 or more.'; $('asof-seq').focus(); return; }
      seq = Math.min(n, head);
      $('asof-seq').value = String(seq);
      $('asof-range').value = String(seq);
    }
    if (useDate.checked) {
      const d = $('asof-date').value;
      if (!/^\d{4}-\d{2}-\d{2}$/.test(d)) { note.textContent = 'Give a date (YYYY-MM-DD).'; $('asof-date').focus(); return; }
      on = d;
    }
    const next = seq == null && on == null ? null : { seq, on };
    note.textContent = next ? 'Showing the ledger ' + asOfLabel(next) + '.' : 'Showing the ledger as it stands; live.';
    state.asOf = next;
    state.listing.offset = 0;
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
    if (r.page !== 'overview') {
      renderRoute(r, generation).then(() => { window.scrollTo(0, 0); $('main').focus({ preventScroll: true }); }).catch(showError);
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
    const a = state.asOf;
    if (a && a.seq != null) { useSeq.checked = true; $('asof-seq').value = String(a.seq); }
    if (a && a.on) { useDate.checked = true; $('asof-date').value = a.on; }
    form.querySelectorAll('input, button').forEach((el) => { el.disabled = true; });
    $('verify-now').hidden = true;
    $('asof-note').textContent = 'This report is fixed ' + (a ? asOfLabel(a) : 'at the head when it was written') + '.';
    $('foot-text').textContent = 'Report written ' + when(REPORT.generated_at) + ' by ' + (REPORT.generator || 'coopledger') +
      '. Every figure is drawn from the API documents embedded in this file (the JSON of /v1/regions, /v1/countries, /v1/timeline, /v1/entities, /v1/streams, /v1/events, /v1/head, /v1/verify and /v1/checkpoint, and their CSV forms); nothing is fetched.';
  }
  showRoute();
  refresh(true);
})();
