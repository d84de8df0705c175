// A view whose backend this server lacks says so kindly instead of breaking — whether the
// console learns it from openapi.json or from the API's 404.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, newPage, registerViaUi, screenshot, serverRoutes } from './helpers.mjs';

const CANDIDATES = [
  { hash: '#/wallet', path: '/api/v1/wallet', title: 'Wallet', text: 'The wallet is not available on this server' },
  { hash: '#/calls', path: '/api/v1/calls', title: 'Calls', text: 'Calls are not available on this server' },
  { hash: '#/memories', path: '/api/v1/memories', title: 'Memories', text: 'Memories are not available on this server' },
  { hash: '#/tasks', path: '/api/v1/tasks', title: 'Tasks', text: 'Tasks are not available on this server' },
  { hash: '#/notes', path: '/api/v1/notes', title: 'Notes', text: 'Notes are not available on this server' },
];

const routes = await serverRoutes();
const target = CANDIDATES.find((c) => !routes.has(c.path));
const skip = target ? false : 'this server has every feature these checks could use';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a view whose route is not in openapi.json shows "not available on this server"', { skip }, async () => {
  const page = await newPage(browser);
  await registerViaUi(page);
  let called = false;
  page.on('request', (r) => { if (new URL(r.url()).pathname === target.path) called = true; });
  await page.goto(`${BASE}/${target.hash}`);
  await page.getByRole('heading', { name: target.text }).waitFor();
  assert.equal(called, false, 'no request is made for a route the server does not list');
  // The navigation marks it, and the rest of the console keeps working.
  const link = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: target.title });
  assert.match(await link.getAttribute('class'), /unavailable/);
  await screenshot(page, 'unavailable');
  await page.getByRole('link', { name: 'Profile' }).first().click();
  await page.getByRole('heading', { name: 'Profile' }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('without openapi.json, the API\'s 404 leads to the same friendly message', { skip }, async () => {
  const page = await newPage(browser);
  await page.route('**/api/v1/openapi.json', (route) => route.abort());
  await registerViaUi(page);
  let status = null;
  page.on('response', (r) => { if (new URL(r.url()).pathname === target.path) status = r.status(); });
  await page.goto(`${BASE}/${target.hash}`);
  await page.getByRole('heading', { name: target.text }).waitFor();
  assert.equal(status, 404);
  // Not knowing the routes, the page also tries the live-updates socket (and backs off).
  assert.deepEqual(page.problems.filter((p) => !/\/api\/v1\/events\?ticket=/.test(p)), []);
  await page.context().close();
});
