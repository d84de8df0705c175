// The note editor's BlockNote <-> Markdown conversion (src/web/assets/blocks.js), run in Node.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  blocksToMarkdown, markdownToBlocks, parseMarkdown, parseInline,
} from '../../src/web/assets/blocks.js';

const text = (t, styles = {}) => ({ type: 'text', text: t, styles });
const block = (id, type, content, props = {}, children = []) => ({ id, type, props, content, children });

test('the contract example paragraph round-trips exactly', () => {
  const doc = [block('a1', 'paragraph', [text('Hello world')])];
  const md = blocksToMarkdown(doc);
  assert.equal(md, 'Hello world');
  assert.equal(markdownToBlocks(md, doc), doc, 'unchanged text returns the original blocks');
});

test('every supported block type survives Markdown and back', () => {
  const doc = [
    block('h', 'heading', [text('Plan')], { level: 2, textColor: 'default' }),
    block('p', 'paragraph', [text('Mix '), text('bold', { bold: true }), text(' and '), text('code', { code: true }),
      text(' and '), text('gone', { strike: true }), text(' '), text('it', { italic: true }),
      { type: 'link', href: 'https://example.com/a_(b)', content: [text('a link')] }]),
    block('b1', 'bulletListItem', [text('one')], {}, [block('b1a', 'bulletListItem', [text('nested')])]),
    block('b2', 'bulletListItem', [text('two')]),
    block('n1', 'numberedListItem', [text('first')]),
    block('n2', 'numberedListItem', [text('second')]),
    block('c1', 'checkListItem', [text('todo')], { checked: false }),
    block('c2', 'checkListItem', [text('done')], { checked: true }),
    block('q', 'quote', [text('line one\nline two')]),
    block('code', 'codeBlock', [text('fn main() {\n\n    println!("```");\n}')], { language: 'rust' }),
  ];
  const md = blocksToMarkdown(doc);
  const fresh = parseMarkdown(md);
  const strip = (bs) => bs.map((b) => ({ type: b.type, content: b.content, children: strip(b.children || []) }));
  assert.deepEqual(strip(fresh), strip(doc));
  assert.equal(fresh[0].props.level, 2);
  assert.equal(fresh[7].props.checked, true);
  assert.equal(fresh[9].props.language, 'rust');
  assert.equal(blocksToMarkdown(fresh), md, 'Markdown is stable');
});

test('text that looks like Markdown is escaped, not reinterpreted', () => {
  const doc = [
    block('x', 'paragraph', [text('# not a heading, 2 * 3 * 4, snake_case_name, [not](a link)')]),
    block('y', 'paragraph', [text('- not a list')]),
    block('z', 'paragraph', [text('1. not numbered')]),
    block('w', 'bulletListItem', [text('[ ] not a check box')]),
  ];
  const back = parseMarkdown(blocksToMarkdown(doc));
  assert.deepEqual(back.map((b) => [b.type, b.content]), doc.map((b) => [b.type, b.content]));
});

test('blocks Markdown cannot show are kept whole (images, tables, colours on an edit)', () => {
  const image = { id: 'img', type: 'image', props: { url: 'https://example.com/x.png', caption: 'x' }, children: [] };
  const table = {
    id: 'tbl', type: 'table', props: {},
    content: { type: 'tableContent', rows: [{ cells: [[text('a')], [text('b')]] }] }, children: [],
  };
  const coloured = block('col', 'paragraph', [text('red', { textColor: 'red' })]);
  const doc = [block('p', 'paragraph', [text('Before')]), image, table, coloured];
  const md = blocksToMarkdown(doc);
  assert.match(md, /```blocknote\n\{"id":"img"/);
  const edited = markdownToBlocks(md.replace('Before', 'Before, edited'), doc);
  assert.deepEqual(edited.slice(1), [image, table, coloured]);
  assert.equal(edited[0].id, 'p', 'the edited paragraph keeps its id');
  assert.deepEqual(edited[0].content, [text('Before, edited')]);
});

test('editing keeps ids of unchanged blocks and gives new blocks fresh ids', () => {
  const doc = [
    block('h', 'heading', [text('Title')], { level: 1 }),
    block('p1', 'paragraph', [text('keep me')]),
    block('p2', 'paragraph', [text('change me')], { textAlignment: 'center' }),
  ];
  const md = blocksToMarkdown(doc);
  const out = markdownToBlocks(`${md.replace('change me', 'changed')}\n\nbrand new`, doc);
  assert.equal(out[0], doc[0]);
  assert.equal(out[1], doc[1]);
  assert.equal(out[2].id, 'p2');
  assert.equal(out[2].props.textAlignment, 'center', 'props of the edited block are kept');
  assert.ok(out[3].id && !['h', 'p1', 'p2'].includes(out[3].id));
  assert.deepEqual(out[3], { id: out[3].id, type: 'paragraph', props: {}, content: [text('brand new')], children: [] });
});

test('empty documents, empty paragraphs and non-block JSON', () => {
  assert.equal(blocksToMarkdown([]), '');
  assert.deepEqual(markdownToBlocks('', []), []);
  assert.equal(blocksToMarkdown([block('e', 'paragraph', [])]), '');
  assert.equal(blocksToMarkdown({ any: 'json' }), null, 'not blocks: the editor falls back to JSON');
});

test('inline parsing: markers need partners, escapes and code spans are literal', () => {
  assert.deepEqual(parseInline('a ** b'), [text('a ** b')]);
  assert.deepEqual(parseInline('\\*literal\\*'), [text('*literal*')]);
  assert.deepEqual(parseInline('`a ** b`'), [text('a ** b', { code: true })]);
  assert.deepEqual(parseInline('**_both_**'), [text('both', { bold: true, italic: true })]);
});
