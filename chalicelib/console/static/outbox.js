// The local stack's outbox: every email and SMS the embedded SES and SNS received, newest first.
import * as api from './api.js';
import { append, clear, h } from './dom.js';
import { dateTime, t } from './i18n.js';
import { emailFrame } from './preview.js';

export async function render(page) {
  const list = h('div', { class: 'outbox', id: 'outbox' });
  const more = h('button', { class: 'button', type: 'button', hidden: true }, t('action.more'));
  let cursor = null;
  const load = async () => {
    const answer = await api.get('/local/outbox', { limit: 20, cursor });
    append(list, answer.items.map(item));
    cursor = answer.next;
    more.hidden = !cursor;
    if (!list.children.length) append(list, h('p', { class: 'card empty muted' }, t('outbox.none')));
  };
  more.addEventListener('click', load);
  clear(page, h('div', { class: 'page-head' }, h('h1', {}, t('outbox.title'))),
    h('p', { class: 'lead' }, t('outbox.lead')), list, more);
  await load();
}

function item(message) {
  return h('article', { class: 'card message', dataset: { channel: message.channel, to: message.to } },
    h('header', {},
      h('span', { class: 'chip' }, t(`channel.${message.channel}`)), ' ',
      h('strong', {}, message.subject || ''),
      h('div', { class: 'muted small' }, t('message.to', { to: message.to || '' }), ' · ', dateTime(message.sent_at))),
    message.channel === 'email' && message.html ? emailFrame(message.html, message.subject || message.to)
      : h('pre', { class: 'sms' }, message.text || ''));
}
