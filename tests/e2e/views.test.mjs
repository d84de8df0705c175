// Every view's logic against the in-memory fake backend (fake-backend.mjs): sign-in is real,
// the features still being built on other branches are answered in the browser. These run on
// any server and also produce the screenshots of the main pages.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, PHONE, launch, newPage, registerViaUi, screenshot, eventually } from './helpers.mjs';
import { createStore, installFakeBackend } from './fake-backend.mjs';

let browser;
before(async () => {
  browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream']);
});
after(async () => { await browser?.close(); });

async function fakePage(store, opts) {
  const page = await newPage(browser, opts);
  await installFakeBackend(page, store);
  return page;
}

test('tasks: create, change status, filter, edit, delete — and a second page sees changes live', async () => {
  const store = createStore();
  const page = await fakePage(store);
  const who = await registerViaUi(page);
  await page.goto(`${BASE}/#/tasks`);
  await page.getByRole('heading', { name: 'Tasks' }).waitFor();
  await page.locator('#live-status[data-state="live"]').waitFor();

  // A second browser (another device of the same person) on the tasks page.
  const other = await fakePage(store);
  await registerViaUi(other, { email: `${who.email}.other` });
  await other.goto(`${BASE}/#/tasks`);
  await other.locator('#live-status[data-state="live"]').waitFor();

  await page.getByRole('textbox', { name: 'New task' }).fill('Water the plants');
  await page.getByLabel('Priority', { exact: true }).first().selectOption('high');
  await page.getByRole('button', { name: 'Add task' }).click();
  await page.locator('.task-list').getByText('Water the plants', { exact: true }).waitFor();
  await page.getByRole('textbox', { name: 'New task' }).fill('Call the bank');
  await page.getByRole('button', { name: 'Add task' }).click();
  await page.locator('.task-list').getByText('Call the bank', { exact: true }).waitFor();
  assert.equal(store.tasks.length, 2);
  assert.equal(store.tasks.find((t) => t.title === 'Water the plants').priority, 'high');

  // Live: the other page shows both without a reload.
  await other.locator('.task-list').getByText('Water the plants', { exact: true }).waitFor();
  await other.locator('.task-list').getByText('Call the bank', { exact: true }).waitFor();

  // Status through PUT /tasks/{id}/status.
  await page.getByLabel('Status of Call the bank').selectOption('in_progress');
  await eventually(() => store.tasks.find((t) => t.title === 'Call the bank').status === 'in_progress', { message: 'status change' });
  await page.getByLabel('Water the plants', { exact: true }).check();
  await eventually(() => store.tasks.find((t) => t.title === 'Water the plants').status === 'done', { message: 'done' });

  // Filter: only done.
  await page.getByRole('group', { name: 'Status' }).getByLabel('done').check();
  await page.locator('.task-list li').filter({ hasText: 'Call the bank' }).waitFor({ state: 'detached' });
  assert.equal(await page.locator('.task-list li').count(), 1);
  await page.getByRole('group', { name: 'Status' }).getByLabel('done').uncheck();
  await page.locator('.task-list').getByText('Call the bank', { exact: true }).waitFor();

  // Edit with If-Match.
  await page.getByRole('button', { name: 'Edit Call the bank' }).click();
  await page.getByLabel('Title').fill('Call the bank about the card');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('.task-list').getByText('Call the bank about the card', { exact: true }).waitFor();
  await screenshot(page, 'tasks');

  await page.getByRole('button', { name: 'Delete Water the plants' }).click();
  await page.locator('.task-list').getByText('Water the plants', { exact: true }).waitFor({ state: 'detached' });
  await other.locator('.task-list').getByText('Water the plants', { exact: true }).waitFor({ state: 'detached' });
  assert.equal(store.tasks.length, 1);
  await screenshot(other, 'tasks-live-second-page');
  assert.deepEqual(page.problems, []);
  assert.deepEqual(other.problems, []);
  await page.context().close();
  await other.context().close();
});

