// Profile › Phone: verify a number by a code sent over SMS or WhatsApp. Only a verified
// number ever gets notifications (messages or the call step of an escalation).

import { api } from '../api.js';
import {
  h, replace, field, formError, onSubmit, toast, fmtDateTime, loadError, confirmAction,
} from '../ui.js';

export function phonePanel() {
  const box = h('div', { 'aria-live': 'polite' });
  const panel = h('section', { class: 'panel', 'aria-labelledby': 'phone-h' },
    h('h2', { id: 'phone-h' }, 'Phone for notifications'),
    h('p', { class: 'muted' }, 'Urgent reminders can reach you on WhatsApp, by SMS or by a call. Only a number you verify is ever used.'),
    box);

  function startForm() {
    const form = h('form', { class: 'form', 'aria-label': 'Send a verification code' },
      formError(),
      field({ label: 'Phone number', name: 'number', type: 'tel', required: true, autocomplete: 'tel', placeholder: '+14155550100', hint: 'International format: + and country code.' }),
      field({ label: 'Send the code by', name: 'channel', type: 'select', value: 'sms', options: [['sms', 'SMS'], ['whatsapp', 'WhatsApp']] }),
      h('button', { type: 'submit', class: 'secondary' }, 'Send code'));
    onSubmit(form, async (v) => {
      const pending = await api.post('/users/me/phone', { number: v.number.trim(), channel: v.channel });
      toast(`Code sent to ${pending.number}.`);
      replace(box, codeForm(pending));
    });
    return form;
  }

  function codeForm(pending) {
    const form = h('form', { class: 'form', 'aria-label': 'Enter the verification code' },
      formError(),
      h('p', null, `Enter the 6-digit code sent to ${pending.number} (valid until ${fmtDateTime(pending.expires_at)}).`),
      field({ label: 'Code', name: 'code', required: true, inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6 }),
      h('div', { class: 'row' },
        h('button', { type: 'submit', class: 'primary' }, 'Verify'),
        h('button', { type: 'button', class: 'link-button', onclick: () => replace(box, startForm()) }, 'Use another number')));
    onSubmit(form, async (v) => {
      const phone = await api.post('/users/me/phone/verify', { code: v.code.trim() });
      toast('Phone verified.');
      replace(box, verified(phone));
    });
    return form;
  }

  function verified(phone) {
    return h('div', null,
      h('p', null, h('strong', null, phone.number), ` · ${phone.channel === 'whatsapp' ? 'WhatsApp' : 'SMS'} · verified ${fmtDateTime(phone.verified_at)}`),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', onclick: () => replace(box, startForm()) }, 'Change number'),
        h('button', {
          type: 'button', class: 'danger',
          onclick: async () => {
            if (!confirmAction('Stop sending notifications to this number?')) return;
            await api.del('/users/me/phone');
            replace(box, startForm());
          },
        }, 'Remove')));
  }

  (async () => {
    try {
      replace(box, verified(await api.get('/users/me/phone')));
    } catch (err) {
      if (err.status === 404) replace(box, startForm());
      else replace(box, loadError(err));
    }
  })();
  return panel;
}
