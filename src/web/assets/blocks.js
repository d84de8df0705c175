// BlockNote blocks <-> a small Markdown dialect, so notes can be edited in a plain textarea
// and saved back as BlockNote JSON without losing what the textarea cannot show.
//
// Block: {id, type, props, content: [inline...], children: [block...]}
// Inline text: {type: "text", text, styles: {bold, italic, code, strike, ...}};
// links: {type: "link", href, content: [text...]}.
//
// What maps to Markdown: paragraph, heading (#..###### with props.level), bulletListItem (- x),
// numberedListItem (1. x), checkListItem (- [ ] / - [x]), quote (> x), codeBlock (``` with
// props.language), nested children (indented two spaces), bold/italic/code/strike and links.
// Anything else (images, tables, files, mentions, colours on a changed block...) is kept
// losslessly as a fenced ```blocknote block holding the block's JSON.
//
// Saving keeps identities: if the text is unchanged the original blocks come back as they
// were; an edited document reuses each original block whose Markdown is unchanged verbatim
// (id, props, colours), and otherwise the id and props of the original block at the same
// position when it has the same type. Empty paragraphs are not shown in the textarea.

const SIMPLE = new Set([
  'paragraph', 'heading', 'bulletListItem', 'numberedListItem', 'checkListItem', 'quote', 'codeBlock',
]);
const STYLE_KEYS = new Set(['bold', 'italic', 'code', 'strike']);
const INDENT = '  ';
const FENCE_TYPE = 'blocknote';

function newId() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  return 'b' + Math.random().toString(36).slice(2) + Date.now().toString(36);
}

// ---------- blocks -> markdown ----------

function isText(item) {
  return item && item.type === 'text' && typeof item.text === 'string';
}

function plainStyles(styles) {
  // Only styles Markdown can carry; anything else makes the block "rich".
  return Object.entries(styles || {}).every(([k, v]) => !v || STYLE_KEYS.has(k));
}

function inlineRepresentable(content) {
  if (content === undefined || content === null) return true;
  if (!Array.isArray(content)) return false;
  return content.every((it) => {
    if (isText(it)) return plainStyles(it.styles);
    if (it && it.type === 'link' && typeof it.href === 'string' && Array.isArray(it.content)) {
      return it.content.every((t) => isText(t) && plainStyles(t.styles));
    }
    return false;
  });
}

function blockRepresentable(block) {
  if (!block || typeof block !== 'object' || !SIMPLE.has(block.type)) return false;
  if (!inlineRepresentable(block.content)) return false;
  if (block.type === 'codeBlock') {
    const c = block.content || [];
    return c.every((t) => isText(t) && !Object.values(t.styles || {}).some(Boolean));
  }
  return true;
}

function escapeText(text) {
  return text.replace(/[\\*_`[\]~]/g, (c) => '\\' + c);
}

// Escape what would otherwise start a different block at the beginning of a line.
function escapeLineStarts(md) {
  return md
    .split('\n')
    .map((line) => {
      if (/^(#|>|-|\+|```)/.test(line)) return '\\' + line;
      const m = /^(\d+)([.)])/.exec(line);
      if (m) return m[1] + '\\' + line.slice(m[1].length);
      return line;
    })
    .join('\n');
}

