// Contacts: find one by email; a contact's page with fields, consent, journeys, messages and events.
import * as api from './api.js';
import { clear, h, path } from './dom.js';
import { dateTime, num, t } from './i18n.js';

export async function renderSearch(page) {
  const email = h('input', { id: 'contact-email', type: 'email', name: 'email', required: true,
    autocomplete: 'off', placeholder: 'ana@example.com' });
  const status = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'card inline-form', id: 'find-contact' },
    h('label', { for: 'contact-email' }, t('contacts.find')), email,
    h('button', { class: 'button primary', type: 'submit' }, t('action.find')), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const found = await api.get('/contacts', { email: email.value.trim() });
    if (found.items.length) location.hash = `#/contacts/${path(found.items[0].id)}`;
    else status.textContent = t('contacts.notFound', { email: email.value.trim() });
  });
  const { items } = await api.get('/contacts', { limit: 50 });
  clear(page, h('div', { class: 'page-head' }, h('h1', {}, t('contacts.title'))), form,
    h('div', { class: 'card flush' }, items.length ? h('table', { class: 'table', id: 'contact-list' },
      h('thead', {}, h('tr', {}, ['contacts.email', 'contacts.name', 'contacts.stage', 'contacts.created']
        .map((label) => h('th', { scope: 'col' }, t(label))))),
      h('tbody', {}, items.map((contact) => h('tr', {},
        h('th', { scope: 'row' }, h('a', { href: `#/contacts/${path(contact.id)}` }, contact.email || contact.phone
          || contact.external_id || contact.id)),
        h('td', {}, [contact.first_name, contact.last_name].filter(Boolean).join(' ')),
        h('td', {}, contact.stage || ''),
        h('td', {}, dateTime(contact.created_at))))))
      : h('p', { class: 'empty muted' }, t('contacts.none'))));
  email.focus();
}

export async function renderContact(page, id) {
  const base = `/contacts/${path(id)}`;
  const [contact, journeys, messages, events] = await Promise.all([
    api.get(base), api.get(`${base}/journeys`), api.get(`${base}/messages`), api.get(`${base}/events`, { limit: 100 })]);
  const name = [contact.first_name, contact.last_name].filter(Boolean).join(' ');
  const fields = [['contacts.email', contact.email], ['contacts.phone', contact.phone],
    ['contacts.externalId', contact.external_id], ['contacts.language', contact.language],
    ['contacts.timezone', contact.timezone], ['contacts.birthday', contact.birthday],
    ['contacts.emailStatus', contact.email_status], ['contacts.score', num(contact.score)],
    ['contacts.stage', contact.stage], ['contacts.activity', contact.activity_rank],
    ['contacts.lists', (contact.lists || []).join(', ')], ['contacts.created', dateTime(contact.created_at)],
    ['contacts.updated', dateTime(contact.updated_at)]];
  clear(page,
    h('nav', { class: 'crumbs' }, h('a', { href: '#/contacts' }, t('contacts.title')), ' / ', contact.email || id),
    h('div', { class: 'page-head' }, h('h1', {}, name || contact.email || id)),
    h('div', { class: 'grid-2' },
      h('section', { class: 'card', 'aria-labelledby': 'fields-title' }, h('h2', { id: 'fields-title' }, t('contacts.fields')),
        h('dl', { class: 'fields', id: 'contact-fields' }, fields.filter(([, value]) => value !== null && value !== undefined && value !== '')
          .map(([label, value]) => [h('dt', {}, t(label)), h('dd', {}, String(value))]),
        Object.entries(contact.attributes || {}).map(([key, value]) => [h('dt', { class: 'mono' }, key),
          h('dd', {}, typeof value === 'string' ? value : JSON.stringify(value))]))),
      h('section', { class: 'card', 'aria-labelledby': 'consent-title' }, h('h2', { id: 'consent-title' }, t('contacts.consent')),
        h('dl', { class: 'fields', id: 'contact-consent' }, ['email', 'sms'].map((channel) => {
          const consent = (contact.consent || {})[channel];
          return [h('dt', {}, t(`channel.${channel}`)), h('dd', { dataset: { channel } },
            consent && consent.granted ? h('span', { class: 'badge ok' }, t('consent.granted'))
              : h('span', { class: 'badge' }, consent && consent.pending ? t('consent.pending') : t('consent.none')),
            consent && consent.at ? h('span', { class: 'muted small' }, ` ${dateTime(consent.at)}`) : null,
            consent && consent.source ? h('div', { class: 'muted small' }, consent.source) : null)];
        })))),
    h('section', { class: 'card', 'aria-labelledby': 'journeys-title' }, h('h2', { id: 'journeys-title' }, t('contacts.journeys')),
      journeys.items.length ? h('ul', { class: 'journeys', id: 'contact-journeys' }, journeys.items.map((journey) =>
        h('li', { dataset: { scenario: journey.scenario } },
          h('div', {}, h('a', { href: `#/scenarios/${path(journey.scenario)}` }, journey.scenario), ` v${journey.version} `,
            h('span', { class: `badge journey-${journey.status}` }, t(`journey.${journey.status}`)),
            h('span', { class: 'muted small' }, ` ${dateTime(journey.entered_at)}`
              + (journey.ended_at ? ` → ${dateTime(journey.ended_at)}` : ''))),
          h('ol', { class: 'path' }, (journey.path || []).map((step) => h('li', { class: 'chip' }, step)),
            journey.current_step && journey.status === 'running'
              ? h('li', { class: 'chip current' }, t('contacts.now', { step: journey.current_step })) : null))))
        : h('p', { class: 'muted' }, t('contacts.noJourneys'))),
    h('section', { class: 'card flush', 'aria-labelledby': 'messages-title' },
      h('h2', { id: 'messages-title', class: 'pad' }, t('contacts.messages')),
      messages.items.length ? h('table', { class: 'table', id: 'contact-messages' },
        h('thead', {}, h('tr', {}, ['message.sent', 'message.channel', 'message.scenario', 'message.subject', 'message.status']
          .map((label) => h('th', { scope: 'col' }, t(label))))),
        h('tbody', {}, messages.items.map((message) => h('tr', {},
          h('td', {}, dateTime(message.sent_at)), h('td', {}, t(`channel.${message.channel}`)),
          h('td', {}, `${message.scenario || ''} · `, h('span', { class: 'mono' }, message.step)),
          h('td', {}, message.subject || ''),
          h('td', {}, h('span', { class: 'badge' }, message.status), message.reason ? h('span', { class: 'muted small' }, ` ${message.reason}`) : null,
            (message.events || []).length > 1 ? h('div', { class: 'muted small' }, message.events.map((item) => item.type).join(' → ')) : null)))))
        : h('p', { class: 'muted pad' }, t('contacts.noMessages'))),
    h('section', { class: 'card flush', 'aria-labelledby': 'events-title' },
      h('h2', { id: 'events-title', class: 'pad' }, t('contacts.events')),
      h('table', { class: 'table', id: 'contact-events' },
        h('thead', {}, h('tr', {}, ['event.when', 'event.type', 'event.properties'].map((label) => h('th', { scope: 'col' }, t(label))))),
        h('tbody', {}, events.items.map((event) => h('tr', {},
          h('td', {}, dateTime(event.timestamp)), h('td', { class: 'mono' }, event.type),
          h('td', { class: 'mono small' }, Object.keys(event.properties || {}).length ? JSON.stringify(event.properties) : '')))))));
}
