// Sign in and create an account.

import * as client from '../api.js';
import { h, field, formError, onSubmit } from '../ui.js';

function card(title, form, footer) {
  return h('section', { class: 'auth-card', 'aria-labelledby': 'auth-title' },
    h('h1', { id: 'auth-title', tabindex: '-1' }, title),
    form,
    footer);
}

export function login(main) {
  const form = h('form', { class: 'form', novalidate: true },
    formError(),
    field({ label: 'Email', name: 'email', type: 'email', required: true, autocomplete: 'username' }),
    field({ label: 'Password', name: 'password', type: 'password', required: true, autocomplete: 'current-password' }),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  onSubmit(form, async (v) => {
    await client.login(v.email.trim(), v.password);
  });
  main.appendChild(card('Sign in to Cadence', form,
    h('p', { class: 'muted' }, 'New here? ', h('a', { href: '#/register' }, 'Create an account'))));
  form.querySelector('input').focus();
}

export function register(main) {
  const form = h('form', { class: 'form', novalidate: true },
    formError(),
    field({ label: 'Full name', name: 'full_name', autocomplete: 'name' }),
    field({ label: 'Email', name: 'email', type: 'email', required: true, autocomplete: 'username' }),
    field({
      label: 'Password', name: 'password', type: 'password', required: true, autocomplete: 'new-password',
      hint: 'At least 8 characters. A long phrase is best.',
    }),
    h('button', { type: 'submit', class: 'primary' }, 'Create account'));
  onSubmit(form, async (v) => {
    await client.register(v.email.trim(), v.password, v.full_name.trim());
  });
  main.appendChild(card('Create your Cadence account', form,
    h('p', { class: 'muted' }, 'Already have an account? ', h('a', { href: '#/login' }, 'Sign in'))));
  form.querySelector('input').focus();
}