test('notes: the Markdown editor saves BlockNote blocks and reads them back', async () => {
  const store = createStore();
  const page = await fakePage(store);
  await registerViaUi(page);
  await page.goto(`${BASE}/#/notes`);
  await page.getByRole('textbox', { name: 'New note' }).fill('Trip plan');
  await page.getByRole('button', { name: 'Create note' }).click();
  await page.getByRole('heading', { name: 'Trip plan' }).waitFor();
  const md = '# Packing\n\nBring **boots** and a _map_.\n\n- tent\n- stove\n\n- [ ] book the train';
  await page.getByLabel('Content').fill(md);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Version 2').waitFor();
  const note = store.notes[0];
  assert.ok(Array.isArray(note.content));
  assert.deepEqual(note.content.map((b) => b.type), ['heading', 'paragraph', 'bulletListItem', 'bulletListItem', 'checkListItem']);
  assert.equal(note.content[0].props.level, 1);
  assert.deepEqual(note.content[1].content[1], { type: 'text', text: 'boots', styles: { bold: true } });
  for (const b of note.content) {
    assert.equal(typeof b.id, 'string');
    assert.ok(Array.isArray(b.children));
  }
  const ids = note.content.map((b) => b.id);

  // Reopen: the same Markdown; an edit keeps the ids of unchanged blocks.
  await page.goto(`${BASE}/#/notes`);
  await page.getByRole('link', { name: 'Trip plan' }).click();
  assert.equal(await page.getByLabel('Content').inputValue(), md);
  await page.getByLabel('Content').fill(md.replace('- stove', '- stove\n- matches'));
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Version 3').waitFor();
  const after2 = store.notes[0].content;
  assert.equal(after2.length, 6);
  assert.deepEqual(after2.filter((b) => ids.includes(b.id)).length, 5);
  await screenshot(page, 'note-editor');
  await page.goto(`${BASE}/#/notes`);
  await page.getByRole('link', { name: 'Trip plan' }).waitFor();
  await screenshot(page, 'notes');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('goals: progress bars, linked tasks and the planner', async () => {
  const store = createStore();
  const page = await fakePage(store);
  await registerViaUi(page);
  await page.goto(`${BASE}/#/goals`);
  await page.getByRole('textbox', { name: 'New goal' }).fill('Run a half marathon');
  await page.getByRole('button', { name: 'Add goal' }).click();
  await page.getByRole('link', { name: 'Run a half marathon' }).click();
  await page.getByRole('heading', { name: 'Run a half marathon' }).waitFor();
  await page.getByLabel('New task for this goal').fill('Buy running shoes');
  await page.getByRole('button', { name: 'Add task' }).click();
  await page.locator('.task-list').getByText('Buy running shoes', { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Plan with AI' }).click();
  await page.locator('.task-list').getByText('Outline the first step', { exact: true }).waitFor();
  await page.getByLabel('Buy running shoes', { exact: true }).check();
  await page.locator('.progress-text', { hasText: '33%' }).first().waitFor();
  const bar = page.getByRole('progressbar', { name: 'Progress of Run a half marathon' }).first();
  assert.equal(await bar.getAttribute('value'), '33');
  await screenshot(page, 'goal-detail');
  await page.goto(`${BASE}/#/goals`);
  await page.getByRole('progressbar', { name: 'Progress of Run a half marathon' }).waitFor();
  await screenshot(page, 'goals');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('reflections and memories: write, list, edit, forget', async () => {
  const store = createStore();
  const page = await fakePage(store);
  await registerViaUi(page);
  await page.goto(`${BASE}/#/reflections`);
  await page.getByRole('textbox', { name: 'Reflection', exact: true }).fill('Shipped the console today. Felt good.');
  await page.getByRole('button', { name: 'Save reflection' }).click();
  await page.getByText('Shipped the console today. Felt good.').waitFor();
  assert.equal(store.reflections[0].reflection_type, 'daily');
  await screenshot(page, 'reflections');

  await page.goto(`${BASE}/#/memories`);
  await page.getByLabel('Memory').fill('Prefers morning meetings');
  await page.getByLabel('Tags').fill('work, calendar');
  await page.getByRole('button', { name: 'Save memory' }).click();
  await page.getByText('Prefers morning meetings').waitFor();
  assert.deepEqual(store.memories[0].tags, ['work', 'calendar']);
  await page.getByRole('button', { name: /^Edit memory/ }).click();
  await page.getByRole('form', { name: 'Edit memory' }).getByLabel('Importance').selectOption('5');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByLabel('Importance 5 of 5').waitFor();
  assert.equal(store.memories[0].importance, 5);
  await screenshot(page, 'memories');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('chat: a streamed reply with a visible tool call', async () => {
  const store = createStore();
  const page = await fakePage(store);
  await registerViaUi(page);
  await page.goto(`${BASE}/#/chat`);
  await page.getByLabel('Title').fill('Errands');
  await page.getByRole('button', { name: 'New conversation' }).click();
  await page.getByRole('heading', { name: 'Errands' }).waitFor();
  await page.getByRole('textbox', { name: 'Message' }).fill('Please create a task called Buy oat milk');
  await page.getByRole('textbox', { name: 'Message' }).press('Enter');
  const reply = page.locator('.msg-assistant').last();
  await reply.getByText('Done — I added “Buy oat milk” to your tasks.').waitFor();
  await reply.locator('.tool-call summary', { hasText: 'create_task' }).click();
  await reply.locator('.tool-call pre').filter({ hasText: '"title": "Buy oat milk"' }).first().waitFor();
  assert.equal(store.tasks[0].title, 'Buy oat milk');
  // Reloading shows the stored tool call on the message.
  await page.reload();
  await page.locator('.msg-assistant .tool-call', { hasText: 'create_task' }).waitFor();
  await screenshot(page, 'chat');
  const phone = await fakePage(store, { viewport: PHONE });
  await registerViaUi(phone);
  await phone.goto(`${BASE}/#/chat/${store.conversations[0].id}`);
  await phone.locator('.msg-assistant').first().waitFor();
  await screenshot(phone, 'phone-chat');
  assert.deepEqual(page.problems, []);
  await page.context().close();
  await phone.context().close();
});

test('agents: list, create own agent, field errors from the server', async () => {
  const store = createStore();
  const page = await fakePage(store);
  await registerViaUi(page);
  await page.goto(`${BASE}/#/agents`);
  await page.getByRole('link', { name: 'Cadence Assistant', exact: true }).waitFor();
  await screenshot(page, 'agents');
  await page.getByRole('link', { name: 'New agent' }).click();
  await page.getByLabel('Name').fill('Coach');
  await page.getByRole('group', { name: 'Language model' }).getByLabel('Provider').fill('nonexistent');
  await page.getByRole('button', { name: 'Create agent' }).click();
  await page.locator('input[name="llm_provider"][aria-invalid="true"]').waitFor();
  await page.getByRole('group', { name: 'Language model' }).getByLabel('Provider').fill('echo');
  await page.getByRole('button', { name: 'Create agent' }).click();
  await page.getByRole('heading', { name: 'Coach' }).waitFor();
  const created = store.agents.find((a) => a.name === 'Coach');
  assert.equal(created.llm.provider, 'echo');
  assert.deepEqual(created.tools, ['tasks', 'notes', 'goals', 'memories', 'reflections']);
  await screenshot(page, 'agent-edit');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('wallet: balance, test-mode top-up with an Idempotency-Key, transactions', async () => {
  const store = createStore();
  const page = await fakePage(store);
  await registerViaUi(page);
  const keys = [];
  page.on('request', (r) => { if (r.url().endsWith('/wallet/add-credits')) keys.push(r.headers()['idempotency-key']); });
  await page.goto(`${BASE}/#/wallet`);
  await page.locator('.stat-balance .big-number', { hasText: '1,000' }).waitFor();
  await page.getByLabel('Amount (credits)').fill('250');
  await page.getByRole('button', { name: 'Add credits' }).click();
  await page.locator('.stat-balance .big-number', { hasText: '1,250' }).waitFor();
  await page.getByRole('cell', { name: '+250' }).waitFor();
  assert.equal(keys.length, 1);
  assert.match(keys[0], /^[0-9a-f-]{36}$/);
  await screenshot(page, 'wallet');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('talk: microphone frames out, agent audio played, marks echoed, clear honoured, call summary', async () => {
  const store = createStore();
  const page = await fakePage(store);
  await registerViaUi(page);
  await page.goto(`${BASE}/#/talk`);
  await page.getByLabel('Agent', { exact: true }).selectOption({ label: 'Cadence Assistant' });
  await page.getByRole('button', { name: 'Start call' }).click();

  // The fake peer answers after half a second of microphone audio.
  await page.locator('.msg-user[data-final]', { hasText: 'hello cadence' }).waitFor();
  assert.equal(store.voice.startRate, 16000);
  assert.equal(store.voice.lastFrameBytes, 640, '20 ms of 16 kHz PCM16 mono per frame');
  await page.locator('.msg-assistant', { hasText: 'Hello! You have no open tasks.' }).waitFor();
  await page.locator('.tool-list .tool-call', { hasText: 'list_tasks' }).waitFor();
  await page.getByRole('cell', { name: '481' }).waitFor();
  await eventually(() => store.voice.marksEchoed.includes('m1'), { message: 'mark m1 echoed after playback' });
  const played = Number(await page.locator('.audio-stats').getAttribute('data-played-seconds'));
  assert.ok(played >= 0.5, `played ${played} s of agent audio`);

  // Typed input, then a long answer that the server clears: its mark must not come back.
  await page.getByLabel('Say (typed)').fill('please interrupt yourself');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.locator('.msg-assistant .interrupted').waitFor();
  const playedAtClear = Number(await page.locator('.audio-stats').getAttribute('data-played-seconds'));
  assert.deepEqual(store.voice.textsReceived, ['please interrupt yourself']);
  await page.getByLabel('Say (typed)').fill('thanks');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await eventually(() => store.voice.marksEchoed.includes('m-text-2'), { message: 'mark after the typed reply' });
  assert.ok(!store.voice.marksEchoed.includes('m-cut'), 'a cleared mark is never echoed');
  const playedEnd = Number(await page.locator('.audio-stats').getAttribute('data-played-seconds'));
  assert.ok(playedEnd - playedAtClear < 2.5, 'the cleared 3 s answer did not keep playing');
  await screenshot(page, 'talk');

  await page.getByRole('button', { name: 'End call' }).click();
  await page.getByRole('heading', { name: 'Call ended' }).waitFor();
  await page.getByText('User ended · 12 s · 7 credits').waitFor();
  assert.equal(store.voice.ended, true);
  await screenshot(page, 'talk-ended');

  await page.getByRole('link', { name: 'Call details and transcript' }).click();
  await page.getByRole('heading', { name: 'Transcript' }).waitFor();
  await page.locator('.transcript').getByText('hello cadence').waitFor();
  await screenshot(page, 'call-detail');
  await page.goto(`${BASE}/#/calls`);
  await page.getByRole('cell', { name: '7 credits' }).waitFor();
  await screenshot(page, 'calls');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('home shows open tasks, goals and the wallet', async () => {
  const store = createStore();
  const page = await fakePage(store);
  await registerViaUi(page, { name: 'Mary Jackson' });
  await page.goto(`${BASE}/#/tasks`);
  await page.getByRole('textbox', { name: 'New task' }).fill('Plan the week');
  await page.getByRole('button', { name: 'Add task' }).click();
  await page.locator('.task-list').getByText('Plan the week', { exact: true }).waitFor();
  await page.goto(`${BASE}/#/`);
  await page.locator('.card').getByText('Plan the week').waitFor();
  await page.locator('.card .big-number', { hasText: '1,000 credits' }).waitFor();
  await screenshot(page, 'home-with-data');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('phone-sized screen: every view fits the width', async () => {
  const store = createStore();
  const page = await fakePage(store, { viewport: PHONE });
  await registerViaUi(page);
  // Some data so lists and tables render.
  await page.goto(`${BASE}/#/tasks`);
  await page.getByRole('textbox', { name: 'New task' }).fill('A task with a rather long title that has to wrap on a phone');
  await page.getByRole('button', { name: 'Add task' }).click();
  await page.locator('.task-list li').first().waitFor();
  await page.goto(`${BASE}/#/wallet`);
  await page.getByRole('button', { name: 'Add credits' }).click();
  await page.getByRole('cell', { name: '+500' }).waitFor();
  const views = ['', 'tasks', 'notes', 'goals', 'reflections', 'memories', 'chat', 'talk', 'agents', 'agents/new', 'calls', 'wallet', 'profile'];
  for (const v of views) {
    await page.goto(`${BASE}/#/${v}`);
    await page.locator('main h1').first().waitFor();
    await page.waitForLoadState('networkidle');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `#/${v} is ${overflow}px wider than a phone screen`);
    await screenshot(page, `phone-${(v || 'home').replace('/', '-')}`);
  }
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('keyboard: skip link, focus on the page heading, Enter submits a form', async () => {
  const store = createStore();
  const page = await fakePage(store);
  await registerViaUi(page);
  await page.goto(`${BASE}/#/tasks`);
  await page.getByRole('heading', { name: 'Tasks' }).waitFor();
  // The router moves focus to the new page's heading once it has rendered; let it, so it
  // cannot happen after the reset below.
  await page.waitForFunction(() => document.activeElement?.tagName === 'H1');
  // Start sequential focus navigation from the top of the document.
  await page.evaluate(() => { document.body.tabIndex = -1; document.body.focus(); document.body.removeAttribute('tabindex'); });
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => location.hash), '#/tasks', 'the skip link keeps the route');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Tasks');
  // Typing a task and pressing Enter submits the form.
  await page.getByRole('textbox', { name: 'New task' }).focus();
  await page.keyboard.type('Typed with the keyboard');
  await page.keyboard.press('Enter');
  await page.locator('.task-list').getByText('Typed with the keyboard', { exact: true }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('live updates reconnect with ?since=<last event id> after the socket drops', async () => {
  const store = createStore();
  const page = await fakePage(store);
  await registerViaUi(page);
  await page.goto(`${BASE}/#/tasks`);
  await page.locator('#live-status[data-state="live"]').waitFor();
  assert.equal(store.eventUrls.length, 1);
  assert.match(store.eventUrls[0], /\/api\/v1\/events\?ticket=[^&]+$/);
  // A change made elsewhere arrives as an event and shows up.
  store.tasks.unshift({ id: 'x1', title: 'Made on another device', status: 'todo', priority: 'low', version: 1 });
  store.emit('task.created', store.tasks[0]);
  await page.locator('.task-list').getByText('Made on another device', { exact: true }).waitFor();
  const lastId = store.events[store.events.length - 1].id;
  // The server goes away; the page reconnects asking for what it missed.
  for (const ws of store.sockets) await ws.close({ code: 1012, reason: 'restarting' });
  store.tasks.unshift({ id: 'x2', title: 'Made while disconnected', status: 'todo', priority: 'low', version: 1 });
  await eventually(() => store.eventUrls.length === 2, { message: 'a reconnect' });
  const url = new URL(store.eventUrls[1]);
  assert.equal(url.searchParams.get('since'), lastId);
  assert.ok(url.searchParams.get('ticket'), 'a fresh single-use ticket');
  assert.notEqual(url.searchParams.get('ticket'), new URL(store.eventUrls[0]).searchParams.get('ticket'));
  await page.locator('#live-status[data-state="live"]').waitFor();
  // After reconnecting the view reloads, so nothing missed stays hidden.
  await page.locator('.task-list').getByText('Made while disconnected', { exact: true }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
