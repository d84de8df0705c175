// Small DOM helpers shared by the views. Everything user-supplied goes in as text nodes or
// properties (never as HTML), so API data cannot inject markup.

let uid = 0;
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** h('button', {class: 'primary', onclick: fn}, 'Save') */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'for') el.htmlFor = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      // Defaults too, so form.reset() returns to these values.
      else if (k === 'selected') { el.defaultSelected = Boolean(v); el.selected = Boolean(v); }
      else if (k === 'checked') { el.defaultChecked = Boolean(v); el.checked = Boolean(v); }
      else if (k === 'value') {
        if ('defaultValue' in el && el.tagName !== 'SELECT') el.defaultValue = v;
        el.value = v;
      } else if (k === 'indeterminate') el.indeterminate = v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

/**
 * A labelled form control with a place for its error message.
 * type: text|email|password|number|date|time|textarea|select|checkbox ...
 */
export function field(opts) {
  const {
    label, name, type = 'text', value, required, options, hint, autocomplete, placeholder,
    min, max, step, rows, maxlength, list, multiple, inputmode,
  } = opts;
  const id = opts.id || nextId(name);
  const errId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const describedBy = [hintId, errId].filter(Boolean).join(' ');
  let control;
  const common = {
    id, name, required, 'aria-describedby': describedBy, autocomplete, placeholder,
  };
  if (type === 'textarea') {
    control = h('textarea', { ...common, rows: rows || 4, maxlength });
    if (value !== undefined && value !== null) control.value = value;
  } else if (type === 'select') {
    control = h('select', { ...common, multiple },
      (options || []).map((o) => {
        const [v, text] = Array.isArray(o) ? o : [o, o];
        return h('option', { value: v, selected: value !== undefined && String(value) === String(v) }, text);
      }));
  } else if (type === 'checkbox') {
    control = h('input', { ...common, type: 'checkbox', checked: Boolean(value) });
    const wrap = h('div', { class: 'field field-check' },
      control, h('label', { for: id }, label),
      hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
      h('p', { class: 'field-error', id: errId, hidden: true }));
    return wrap;
  } else {
    control = h('input', {
      ...common, type, min, max, step, maxlength, list, inputmode,
      value: value === undefined || value === null ? '' : String(value),
    });
  }
  return h('div', { class: 'field' },
    h('label', { for: id }, label, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null),
    control,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: errId, hidden: true }));
}

/** The form-level error area (announced to screen readers when it appears). */
export function formError() {
  return h('div', { class: 'form-error', role: 'alert', hidden: true });
}

export function clearErrors(form) {
  form.querySelectorAll('.field-error').forEach((p) => {
    p.hidden = true;
    p.textContent = '';
  });
  form.querySelectorAll('[aria-invalid]').forEach((c) => c.removeAttribute('aria-invalid'));
  const box = form.querySelector('.form-error');
  if (box) {
    box.hidden = true;
    box.textContent = '';
  }
}

/**
 * Show an ApiError on a form: each field error next to its control, the problem's detail
 * (and errors for fields the form does not show) at the top. Focus the first bad field.
 */
export function showErrors(form, err) {
  clearErrors(form);
  let first = null;
  const leftover = [];
  for (const fe of err.errors || []) {
    // "llm.provider" may be shown as a control named "llm.provider", "llm_provider" or "llm".
    const f = String(fe.field || '');
    const control = f
      ? [f, f.replace(/[.[\]]+/g, '_').replace(/_$/, ''), f.split('.')[0]]
        .map((n) => form.querySelector(`[name="${CSS.escape(n)}"]`))
        .find(Boolean)
      : null;
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      const p = form.querySelector(`#${CSS.escape(control.id)}-error`);
      if (p) {
        p.textContent = p.textContent ? `${p.textContent}; ${fe.message}` : fe.message;
        p.hidden = false;
      }
      first = first || control;
    } else {
      leftover.push(fe.field ? `${fe.field}: ${fe.message}` : fe.message);
    }
  }
  const box = form.querySelector('.form-error');
  if (box) {
    const parts = [err.detail || err.message];
    if (leftover.length) parts.push(leftover.join('; '));
    box.textContent = parts.filter(Boolean).join(' — ');
    box.hidden = false;
  }
  if (first) first.focus();
  else if (box) box.focus?.();
}

