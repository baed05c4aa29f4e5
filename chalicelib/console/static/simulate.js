// A dry run: a contact and a timeline of events through a scenario; the path and the rendered messages.
import * as api from './api.js';
import { clear, h, path } from './dom.js';
import { dateTime, t } from './i18n.js';
import { emailFrame } from './preview.js';
import { problemList } from './scenario.js';

export async function render(page, id) {
  const scenario = await api.get(`/scenarios/${path(id)}`);
  const trigger = scenario.definition.trigger && scenario.definition.trigger.event;
  const contact = h('textarea', { id: 'sim-contact', class: 'code', rows: 8, spellcheck: 'false' });
  contact.value = JSON.stringify({ email: 'ana@example.com', first_name: 'Ana',
    consent: { email: { granted: true } }, attributes: {} }, null, 2);
  const timeline = h('textarea', { id: 'sim-timeline', class: 'code', rows: 8, spellcheck: 'false' });
  timeline.value = JSON.stringify(trigger ? [{ type: trigger, at: '+PT0S' }] : [], null, 2);
  const storedId = h('input', { id: 'sim-contact-email', type: 'email', placeholder: 'ana@example.com' });
  const result = h('div', { id: 'sim-result', 'aria-live': 'polite' });

  const run = async (event) => {
    event.preventDefault();
    const body = {};
    try {
      body.timeline = JSON.parse(timeline.value || '[]');
      if (storedId.value.trim()) {
        const found = await api.get('/contacts', { email: storedId.value.trim() });
        if (!found.items.length) {
          clear(result, h('div', { class: 'notice error', role: 'alert' }, t('simulate.noContact')));
          return;
        }
        body.contact_id = found.items[0].id;
      } else {
        body.contact = JSON.parse(contact.value);
      }
    } catch (error) {
      clear(result, h('div', { class: 'notice error', role: 'alert' }, t('editor.notJson'), ' ', error.message));
      return;
    }
    try {
      show(result, await api.post(`/scenarios/${path(id)}/simulate`, body, { version: scenario.latest_version }));
    } catch (error) {
      clear(result, h('div', { class: 'notice error', role: 'alert' }, error.message, problemList(error.details)));
    }
  };

  clear(page,
    h('nav', { class: 'crumbs' }, h('a', { href: '#/scenarios' }, t('scenarios.title')), ' / ',
      h('a', { href: `#/scenarios/${path(id)}` }, id), ' / ', t('action.simulate')),
    h('div', { class: 'page-head' }, h('h1', {}, t('simulate.title', { name: scenario.name || id }))),
    h('p', { class: 'lead' }, t('simulate.lead')),
    h('form', { class: 'card grid-2', id: 'simulate', onsubmit: run },
      h('div', {},
        h('label', { for: 'sim-contact' }, t('simulate.contact')), contact,
        h('label', { for: 'sim-contact-email' }, t('simulate.stored')), storedId),
      h('div', {},
        h('label', { for: 'sim-timeline' }, t('simulate.timeline')), timeline,
        h('p', { class: 'hint' }, t('simulate.timelineHint'))),
      h('div', { class: 'actions span-2' }, h('button', { class: 'button primary', type: 'submit' }, t('action.simulate')))),
    result);
}

function show(result, answer) {
  clear(result,
    h('section', { class: 'card', 'aria-labelledby': 'sim-path-title' },
      h('h2', { id: 'sim-path-title' }, t('simulate.path'), ' ', h('span', { class: `badge journey-${answer.status}` },
        t(`journey.${answer.status}`))),
      h('ol', { class: 'timeline', id: 'sim-path' }, (answer.path || []).map((step) => h('li', { dataset: { step: step.step } },
        h('time', {}, dateTime(step.at)), ' ',
        h('span', { class: 'chip' }, t(`step.${step.type}`)), ' ',
        h('strong', { class: 'mono' }, step.step), ' ',
        h('span', { class: 'muted' }, step.result || ''),
        step.until ? h('span', { class: 'muted' }, ` → ${dateTime(step.until)}`) : null))),
      (answer.notes || []).length ? h('ul', { class: 'notes' }, answer.notes.map((note) => h('li', { class: 'muted' }, note))) : null),
    h('section', { class: 'card', 'aria-labelledby': 'sim-messages-title' },
      h('h2', { id: 'sim-messages-title' }, t('simulate.messages', { count: (answer.messages || []).length })),
      (answer.messages || []).map((message) => h('article', { class: 'message', dataset: { step: message.step } },
        h('header', {}, h('span', { class: 'chip' }, message.channel), ' ',
          h('strong', {}, message.subject || message.text || ''),
          h('div', { class: 'muted small' }, t('message.to', { to: message.to || '' }), ' · ', dateTime(message.at),
            ' · ', h('span', { class: 'mono' }, message.step))),
        message.html ? emailFrame(message.html, message.subject || message.step)
          : h('pre', { class: 'sms' }, message.text || '')))));
}
