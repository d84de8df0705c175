// The console shell and what works on every server: serving, register, sign out/in,
// validation errors next to fields, profile, token refresh on 401, the phone layout.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, PHONE, PASSWORD, launch, newPage, registerViaUi, loginViaUi, screenshot, uniqueEmail, api, apiUser, eventually,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('the console is served with a CSP and the API keeps its JSON 404', async () => {
  const page = await fetch(`${BASE}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  const csp = page.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /connect-src 'self' ws: wss:/);
  assert.match(csp, /media-src 'self' blob:/);
  const js = await fetch(`${BASE}/assets/app.js`);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  const etag = js.headers.get('etag');
  assert.ok(etag);
  const again = await fetch(`${BASE}/assets/app.js`, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  const missingApi = await fetch(`${BASE}/api/v1/definitely-not-a-route`);
  assert.equal(missingApi.status, 404);
  assert.match(missingApi.headers.get('content-type'), /^application\/problem\+json/);
});

test('register lands on the app shell; sign out and sign in again', async () => {
  const page = await newPage(browser);
  await page.goto(`${BASE}/`);
  await page.getByRole('heading', { name: 'Sign in to Cadence' }).waitFor();
  await screenshot(page, 'login');
  const who = await registerViaUi(page, { name: 'Grace Hopper' });

  await page.getByRole('heading', { name: 'Hello, Grace Hopper' }).waitFor();
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).isVisible(), true);
  assert.equal(await page.locator('#whoami').getByText('Grace Hopper').isVisible(), true);
  assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1', 'focus moves to the page heading');
  await screenshot(page, 'home');

  // Tokens: the access token is never stored; only the refresh token, in this tab's sessionStorage.
  const storage = await page.evaluate(() => ({
    session: Object.keys(sessionStorage), local: Object.keys(localStorage), cookies: document.cookie,
  }));
  assert.deepEqual(storage.session, ['cadence.refresh_token']);
  assert.deepEqual(storage.local, []);
  assert.equal(storage.cookies, '');

  // A reload keeps the session (refresh token -> new access token).
  await page.reload();
  await page.getByRole('heading', { name: 'Hello, Grace Hopper' }).waitFor();

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.getByRole('heading', { name: 'Sign in to Cadence' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('cadence.refresh_token')), null);
  // Signed out, app pages send you to sign in.
  await page.goto(`${BASE}/#/profile`);
  await page.getByRole('heading', { name: 'Sign in to Cadence' }).waitFor();

  // A wrong password shows the server's problem detail.
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.locator('.form-error');
  await alert.waitFor();
  assert.ok((await alert.textContent()).length > 0);

  await loginViaUi(page, who);
  // After signing in from #/profile you land where you wanted to go.
  await page.getByRole('heading', { name: 'Profile' }).waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('validation errors from the server appear next to their fields', async () => {
  const page = await newPage(browser);
  await page.goto(`${BASE}/#/register`);
  await page.getByLabel('Email').fill('not-an-email');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account' }).click();
  const emailInput = page.getByLabel('Email');
  await page.locator('input[name="password"][aria-invalid="true"]').waitFor();
  assert.equal(await emailInput.getAttribute('aria-invalid'), 'true');
  const pwErrorId = (await page.getByLabel('Password').getAttribute('aria-describedby')).split(' ').pop();
  const pwError = await page.locator(`#${pwErrorId}`).textContent();
  assert.ok(pwError.length > 0, 'the password error is shown under the password field');
  assert.match(await page.locator('.form-error').textContent(), /./);
  await screenshot(page, 'register-errors');

  // An email already registered: 409 detail at the top of the form.
  const existing = await apiUser('dupe');
  await page.getByLabel('Email').fill(existing.email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForFunction(() => !document.querySelector('[aria-invalid]') && document.querySelector('.form-error:not([hidden])'));
  assert.equal(await page.getByRole('button', { name: 'Sign out', exact: true }).count(), 0);
  await page.context().close();
});

test('profile: edit name and time zone; sessions list marks this device', async () => {
  const page = await newPage(browser);
  const who = await registerViaUi(page, { name: 'Old Name' });
  await page.getByRole('link', { name: 'Profile' }).first().click();
  await page.getByRole('heading', { name: 'Profile' }).waitFor();
  await page.getByText('this device').waitFor();
  await page.getByLabel('Full name').fill('Katherine Johnson');
  await page.getByLabel('Time zone').fill('Europe/Paris');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await page.locator('#whoami').getByText('Katherine Johnson').waitFor();
  await screenshot(page, 'profile');

  // The server has it (read it back through a separate login).
  const login = await api('POST', '/auth/login', { body: { email: who.email, password: PASSWORD } });
  const me = await api('GET', '/users/me', { token: login.body.access_token });
  assert.equal(me.body.full_name, 'Katherine Johnson');
  assert.equal(me.body.timezone, 'Europe/Paris');

  // An invalid time zone: the 422 names the field and the page shows it there.
  await page.getByLabel('Time zone').fill('Mars/Olympus');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await page.locator('input[name="timezone"][aria-invalid="true"]').waitFor();
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a 401 makes the page refresh its access token and retry once', async () => {
  const page = await newPage(browser);
  await registerViaUi(page);
  let refreshes = 0;
  page.on('request', (r) => { if (r.url().endsWith('/api/v1/auth/refresh')) refreshes += 1; });
  let failed = false;
  await page.route('**/api/v1/users/me', async (route) => {
    if (!failed) {
      failed = true; // the first call answers as if the access token had expired
      await route.fulfill({
        status: 401,
        contentType: 'application/problem+json',
        body: JSON.stringify({ type: 'urn:cadence:problem:unauthorized', title: 'Unauthorized', status: 401, code: 'unauthorized', detail: 'expired' }),
      });
    } else {
      await route.continue();
    }
  });
  // Wait for what is checked, not for a form: the register page has a 'Full name' field
  // too, and the profile view may still be on its way. First the intercepted 401, then the
  // retried request's success, then the profile form it fills.
  const retried = page.waitForResponse((r) => r.url().endsWith('/api/v1/users/me')
    && r.request().method() === 'GET' && r.status() === 200, { timeout: 20000 });
  await page.goto(`${BASE}/#/profile`);
  await eventually(() => failed, { message: 'the profile view to call /users/me (answered 401)' });
  await retried;
  await page.getByRole('heading', { name: 'Profile' }).waitFor();
  await page.getByLabel('Full name').waitFor();
  // Make sure the refresh was reported, then that no second refresh follows.
  await eventually(() => refreshes >= 1, { message: 'a token refresh' });
  await page.waitForTimeout(300);
  assert.equal(refreshes, 1);
  assert.equal(await page.getByRole('button', { name: 'Sign out', exact: true }).isVisible(), true);
  await page.context().close();
});

test('phone-sized screen: the menu button opens and closes the navigation', async () => {
  const page = await newPage(browser, { viewport: PHONE });
  await registerViaUi(page, { email: uniqueEmail('phone') });
  const menu = page.getByRole('button', { name: 'Menu' });
  await menu.waitFor();
  assert.equal(await menu.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).isVisible(), false);
  await screenshot(page, 'phone-home');
  await menu.click();
  assert.equal(await menu.getAttribute('aria-expanded'), 'true');
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  await screenshot(page, 'phone-menu');
  await page.keyboard.press('Escape');
  assert.equal(await menu.getAttribute('aria-expanded'), 'false');
  await menu.click();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Profile' }).click();
  await page.getByRole('heading', { name: 'Profile' }).waitFor();
  assert.equal(await menu.getAttribute('aria-expanded'), 'false', 'navigating closes the menu');
  // Nothing overflows horizontally.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  await screenshot(page, 'phone-profile');
  await page.context().close();
});