/** Form values as an object (checkboxes as booleans, empty strings kept). */
export function formValues(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === 'checkbox') out[el.name] = el.checked;
    else if (el.tagName === 'SELECT' && el.multiple) out[el.name] = [...el.selectedOptions].map((o) => o.value);
    else out[el.name] = el.value;
  }
  return out;
}

/**
 * Wire a form: on submit, disable its submit button, run `action(values)`, show errors.
 */
export function onSubmit(form, action) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = form.querySelector('[type="submit"]');
    clearErrors(form);
    if (button) button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await action(formValues(form), form);
    } catch (err) {
      if (err && err.name && err.name.endsWith('Error') && 'status' in err) showErrors(form, err);
      else showErrors(form, { detail: err?.message || String(err) });
    } finally {
      if (button) button.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  return form;
}

export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: `toast toast-${kind}` }, message);
  box.appendChild(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

/** The page title (h1), focusable so navigation can move focus to it. */
export function pageHeader(title, ...actions) {
  return h('div', { class: 'page-header' },
    h('h1', { tabindex: '-1' }, title),
    actions.length ? h('div', { class: 'actions' }, actions) : null);
}

/** The friendly message for a feature whose API this server does not have. */
export function unavailable(what) {
  return h('section', { class: 'notice notice-unavailable', role: 'status' },
    h('h2', null, `${what} not available on this server`),
    h('p', null, 'This Cadence server does not offer this part of the API yet. ',
      'Everything else keeps working; this page will work once the server is updated.'));
}

/** Show an error where a list or page would be. Missing routes get the friendly message. */
export function loadError(err, what = 'This page is') {
  if (err && (err.unavailable || err.status === 404)) return unavailable(what);
  return h('div', { class: 'notice notice-error', role: 'alert' },
    h('strong', null, 'Could not load: '), err?.detail || err?.message || String(err));
}

export function badge(text, kind = '') {
  return h('span', { class: `badge ${kind ? `badge-${kind}` : ''}` }, text);
}

export function emptyState(text) {
  return h('p', { class: 'empty' }, text);
}

export function debounce(fn, ms = 250) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const df = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export function fmtDateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dtf.format(d);
}

export function fmtDate(isoDate) {
  if (!isoDate) return '—';
  const d = new Date(/^\d{4}-\d{2}-\d{2}$/.test(isoDate) ? `${isoDate}T00:00:00` : isoDate);
  return Number.isNaN(d.getTime()) ? isoDate : df.format(d);
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.round(Number(ms) / 1000);
  const m = Math.floor(s / 60);
  const r = s % 60;
  return m ? `${m} min ${r} s` : `${r} s`;
}

export function fmtCredits(n) {
  if (n === null || n === undefined) return '—';
  return `${Number(n).toLocaleString()} credits`;
}

export function timeTag(iso, text) {
  return h('time', { datetime: iso || '' }, text ?? fmtDateTime(iso));
}

/** A labelled progress bar (0..100). */
export function progressBar(value, label) {
  const v = Math.max(0, Math.min(100, Number(value) || 0));
  return h('div', { class: 'progress-wrap' },
    h('progress', { max: '100', value: String(v), 'aria-label': label }),
    h('span', { class: 'progress-text' }, `${v}%`));
}

export function humanize(s) {
  return String(s || '').replace(/_/g, ' ');
}

export function definitionList(pairs) {
  return h('dl', { class: 'dl' },
    pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? '—')]));
}

/** Ask before destroying something (native dialog: keyboard- and screen-reader friendly). */
export function confirmAction(message) {
  return window.confirm(message);
}

/** "Load more" button for cursor-paged lists. */
export function moreButton(onClick) {
  return h('button', { type: 'button', class: 'secondary more', onclick: onClick }, 'Load more');
}
