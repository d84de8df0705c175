// Shared pieces of the browser tests: the server under test, Debian's Chromium driven by
// playwright-core, the server's route list (to skip tests whose backend is not there yet),
// registration through the UI, direct API calls for setup, screenshots.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

export const BASE = (process.env.CADENCE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
export const ARTIFACTS = process.env.CADENCE_ARTIFACTS || path.resolve(here, '../../test-artifacts/e2e');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const PASSWORD = 'correct-horse-battery-staple';

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required', '--disable-dev-shm-usage',
];

export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };

export async function launch(extraArgs = []) {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...ARGS, ...extraArgs] });
}

/**
 * A page that records script errors and CSP violations (`page.problems`); 404/401 resource
 * loads are expected (missing routes, wrong passwords) and not counted.
 */
export async function newPage(browser, { viewport = DESKTOP, context } = {}) {
  const ctx = context || (await browser.newContext({ viewport, baseURL: BASE, locale: 'en-US', timezoneId: 'UTC' }));
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (/Failed to load resource/.test(text)) return;
    page.problems.push(`console: ${text}`);
  });
  page.on('dialog', (d) => d.accept());
  return page;
}

let routesCache = null;

/** The server's routes from /api/v1/openapi.json (path -> methods). */
export async function serverRoutes() {
  if (routesCache) return routesCache;
  const res = await fetch(`${BASE}/api/v1/openapi.json`);
  const doc = await res.json();
  routesCache = new Map(Object.entries(doc.paths || {}).map(([p, item]) => [p, Object.keys(item)]));
  return routesCache;
}

/** false when the server lists every path, else a skip reason naming what is missing. */
export async function missing(...paths) {
  const routes = await serverRoutes();
  const absent = paths.filter((p) => !routes.has(p));
  return absent.length ? `the server's openapi.json does not list ${absent.join(', ')} yet` : false;
}

export function uniqueEmail(tag = 'e2e') {
  return `${tag}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

/** Register through the UI; resolves when the app shell is shown. */
export async function registerViaUi(page, { email = uniqueEmail(), name = 'Ada Lovelace', password = PASSWORD } = {}) {
  await page.goto(`${BASE}/#/register`);
  await page.getByLabel('Full name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
  return { email, name, password };
}

export async function loginViaUi(page, { email, password = PASSWORD }) {
  await page.goto(`${BASE}/#/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
}

/** Call the API directly (setup and checks). */
export async function api(method, pathname, { token, body, headers = {} } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (token) h.Authorization = `Bearer ${token}`;
  const res = await fetch(`${BASE}/api/v1${pathname}`, {
    method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, body: json };
}

/** A user made through the API: {email, token, user}. */
export async function apiUser(tag = 'api') {
  const email = uniqueEmail(tag);
  const res = await api('POST', '/auth/register', { body: { email, password: PASSWORD, full_name: 'Test Person' } });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { email, token: res.body.access_token, user: res.body.user };
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  // From the top, so the sticky header is drawn where it belongs in a full-page capture.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Wait until `fn()` (evaluated in node) returns truthy; no timing assertions, just a bound. */
export async function eventually(fn, { timeout = 15000, interval = 100, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${message} (last: ${last})`);
    await new Promise((r) => setTimeout(r, interval));
  }
}
