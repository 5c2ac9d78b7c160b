// coopledger dashboard: recording events without writing JSON. Served only by `coopledger
// serve` (never in a report), and shown only to a staff token.
//
// The form is built from the API's own OpenAPI document (its components are the staff form's
// JSON Schemas, `coopledger schema --json`): one form per event type, country pickers, date
// pickers, allowed values as choices. Nothing is checked here but that required fields are
// given: every other problem comes from POST /v1/events/check, the same validation and
// contextual rules as an append, and is shown next to its field before anything is written.
// `window.coopledgerForms.entityActions(stream, container)` adds "Correct this" and "Retract"
// for an entity's current fact: the country page calls it, entity pages get it through their
// `coopledger:entity` event.
'use strict';
(function () {
  // The form's own token: a reader's token (the page's) is never probed for a role, so a reader
  // never gets a 403 in the console for a form they cannot use.
  const TOKEN_KEY = 'coopledger.staff_token';
  const RECORDER_KEY = 'coopledger.recorded_by';
  const ENVELOPE = ['type', 'event_id', 'recorded_by', 'source', 'expected_version', 'correlation_id', 'causation_id'];
  const RECORDED = ['seq', 'event_id', 'stream', 'version', 'recorded_at', 'hash', 'prev_hash', 'type', 'recorded_by', 'source', 'correlation_id', 'causation_id'];
  // The fact that says what an entity is (as `coopledger amend` chooses it).
  const DEFINING = {
    meeting: ['MeetingHeld'],
    activity: ['ActivityDelivered', 'ActivityScheduled'],
    case: ['CaseOpened'],
    country: ['CountryJoined'],
    partner: ['PartnerRegistered'],
  };
  // Ids that name a new entity: a fresh one is proposed.
  const NEW_ENTITY = { MeetingHeld: 'meeting_id', ActivityScheduled: 'activity_id', ActivityDelivered: 'activity_id', CaseOpened: 'case_id' };
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  const human = (s) => String(s || '').replace(/_/g, ' ');
  const cap = (s) => { s = human(s); return s.charAt(0).toUpperCase() + s.slice(1); };
  const words = (name) => String(name).replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  const basePath = (field) => String(field || '').replace(/\[[^\]]*\]/g, '');

  // A DOM element; children are nodes or text (never HTML).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  // ------------------------------------------------------------------ token and role
  let token = '';
  try { token = sessionStorage.getItem(TOKEN_KEY) || ''; } catch (_) { /* storage may be off */ }
  let role = null; // 'staff' once POST /v1/events/check accepts the token
  const pending = []; // entity actions asked for before the role was known

  async function call(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, { method, headers, body, cache: 'no-store' });
    let json = null;
    try { json = await res.json(); } catch (_) { /* not JSON */ }
    return { status: res.status, ok: res.ok, body: json };
  }

  // A staff token may check an empty submission; a reader's is refused (403).
  async function probe() {
    if (!token) { setRole(null); return; }
    let answer = null;
    try { answer = await call('POST', '/v1/events/check', '[]'); } catch (_) { answer = null; }
    setRole(answer && answer.ok ? 'staff' : (answer && answer.status === 403 ? 'reader' : null));
  }

  function setRole(r) {
    role = r;
    document.body.dataset.staff = r === 'staff' ? 'yes' : 'no';
    renderHeader();
    if (r === 'staff') {
      pending.splice(0).forEach(([stream, container]) => { if (container.isConnected) entityActions(stream, container); });
    } else {
      document.querySelectorAll('.entity-actions').forEach((n) => n.remove());
      const dialog = document.getElementById('record-dialog');
      if (dialog) dialog.remove();
    }
  }

  // ------------------------------------------------------------------ header
  function renderHeader() {
    let bar = document.getElementById('staff-bar');
    if (!bar) {
      bar = el('div', { id: 'staff-bar', class: 'staff-bar' });
      const live = document.getElementById('live');
      if (live && live.parentNode) live.parentNode.insertBefore(bar, live);
      else document.body.prepend(bar);
    }
    bar.replaceChildren();
    if (role === 'staff') {
      bar.append(el('button', { type: 'button', class: 'btn primary', id: 'record-open', onclick: () => openRecord() }, 'Record an event'));
    } else {
      bar.append(el('button', { type: 'button', class: 'btn staff-signin', id: 'staff-signin', onclick: signIn }, 'Staff sign-in'));
      if (role === 'reader') bar.append(el('span', { class: 'staff-note', id: 'staff-note', title: 'This token may read but not record events' }, 'read-only'));
    }
  }

  function signIn() {
    const dialog = freshDialog('signin-dialog', 'Staff sign-in');
    const input = el('input', { id: 'signin-token', type: 'password', required: true, spellcheck: 'false', autocomplete: 'off' });
    const note = el('p', { class: 'form-errors', role: 'alert', id: 'signin-note' });
    const form = el('form', {
      class: 'record-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        token = input.value.trim();
        try { sessionStorage.setItem(TOKEN_KEY, token); } catch (_) { /* ignore */ }
        await probe();
        if (role === 'staff') dialog.close();
        else note.textContent = role === 'reader' ? 'That token may read but not record.' : 'That token was not accepted.';
      },
    },
    el('p', { class: 'muted' }, 'A staff token records events; it is kept in this tab only.'),
    el('label', { for: 'signin-token' }, 'Staff token'), input, note,
    el('div', { class: 'form-buttons' },
      el('button', { type: 'submit', class: 'btn primary' }, 'Sign in'),
      el('button', { type: 'button', class: 'btn', onclick: () => dialog.close() }, 'Cancel')));
    dialog.append(form);
    dialog.showModal();
    input.focus();
  }

  function freshDialog(id, title) {
    const old = document.getElementById(id);
    if (old) old.remove();
    const dialog = el('dialog', { id, class: 'record', 'aria-labelledby': id + '-title' },
      el('h2', { id: id + '-title' }, title));
    document.body.append(dialog);
    return dialog;
  }

  // ------------------------------------------------------------------ schemas
  let schemasPromise = null;
  function loadSchemas() {
    if (!schemasPromise) {
      schemasPromise = fetch('/v1/openapi.json', { cache: 'no-store' })
        .then((r) => r.json())
        .then((doc) => doc.components.schemas);
    }
    return schemasPromise;
  }

  function resolve(schemas, s) {
    while (s && s.$ref) s = schemas[s.$ref.split('/').pop()];
    return s || {};
  }

  function eventTypes(schemas) {
    return (schemas.NewEvent.oneOf || []).map((r) => r.$ref.split('/').pop());
  }

  // ------------------------------------------------------------------ controls
  // Each control has .node, .get() (the JSON value, or undefined when left empty), .set(v),
  // .error(text) and .clear(); .find(path) is the control of a field path inside it.
  let uid = 0;
  const nextId = (path) => 'f-' + path.replace(/[^a-z0-9]+/gi, '-') + '-' + (++uid);

  function field(path, label, about, required, input, extra) {
    const id = input.id || (input.id = nextId(path));
    const error = el('p', { class: 'field-error', id: id + '-error', 'data-field': path, hidden: true });
    const hint = about && about !== label ? el('small', { class: 'hint', id: id + '-hint' }, about) : null;
    input.setAttribute('aria-describedby', [hint && hint.id, error.id].filter(Boolean).join(' '));
    const node = el('div', { class: 'form-field', 'data-path': path },
      el('label', { for: id }, label, required ? el('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null),
      input, extra || null, hint, error);
    return {
      node,
      error(text) { error.hidden = false; error.textContent = text; input.setAttribute('aria-invalid', 'true'); node.classList.add('invalid'); },
      clear() { error.hidden = true; error.textContent = ''; input.removeAttribute('aria-invalid'); node.classList.remove('invalid'); },
    };
  }

  function textControl(path, label, s, required) {
    const long = (s.maxLength || 0) > 300;
    const input = long ? el('textarea', { rows: 3, maxlength: s.maxLength, name: path })
      : el('input', { type: 'text', maxlength: s.maxLength, name: path, spellcheck: 'true' });
    const f = field(path, label, s.description, required, input);
    return Object.assign(f, {
      get() { const v = input.value.trim(); return v === '' ? undefined : v; },
      set(v) { input.value = v === undefined || v === null ? '' : String(v); },
      find(p) { return p === path ? this : null; },
    });
  }

  function dateControl(path, label, s, required) {
    const input = el('input', { type: 'date', min: '2000-01-01', name: path });
    const f = field(path, label, s.description, required, input);
    return Object.assign(f, {
      get() { return input.value || undefined; },
      set(v) { input.value = v || ''; },
      find(p) { return p === path ? this : null; },
    });
  }

  function numberControl(path, label, s, required) {
    const integer = s.type === 'integer';
    const input = el('input', { type: 'number', name: path, min: s.minimum, max: s.maximum, step: integer ? 1 : 'any', inputmode: integer ? 'numeric' : 'decimal' });
    const f = field(path, label, s.description, required, input);
    return Object.assign(f, {
      get() { if (input.value === '') return undefined; const n = Number(input.value); return Number.isFinite(n) ? n : input.value; },
      set(v) { input.value = v === undefined || v === null ? '' : String(v); },
      find(p) { return p === path ? this : null; },
    });
  }

  function selectControl(path, label, s, required, options) {
    const input = el('select', { name: path },
      el('option', { value: '' }, required ? 'Choose…' : '(none)'),
      options.map(([value, text]) => el('option', { value }, text)));
    const f = field(path, label, s.description, required, input);
    return Object.assign(f, {
      input,
      get() { return input.value || undefined; },
      set(v) { input.value = v || ''; },
      find(p) { return p === path ? this : null; },
    });
  }

  function countryOptions(schemas) {
    const cc = schemas.CountryCode;
    const names = cc['x-names'] || {};
    return (cc.enum || []).map((c) => [c, c + ' — ' + (names[c] || c)]);
  }

  // A list of distinct countries: chosen one by one, shown as removable chips.
  function countriesControl(path, label, s, required, schemas) {
    let chosen = [];
    const chips = el('ul', { class: 'chips', 'aria-label': label + ': chosen' });
    const adder = el('select', { name: path, 'aria-label': 'Add a country to ' + label },
      el('option', { value: '' }, 'Add a country…'),
      countryOptions(schemas).map(([value, text]) => el('option', { value }, text)));
    const draw = () => {
      chips.replaceChildren(...chosen.map((c) => el('li', { class: 'chip-item', 'data-code': c }, c,
        el('button', { type: 'button', class: 'chip-x', 'aria-label': 'Remove ' + c, onclick: () => { chosen = chosen.filter((x) => x !== c); draw(); } }, '×'))));
    };
    adder.addEventListener('change', () => {
      if (adder.value && !chosen.includes(adder.value)) chosen.push(adder.value);
      adder.value = '';
      draw();
    });
    const f = field(path, label, s.description, required, adder, chips);
    return Object.assign(f, {
      get() { return chosen.length ? chosen.slice() : (required ? undefined : undefined); },
      set(v) { chosen = Array.isArray(v) ? v.slice() : []; draw(); },
      find(p) { return p === path ? this : null; },
    });
  }

  function choicesControl(path, label, s, required) {
    const values = (s.items && s.items.enum) || [];
    const boxes = values.map((v) => el('label', { class: 'check' }, el('input', { type: 'checkbox', value: v, name: path }), ' ' + human(v)));
    const group = el('div', { class: 'checks', role: 'group', id: nextId(path), 'aria-label': label }, boxes);
    const f = field(path, label, s.description, required, group);
    const inputs = () => Array.from(group.querySelectorAll('input'));
    return Object.assign(f, {
      get() { const v = inputs().filter((i) => i.checked).map((i) => i.value); return v.length ? v : undefined; },
      set(v) { inputs().forEach((i) => { i.checked = Array.isArray(v) && v.includes(i.value); }); },
      find(p) { return p === path ? this : null; },
    });
  }

  function objectControl(path, label, s, required, schemas) {
    const props = s.properties || {};
    const need = new Set(s.required || []);
    const children = Object.entries(props).map(([name, sub]) => control(path ? path + '.' + name : name, name, sub, need.has(name), schemas));
    const error = el('p', { class: 'field-error', 'data-field': path, hidden: true });
    const node = label ? el('fieldset', { class: 'form-group', 'data-path': path }, el('legend', {}, cap(label), required ? el('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null), children.map((c) => c.node), error)
      : el('div', { class: 'form-group' }, children.map((c) => c.node));
    return {
      node,
      children,
      get() {
        const out = {};
        let any = false;
        for (const [i, name] of Object.keys(props).entries()) {
          const v = children[i].get();
          if (v !== undefined) { out[name] = v; any = true; }
        }
        return any ? out : undefined;
      },
      set(v) { Object.keys(props).forEach((name, i) => children[i].set(v ? v[name] : undefined)); },
      error(text) { error.hidden = false; error.textContent = text; node.classList.add('invalid'); },
      clear() { error.hidden = true; node.classList.remove('invalid'); children.forEach((c) => c.clear()); },
      find(p) {
        if (p === path) return this;
        for (const c of children) { const found = c.find(p); if (found) return found; }
        return null;
      },
      missing() { return missingIn(this, s, path); },
    };
  }

  // A place (city and country) or "virtual".
  function venueControl(path, label, s, required, schemas) {
    const place = resolve(schemas, (s.oneOf || []).find((b) => b.type === 'object'));
    const inner = objectControl(path, '', place, true, schemas);
    const online = el('input', { type: 'checkbox', id: nextId(path + '-virtual'), name: path + '.virtual' });
    const toggle = () => { inner.node.hidden = online.checked; };
    online.addEventListener('change', toggle);
    const error = el('p', { class: 'field-error', 'data-field': path, hidden: true });
    const node = el('fieldset', { class: 'form-group', 'data-path': path }, el('legend', {}, cap(label), el('span', { class: 'req', 'aria-hidden': 'true' }, ' *')),
      el('label', { class: 'check', for: online.id }, online, ' Online (virtual)'), inner.node, error);
    return {
      node,
      get() { return online.checked ? 'virtual' : inner.get(); },
      set(v) { online.checked = v === 'virtual'; inner.set(v === 'virtual' ? undefined : v); toggle(); },
      error(text) { error.hidden = false; error.textContent = text; },
      clear() { error.hidden = true; inner.clear(); },
      find(p) { return p === path ? this : inner.find(p); },
      missing() { return online.checked ? [] : missingIn(inner, place, path); },
    };
  }

  // An object tagged by kind (a case milestone): the kind's own fields.
  function taggedControl(path, label, s, required, schemas) {
    const branches = (s.oneOf || []).map((b) => resolve(schemas, b));
    const kinds = branches.map((b) => b.properties.kind.const);
    const kind = selectControl(path + '.kind', 'kind', { description: 'the kind of ' + human(label) }, true, kinds.map((k) => [k, human(k)]));
    const holder = el('div', { class: 'form-group' });
    let current = null;
    const show = () => {
      const i = kinds.indexOf(kind.input.value);
      if (i < 0) { current = null; holder.replaceChildren(); return; }
      const b = branches[i];
      const fields = Object.assign({}, b, { properties: Object.fromEntries(Object.entries(b.properties).filter(([n]) => n !== 'kind')), required: (b.required || []).filter((n) => n !== 'kind') });
      current = objectControl(path, '', fields, true, schemas);
      current.schema = fields;
      holder.replaceChildren(current.node);
    };
    kind.input.addEventListener('change', show);
    const error = el('p', { class: 'field-error', 'data-field': path, hidden: true });
    const node = el('fieldset', { class: 'form-group', 'data-path': path }, el('legend', {}, cap(label), el('span', { class: 'req', 'aria-hidden': 'true' }, ' *')), kind.node, holder, error);
    return {
      node,
      get() { const k = kind.get(); if (!k) return undefined; return Object.assign({ kind: k }, current ? current.get() : {}); },
      set(v) { kind.set(v && v.kind); show(); if (current && v) current.set(v); },
      error(text) { error.hidden = false; error.textContent = text; },
      clear() { error.hidden = true; kind.clear(); if (current) current.clear(); },
      find(p) { if (p === path) return this; return kind.find(p) || (current && current.find(p)); },
      missing() { if (!kind.get()) return [path + '.kind']; return current ? missingIn(current, current.schema, path) : []; },
    };
  }

  function idControl(path, label, s, required) {
    const input = el('input', { type: 'text', name: path, spellcheck: 'false', autocomplete: 'off', pattern: s.pattern, class: 'mono', size: 38 });
    const f = field(path, label, s.description, required, input);
    return Object.assign(f, {
      input,
      get() { const v = input.value.trim(); return v === '' ? undefined : v; },
      set(v) { input.value = v || ''; },
      find(p) { return p === path ? this : null; },
    });
  }

  function control(path, name, raw, required, schemas) {
    const s = resolve(schemas, raw);
    const label = human(name);
    if (raw && raw.$ref && raw.$ref.endsWith('/CountryCode')) return selectControl(path, label, { description: raw.description }, required, countryOptions(schemas));
    if (raw && raw.$ref && raw.$ref.endsWith('/CurrencyCode')) return selectControl(path, label, { description: raw.description }, required, (s.enum || []).map((c) => [c, c]));
    if (s.oneOf && s.oneOf.some((b) => b.const === 'virtual')) return venueControl(path, name, s, required, schemas);
    if (s.oneOf && s.oneOf.every((b) => resolve(schemas, b).properties && resolve(schemas, b).properties.kind)) return taggedControl(path, name, s, required, schemas);
    if (s.type === 'object') return objectControl(path, name, s, required, schemas);
    if (s.type === 'array' && s.items && s.items.$ref) return countriesControl(path, label, s, required, schemas);
    if (s.type === 'array') return choicesControl(path, label, s, required);
    if (s.type === 'string' && s.enum) return selectControl(path, label, s, required, s.enum.map((v) => [v, human(v)]));
    if (s.format === 'date') return dateControl(path, label, s, required);
    if (s.format === 'uuid') return idControl(path, label, s, required);
    if (s.type === 'integer' || s.type === 'number') return numberControl(path, label, s, required);
    return textControl(path, label, s, required);
  }

  // Required fields left empty, by path (the only thing the form checks itself).
  function missingIn(group, s, path) {
    const out = [];
    for (const name of s.required || []) {
      const p = path ? path + '.' + name : name;
      const c = group.find(p);
      if (!c) continue;
      if (c.missing) out.push(...c.missing());
      else if (c.get() === undefined) out.push(p);
    }
    return out;
  }

  // ------------------------------------------------------------------ the form
  // mode: {kind: 'record'} | {kind: 'correct', target, type, payload, stream} | {kind: 'retract', target, type, stream}
  async function openRecord(mode) {
    if (role !== 'staff') return;
    mode = mode || { kind: 'record' };
    const schemas = await loadSchemas();
    const title = mode.kind === 'correct' ? 'Correct this ' + words(mode.type) : mode.kind === 'retract' ? 'Retract this ' + words(mode.type) : 'Record an event';
    const dialog = freshDialog('record-dialog', title);
    const errors = el('div', { class: 'form-errors', id: 'form-errors', role: 'alert' });
    const done = el('div', { class: 'form-done', id: 'form-done', role: 'status' });
    const body = el('div', { id: 'form-fields' });
    let form = null;
    let payload = null;
    let extra = {};

    const recorder = textControl('recorded_by', 'recorded by', resolve(schemas, schemas.CountryJoined.properties.recorded_by), true);
    try { recorder.set(localStorage.getItem(RECORDER_KEY) || ''); } catch (_) { /* ignore */ }
    const source = textControl('source', 'source', resolve(schemas, schemas.CountryJoined.properties.source), false);

    const typeSelect = selectControl('type', 'type of event', { description: 'what happened' }, true,
      eventTypes(schemas).filter((t) => t !== 'EventCorrected' && t !== 'EventRetracted').map((t) => [t, cap(words(t))]));
    typeSelect.input.id = 'record-type';
    const build = (type) => {
      const s = schemas[type];
      const props = Object.fromEntries(Object.entries(s.properties).filter(([n]) => !ENVELOPE.includes(n)));
      payload = objectControl('', '', Object.assign({}, s, { properties: props, required: (s.required || []).filter((n) => !ENVELOPE.includes(n)) }), true, schemas);
      payload.schema = { properties: props, required: (s.required || []).filter((n) => !ENVELOPE.includes(n)) };
      const newId = NEW_ENTITY[type];
      if (newId && mode.kind === 'record') payload.find(newId).set(crypto.randomUUID());
      body.replaceChildren(payload.node);
    };
    if (mode.kind === 'record') {
      typeSelect.input.addEventListener('change', () => { if (typeSelect.get()) build(typeSelect.get()); else body.replaceChildren(); });
    }
    if (mode.kind === 'correct') {
      build(mode.type);
      payload.set(mode.payload);
      // The entity stays the target's.
      ['activity_id', 'meeting_id', 'case_id', 'country', 'partner'].forEach((n) => { const c = payload.find(n); if (c && c.input) c.input.readOnly = true; });
      extra.reason = textControl('reason', 'why this correction', resolve(schemas, schemas.EventCorrected.properties.reason), true);
    }
    if (mode.kind === 'retract') {
      const r = schemas.EventRetracted.properties;
      extra.reason = selectControl('reason', 'why', resolve(schemas, r.reason), true, resolve(schemas, r.reason).enum.map((v) => [v, human(v)]));
      extra.duplicate_of = idControl('duplicate_of', 'duplicate of', resolve(schemas, r.duplicate_of), false);
    }

    const object = () => {
      const base = { recorded_by: recorder.get(), source: source.get() };
      if (mode.kind === 'record') return Object.assign({ type: typeSelect.get() }, payload ? payload.get() : {}, base);
      if (mode.kind === 'correct') return Object.assign({ type: 'EventCorrected', target: mode.target, replacement: payload.get() || {}, reason: extra.reason.get() }, base);
      return Object.assign({ type: 'EventRetracted', target: mode.target, reason: extra.reason.get(), duplicate_of: extra.duplicate_of.get() }, base);
    };
    const controls = () => [recorder, source, payload, ...Object.values(extra)].filter(Boolean);
    const locate = (fieldPath) => {
      let p = basePath(fieldPath);
      if (mode.kind === 'correct' && p.startsWith('replacement.')) p = p.slice('replacement.'.length);
      for (const c of controls()) { const found = c.find(p); if (found) return found; }
      return null;
    };
    const clearAll = () => { errors.replaceChildren(); controls().forEach((c) => c.clear()); if (mode.kind === 'record') typeSelect.clear(); };
    const show = (violations) => {
      const general = [];
      for (const v of violations) {
        const text = v.rule + (v.value ? ': ' + v.value : '');
        const c = locate(v.field);
        if (c) c.error(text); else general.push((v.field ? v.field + ': ' : '') + text);
      }
      errors.replaceChildren(...general.map((t) => el('p', {}, t)));
      const first = dialog.querySelector('[aria-invalid="true"], .invalid');
      if (first) first.scrollIntoView({ block: 'center' });
    };
    const missing = () => {
      const out = [];
      if (mode.kind === 'record' && !typeSelect.get()) out.push({ field: 'type', rule: 'missing_field', value: 'choose the type of event' });
      for (const c of controls()) {
        if (c.missing) c.missing().forEach((p) => out.push({ field: p, rule: 'missing_field', value: 'required' }));
        else if (c.get() === undefined && (c === recorder || (extra.reason && c === extra.reason))) out.push({ field: c === recorder ? 'recorded_by' : 'reason', rule: 'missing_field', value: 'required' });
      }
      return out;
    };
    const locateType = (f) => (f === 'type' ? typeSelect : null);

    async function submit(write) {
      clearAll();
      done.replaceChildren();
      const absent = missing();
      if (absent.length) {
        for (const v of absent) { const c = locateType(v.field) || locate(v.field); if (c) c.error(v.rule + ': ' + v.value); }
        errors.replaceChildren(el('p', {}, absent.length + ' required field' + (absent.length > 1 ? 's are' : ' is') + ' empty; nothing was recorded.'));
        return;
      }
      const obj = object();
      try { if (obj.recorded_by) localStorage.setItem(RECORDER_KEY, obj.recorded_by); } catch (_) { /* ignore */ }
      const text = JSON.stringify(obj);
      const checked = await call('POST', '/v1/events/check', text);
      if (!checked.ok) {
        show((checked.body && checked.body.violations) || [{ field: '', rule: 'error', value: (checked.body && checked.body.message) || 'HTTP ' + checked.status }]);
        const n = ((checked.body && checked.body.violations) || []).length;
        errors.prepend(el('p', { class: 'summary' }, (n ? n + ' problem' + (n > 1 ? 's' : '') : 'A problem') + ' to fix; nothing was recorded.'));
        return;
      }
      if (!write) { done.replaceChildren(el('p', {}, 'No problems found; nothing was recorded yet.')); return; }
      const appended = await call('POST', '/v1/events', text);
      if (!appended.ok) { show((appended.body && appended.body.violations) || [{ field: '', rule: 'error', value: (appended.body && appended.body.message) || 'HTTP ' + appended.status }]); return; }
      const receipt = Array.isArray(appended.body) ? appended.body[0] : appended.body;
      const seq = receipt && receipt.seq;
      form.hidden = true;
      done.replaceChildren(
        el('p', { class: 'confirmation', id: 'record-confirmation', 'data-seq': seq, 'data-event-id': receipt && receipt.event_id }, confirmation(obj, seq, mode.type)),
        el('div', { class: 'form-buttons' },
          mode.kind === 'record' ? el('button', { type: 'button', class: 'btn', onclick: () => openRecord() }, 'Record another') : null,
          el('button', { type: 'button', class: 'btn primary', onclick: () => dialog.close() }, 'Close')));
      document.dispatchEvent(new CustomEvent('coopledger:recorded', { detail: receipt }));
    }

    form = el('form', { class: 'record-form', id: 'record-form', novalidate: true, onsubmit: (ev) => { ev.preventDefault(); submit(true).catch((e) => errors.replaceChildren(el('p', {}, String(e)))); } },
      mode.kind === 'record' ? typeSelect.node : el('p', { class: 'muted' }, 'Event ' + mode.target + ' (' + words(mode.type) + '), ' + mode.stream + '. The log keeps it; ' + (mode.kind === 'correct' ? 'a correction with the full replacement is appended.' : 'a retraction is appended and it counts for nothing from then on.')),
      body,
      Object.values(extra).map((c) => c.node),
      el('fieldset', { class: 'form-group' }, el('legend', {}, 'Recorded by'), recorder.node, source.node),
      errors,
      el('div', { class: 'form-buttons' },
        el('button', { type: 'submit', class: 'btn primary', id: 'record-submit' }, mode.kind === 'correct' ? 'Record the correction' : mode.kind === 'retract' ? 'Record the retraction' : 'Record'),
        el('button', { type: 'button', class: 'btn', id: 'record-check', onclick: () => submit(false).catch((e) => errors.replaceChildren(el('p', {}, String(e)))) }, 'Check only'),
        el('button', { type: 'button', class: 'btn', onclick: () => dialog.close() }, 'Cancel')));
    dialog.append(form, done);
    dialog.showModal();
  }

  // ------------------------------------------------------------------ words
  function day(d) {
    const [y, m, dd] = String(d).split('-').map(Number);
    return { y, m, d: dd };
  }
  function range(a, b) {
    const x = day(a);
    const y = day(b || a);
    if (a === b || !b) return x.d + ' ' + MONTHS[x.m - 1] + ' ' + x.y;
    if (x.y === y.y && x.m === y.m) return x.d + '–' + y.d + ' ' + MONTHS[x.m - 1] + ' ' + x.y;
    if (x.y === y.y) return x.d + ' ' + MONTHS[x.m - 1] + ' – ' + y.d + ' ' + MONTHS[y.m - 1] + ' ' + x.y;
    return range(a, a) + ' – ' + range(b, b);
  }
  const place = (v) => (v === 'virtual' ? 'online' : v && v.city);
  const people = (p) => (p ? p.total + ' participants' + (p.women !== undefined ? ' (' + p.women + ' women)' : '') : null);

  function describe(type, o) {
    switch (type) {
      case 'ActivityDelivered':
      case 'ActivityScheduled':
        return [cap(o.kind), place(o.venue), range(o.start, o.end),
          (o.beneficiaries || []).join(' ') + ((o.other_countries || []).length ? ' + ' + o.other_countries.join(' ') : ''),
          people(o.participants)].filter(Boolean).join(', ') + (type === 'ActivityScheduled' ? ' (scheduled)' : '');
      case 'MeetingHeld':
        return [cap(o.kind), place(o.venue), range(o.start, o.end), (o.countries || []).join(' '), people(o.participants)].filter(Boolean).join(', ');
      case 'CaseOpened':
        return ['Case ' + o.codename + ' (' + human(o.case_type) + ')', (o.countries || []).join(' '), 'lead ' + o.lead, 'opened ' + range(o.opened_on)].join(', ');
      case 'CountryJoined':
        return o.country + ' joined as ' + human(o.participation) + ' on ' + range(o.joined_on);
      case 'ParticipationChanged':
        return o.country + ' ' + human(o.participation) + ' from ' + range(o.changed_on);
      case 'PartnerRegistered':
        return o.name + ' (' + (o.roles || []).map(human).join(', ') + ') from ' + range(o.registered_on);
      case 'CaseMilestoneRecorded':
        return cap(o.milestone && o.milestone.kind) + ' on ' + range(o.on);
      default: {
        const date = ['cancelled_on', 'added_on', 'closed_on'].map((k) => o[k]).find(Boolean);
        return cap(words(type)) + (date ? ' on ' + range(date) : '');
      }
    }
  }

  // `type` is the corrected fact's type, for a correction.
  function confirmation(obj, seq, type) {
    let what;
    if (obj.type === 'EventCorrected') what = 'Corrected: ' + describe(type, obj.replacement);
    else if (obj.type === 'EventRetracted') what = 'Retracted: event ' + obj.target + ' (' + human(obj.reason) + ')';
    else what = 'Recorded: ' + describe(obj.type, obj);
    return what + ' — sequence ' + Number(seq).toLocaleString('en-US');
  }

  // ------------------------------------------------------------------ entity actions
  // The current fact of a stream: its events with corrections applied and retractions removed,
  // then the latest one of the kind that says what the entity is.
  function definingFact(events, stream) {
    const kind = stream.split('/')[0];
    const facts = new Map();
    for (const e of events) {
      if (e.type === 'EventCorrected') { const f = facts.get(e.target); if (f) f.payload = e.replacement; continue; }
      if (e.type === 'EventRetracted') { facts.delete(e.target); continue; }
      const payload = {};
      for (const [k, v] of Object.entries(e)) if (!RECORDED.includes(k)) payload[k] = v;
      facts.set(e.event_id, { event_id: e.event_id, type: e.type, payload });
    }
    const all = Array.from(facts.values());
    for (const t of DEFINING[kind] || []) {
      const found = all.filter((f) => f.type === t).pop();
      if (found) return found;
    }
    return null;
  }

  async function entityActions(stream, container) {
    if (!container) return null;
    const existing = container.querySelector(':scope > .entity-actions');
    if (existing) existing.remove();
    if (role !== 'staff') { pending.push([stream, container]); return null; }
    const answer = await call('GET', '/v1/streams/' + stream);
    if (!answer.ok || !Array.isArray(answer.body)) return null;
    const fact = definingFact(answer.body, stream);
    if (!fact || role !== 'staff' || !container.isConnected) return null;
    const actions = el('div', { class: 'entity-actions', 'data-stream': stream, 'data-target': fact.event_id },
      el('button', { type: 'button', class: 'btn small', 'data-action': 'correct', onclick: () => openRecord({ kind: 'correct', target: fact.event_id, type: fact.type, payload: fact.payload, stream }) }, 'Correct this'),
      el('button', { type: 'button', class: 'btn small', 'data-action': 'retract', onclick: () => openRecord({ kind: 'retract', target: fact.event_id, type: fact.type, stream }) }, 'Retract'));
    container.append(actions);
    return actions;
  }

  window.coopledgerForms = { entityActions, openRecord: () => openRecord() };
  // The dashboard's entity pages announce themselves; their actions go in #entity-actions.
  document.addEventListener('coopledger:entity', (ev) => {
    if (ev.detail && !ev.detail.report) entityActions(ev.detail.stream, document.getElementById('entity-actions'));
  });
  renderHeader();
  probe();
})();