function codeSpan(text) {
  const ticks = (text.match(/`+/g) || []).reduce((n, t) => Math.max(n, t.length), 0);
  const fence = '`'.repeat(ticks + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return fence + pad + text + pad + fence;
}

function textToMd(item) {
  const s = item.styles || {};
  let out = s.code ? codeSpan(item.text) : escapeText(item.text);
  if (s.strike) out = '~~' + out + '~~';
  if (s.italic) out = '_' + out + '_';
  if (s.bold) out = '**' + out + '**';
  return out;
}

function inlineToMd(content) {
  let out = '';
  for (const it of content || []) {
    if (isText(it)) out += textToMd(it);
    else if (it.type === 'link') {
      const href = it.href.replace(/[()\s]/g, (c) => encodeURIComponent(c));
      out += '[' + inlineToMd(it.content) + '](' + href + ')';
    }
  }
  return out;
}

function plainText(content) {
  return (content || []).map((t) => t.text || '').join('');
}

function fenced(block) {
  return '```' + FENCE_TYPE + '\n' + JSON.stringify(block) + '\n```';
}

function indentLines(text, prefix) {
  return text
    .split('\n')
    .map((l) => (l ? prefix + l : l))
    .join('\n');
}

function isEmptyParagraph(block) {
  return (
    block && block.type === 'paragraph' &&
    (!block.content || (Array.isArray(block.content) && plainText(block.content) === '' &&
      block.content.every((t) => isText(t)))) &&
    (!block.children || block.children.length === 0)
  );
}

/** Markdown for one block (and its children), without a trailing newline. */
export function blockToMarkdown(block, number = 1) {
  if (!blockRepresentable(block)) return fenced(block);
  const props = block.props || {};
  let head;
  switch (block.type) {
    case 'paragraph':
      head = escapeLineStarts(inlineToMd(block.content));
      break;
    case 'heading': {
      const level = Math.min(6, Math.max(1, Number(props.level) || 1));
      head = '#'.repeat(level) + ' ' + hardBreaks(inlineToMd(block.content));
      break;
    }
    case 'bulletListItem':
      head = '- ' + hardBreaks(escapeListText(inlineToMd(block.content)));
      break;
    case 'numberedListItem':
      head = number + '. ' + hardBreaks(escapeListText(inlineToMd(block.content)));
      break;
    case 'checkListItem':
      head = (props.checked ? '- [x] ' : '- [ ] ') + hardBreaks(inlineToMd(block.content));
      break;
    case 'quote':
      head = inlineToMd(block.content)
        .split('\n')
        .map((l) => '> ' + l)
        .join('\n');
      break;
    case 'codeBlock': {
      const lang = typeof props.language === 'string' && props.language !== 'text' ? props.language : '';
      const text = plainText(block.content);
      // A fence longer than any run of backticks inside.
      const runs = (text.match(/`{3,}/g) || []).reduce((n, t) => Math.max(n, t.length), 2);
      const fence = '`'.repeat(runs + 1);
      head = fence + lang + '\n' + text + '\n' + fence;
      break;
    }
    default:
      return fenced(block);
  }
  const kids = childrenToMarkdown(block.children || []);
  return kids ? head + '\n' + indentLines(kids, INDENT) : head;
}

// "- [ ] x" written as a bullet's text must not read back as a check list item.
function escapeListText(md) {
  return md.startsWith('\\[') || !md.startsWith('[') ? md : '\\' + md;
}

function hardBreaks(md) {
  return md.split('\n').join('\\\n' + INDENT);
}

function isListType(t) {
  return t === 'bulletListItem' || t === 'numberedListItem' || t === 'checkListItem';
}

function childrenToMarkdown(blocks) {
  let out = '';
  let prev = null;
  let number = 0;
  for (const b of blocks) {
    if (isEmptyParagraph(b)) continue;
    number = b.type === 'numberedListItem' && prev && prev.type === 'numberedListItem' ? number + 1 : 1;
    const md = blockToMarkdown(b, number);
    if (out) out += prev && isListType(prev.type) && prev.type === b.type ? '\n' : '\n\n';
    out += md;
    prev = b;
  }
  return out;
}

/** The whole document as Markdown. Non-array content (any JSON) is not blocks: null. */
export function blocksToMarkdown(blocks) {
  if (blocks === null || blocks === undefined) return '';
  if (!Array.isArray(blocks)) return null;
  return childrenToMarkdown(blocks);
}

// ---------- markdown -> blocks ----------

/** Parse inline Markdown into BlockNote inline content. */
export function parseInline(src) {
  const out = [];
  const styles = { bold: false, italic: false, strike: false };
  let buf = '';
  const flush = () => {
    if (!buf) return;
    const st = {};
    if (styles.bold) st.bold = true;
    if (styles.italic) st.italic = true;
    if (styles.strike) st.strike = true;
    const last = out[out.length - 1];
    if (last && last.type === 'text' && sameStyles(last.styles, st)) last.text += buf;
    else out.push({ type: 'text', text: buf, styles: st });
    buf = '';
  };
  // Is there an unescaped closing marker after position `from`?
  const hasCloser = (marker, from) => {
    for (let j = from; j < src.length; j++) {
      if (src[j] === '\\') { j++; continue; }
      if (src.startsWith(marker, j)) return true;
    }
    return false;
  };
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\' && i + 1 < src.length && /[\\*_`[\]~#>+\-.)!(]/.test(src[i + 1])) {
      buf += src[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      const m = /^`+/.exec(src.slice(i));
      const fence = m[0];
      const end = src.indexOf(fence, i + fence.length);
      if (end !== -1) {
        flush();
        let code = src.slice(i + fence.length, end);
        if (code.length >= 2 && code.startsWith(' ') && code.endsWith(' ') && code.trim()) code = code.slice(1, -1);
        const st = { code: true };
        if (styles.bold) st.bold = true;
        if (styles.italic) st.italic = true;
        if (styles.strike) st.strike = true;
        out.push({ type: 'text', text: code, styles: sortStyles(st) });
        i = end + fence.length;
        continue;
      }
    }
    if (src.startsWith('**', i) && (styles.bold || hasCloser('**', i + 2))) {
      flush();
      styles.bold = !styles.bold;
      i += 2;
      continue;
    }
    if (src.startsWith('~~', i) && (styles.strike || hasCloser('~~', i + 2))) {
      flush();
      styles.strike = !styles.strike;
      i += 2;
      continue;
    }
    if (src.startsWith('**', i) || src.startsWith('~~', i)) { // no partner: literal
      buf += src.slice(i, i + 2);
      i += 2;
      continue;
    }
    // A lone "*" opens before a non-space and closes after one ("2 * 3 * 4" stays text).
    const starOpens = !styles.italic && i + 1 < src.length && !/\s/.test(src[i + 1]) && hasCloser('*', i + 1);
    const starCloses = styles.italic && i > 0 && !/\s/.test(src[i - 1]);
    if (c === '*' && (starOpens || starCloses)) {
      flush();
      styles.italic = !styles.italic;
      i += 1;
      continue;
    }
    if (c === '_') {
      const before = i > 0 ? src[i - 1] : ' ';
      const after = i + 1 < src.length ? src[i + 1] : ' ';
      const opens = !styles.italic && !/[\p{L}\p{N}]/u.test(before) && hasCloser('_', i + 1);
      const closes = styles.italic && !/[\p{L}\p{N}]/u.test(after);
      if (opens || closes) {
        flush();
        styles.italic = !styles.italic;
        i += 1;
        continue;
      }
    }
    if (c === '[') {
      const link = matchLink(src, i);
      if (link) {
        flush();
        out.push({ type: 'link', href: link.href, content: parseInline(link.text).filter(isText) });
        i = link.end;
        continue;
      }
    }
    buf += c;
    i += 1;
  }
  flush();
  return out.map((t) => (t.type === 'text' ? { ...t, styles: sortStyles(t.styles) } : t));
}

function sortStyles(st) {
  const out = {};
  for (const k of ['bold', 'italic', 'strike', 'code']) if (st[k]) out[k] = true;
  return out;
}

function sameStyles(a, b) {
  const ka = Object.keys(a).filter((k) => a[k]).sort().join();
  const kb = Object.keys(b).filter((k) => b[k]).sort().join();
  return ka === kb;
}

function matchLink(src, start) {
  let depth = 0;
  for (let j = start; j < src.length; j++) {
    if (src[j] === '\\') { j++; continue; }
    if (src[j] === '[') depth++;
    else if (src[j] === ']') {
      depth--;
      if (depth === 0) {
        if (src[j + 1] !== '(') return null;
        let close = -1;
        for (let k = j + 2, d = 1; k < src.length && !/\s/.test(src[k]); k++) {
          if (src[k] === '(') d++;
          else if (src[k] === ')' && --d === 0) { close = k; break; }
        }
        if (close === -1) return null;
        const href = decodeHref(src.slice(j + 2, close));
        if (!href) return null;
        return { text: src.slice(start + 1, j), href, end: close + 1 };
      }
    }
  }
  return null;
}

function decodeHref(h) {
  return h.replace(/%2[89]|%20|%09|%0A/gi, (c) => decodeURIComponent(c));
}

const RE = {
  fence: /^(`{3,})\s*([\w+#.-]*)\s*$/,
  heading: /^(#{1,6})\s+(.*)$/,
  check: /^[-*+]\s+\[([ xX])\]\s?(.*)$/,
  bullet: /^[-*+]\s+(.*)$/,
  numbered: /^\d+[.)]\s+(.*)$/,
  quote: /^>\s?(.*)$/,
};

function indentOf(line) {
  return /^ */.exec(line)[0].length;
}

function startsBlock(line) {
  return RE.fence.test(line) || RE.heading.test(line) || RE.check.test(line) || RE.bullet.test(line) ||
    RE.numbered.test(line) || RE.quote.test(line);
}

function block(type, props, content, children = []) {
  return { id: newId(), type, props, content, children };
}

// Join "\"-ended lines (hard breaks) that continue one block's text.
function takeContinued(first, lines, i) {
  let text = first;
  while (/(^|[^\\])(\\\\)*\\$/.test(text) && i < lines.length && lines[i].trim() !== '') {
    text = text.slice(0, -1) + '\n' + lines[i].replace(/^ {0,2}/, '');
    i++;
  }
  return { text, i };
}

function parseLines(lines) {
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') { i++; continue; }
    // Lines indented deeper than this level with no parent: treat as their own level.
    if (indentOf(line) >= 2 && blocks.length === 0) {
      const { child, next } = gatherChildren(lines, i);
      blocks.push(...parseLines(child));
      i = next;
      continue;
    }
    let b;
    let m;
    if ((m = RE.fence.exec(line))) {
      const fence = m[1];
      const lang = m[2];
      const body = [];
      i++;
      while (i < lines.length && !(lines[i].startsWith(fence) && lines[i].trim() === lines[i].trim().replace(/[^`]/g, '') && lines[i].trim().length >= fence.length)) {
        body.push(lines[i]);
        i++;
      }
      i++; // closing fence (or end of text)
      const text = body.join('\n');
      if (lang === FENCE_TYPE) {
        try {
          const parsed = JSON.parse(text);
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && typeof parsed.type === 'string') {
            blocks.push(parsed);
            continue;
          }
        } catch {
          // Not valid JSON any more: keep the text as a code block so nothing is lost.
        }
      }
      b = block('codeBlock', { language: lang || 'text' }, text ? [{ type: 'text', text, styles: {} }] : []);
    } else if ((m = RE.heading.exec(line))) {
      const r = takeContinued(m[2], lines, i + 1);
      i = r.i;
      b = block('heading', { level: m[1].length }, parseInline(r.text));
    } else if ((m = RE.check.exec(line))) {
      const r = takeContinued(m[2], lines, i + 1);
      i = r.i;
      b = block('checkListItem', { checked: m[1] !== ' ' }, parseInline(r.text));
    } else if ((m = RE.bullet.exec(line))) {
      const r = takeContinued(m[1], lines, i + 1);
      i = r.i;
      b = block('bulletListItem', {}, parseInline(r.text));
    } else if ((m = RE.numbered.exec(line))) {
      const r = takeContinued(m[1], lines, i + 1);
      i = r.i;
      b = block('numberedListItem', {}, parseInline(r.text));
    } else if ((m = RE.quote.exec(line))) {
      const parts = [m[1]];
      i++;
      while (i < lines.length && (m = RE.quote.exec(lines[i]))) {
        parts.push(m[1]);
        i++;
      }
      b = block('quote', {}, parseInline(parts.join('\n')));
    } else {
      const parts = [line];
      i++;
      while (i < lines.length && lines[i].trim() !== '' && indentOf(lines[i]) < 2 && !startsBlock(lines[i])) {
        parts.push(lines[i]);
        i++;
      }
      b = block('paragraph', {}, parseInline(parts.join('\n')));
    }
    const { child, next } = gatherChildren(lines, i);
    if (child.length) {
      b.children = parseLines(child);
      i = next;
    }
    blocks.push(b);
  }
  return blocks;
}

// Lines indented by at least two spaces after a block (blank lines allowed between them)
// are its children, dedented by two.
function gatherChildren(lines, i) {
  const child = [];
  let j = i;
  let last = i;
  while (j < lines.length) {
    const l = lines[j];
    if (l.trim() === '') { child.push(''); j++; continue; }
    if (indentOf(l) < 2) break;
    child.push(l.slice(2));
    j++;
    last = j;
  }
  // Trailing blank lines belong to whatever follows.
  child.length = child.length - (j - last);
  return { child, next: last };
}

/** Parse Markdown into fresh blocks (no identity matching). */
export function parseMarkdown(md) {
  return parseLines(md.replace(/\r\n?/g, '\n').split('\n'));
}

// ---------- keeping identities ----------

function reconcile(fresh, originals) {
  const orig = (originals || []).filter((b) => !isEmptyParagraph(b));
  const used = new Set();
  const byMd = new Map();
  orig.forEach((b, idx) => {
    const key = blockToMarkdown(b);
    if (!byMd.has(key)) byMd.set(key, []);
    byMd.get(key).push(idx);
  });
  return fresh.map((b, pos) => {
    const key = blockToMarkdown(b);
    const same = (byMd.get(key) || []).filter((idx) => !used.has(idx));
    if (same.length) {
      const idx = same.includes(pos) ? pos : same[0];
      used.add(idx);
      return orig[idx];
    }
    const o = orig[pos];
    if (o && !used.has(pos) && o.type === b.type && blockRepresentable(o)) {
      used.add(pos);
      return {
        ...b,
        id: o.id,
        props: { ...(o.props || {}), ...b.props },
        children: reconcile(b.children || [], o.children || []),
      };
    }
    return b;
  });
}

/**
 * Markdown back to BlockNote blocks, reusing `original` blocks where the text allows.
 * Unchanged text returns `original` itself.
 */
export function markdownToBlocks(md, original = []) {
  const orig = Array.isArray(original) ? original : [];
  if (md === blocksToMarkdown(orig)) return orig;
  return reconcile(parseMarkdown(md), orig);
}

/** A short plain-text excerpt of blocks (for lists). */
export function excerpt(blocks, max = 140) {
  const parts = [];
  const walk = (bs) => {
    for (const b of bs || []) {
      if (Array.isArray(b.content)) {
        parts.push(b.content.map((t) => t.text || (t.content || []).map((x) => x.text || '').join('')).join(''));
      }
      walk(b.children);
    }
  };
  if (Array.isArray(blocks)) walk(blocks);
  const s = parts.filter(Boolean).join(' ');
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}
