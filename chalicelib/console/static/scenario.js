// One scenario: its status and versions, the lifecycle actions, its funnel and its flow with counts.
import * as api from './api.js';
import { clear, h, path } from './dom.js';
import { drawFlow } from './flow.js';
import { dateTime, num, pct, t } from './i18n.js';
import { report as reportOf, statusBadge } from './scenarios.js';

const ACTIONS = {
  draft: ['publish', 'archive'],
  live: ['pause', 'archive'],
  paused: ['resume', 'archive'],
  archived: [],
};

export async function render(page, id) {
  const query = new URLSearchParams(location.hash.split('?')[1] || '');
  const head = await api.get(`/scenarios/${path(id)}`);
  const version = Number(query.get('version')) || head.live_version || head.latest_version;
  const [shown, report] = await Promise.all([
    version === head.version ? head : api.get(`/scenarios/${path(id)}`, { version }),
    reportOf(id, version).catch(() => null),
  ]);
  const message = h('div', { class: 'notice', role: 'status', hidden: true });
  // Publishing is offered while the latest version is not the live one.
  const offered = [...(head.status !== 'draft' && head.status !== 'archived' && head.latest_version !== head.live_version
    ? ['publish'] : []), ...(ACTIONS[head.status] || [])];
  const actions = offered.map((action) => h('button', {
    class: `button ${action === 'publish' ? 'primary' : action === 'archive' ? 'danger' : ''}`,
    type: 'button', dataset: { action },
    onclick: async () => {
      if (action === 'archive' && !window.confirm(t('scenario.confirmArchive'))) return;
      try {
        await api.post(`/scenarios/${path(id)}/${action}`);
        await render(page, id);
      } catch (error) {
        message.hidden = false;
        message.className = 'notice error';
        clear(message, error.message, problemList(error.details));
      }
    },
  }, t(`action.${action}`)));
  const versions = h('select', { id: 'version', 'aria-label': t('scenario.version'),
    onchange: (event) => { location.hash = `#/scenarios/${path(id)}?version=${event.target.value}`; } },
  shown.versions ? shown.versions.slice().reverse().map((number) => h('option', { value: number, selected: number === version },
    `v${number}${number === head.live_version ? ` · ${t('status.live')}` : ''}`)) : null);
  clear(page,
    h('nav', { class: 'crumbs' }, h('a', { href: '#/scenarios' }, t('scenarios.title')), ' / ', id),
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', {}, shown.name || id), h('p', { class: 'muted' },
        statusBadge(head.status), ' ', h('span', { class: 'mono' }, id), ' · ',
        t('scenario.updated', { at: dateTime(head.updated_at) }))),
      h('div', { class: 'actions' }, actions,
        h('a', { class: 'button', href: `#/scenarios/${path(id)}/edit` }, t('action.edit')),
        h('a', { class: 'button', href: `#/scenarios/${path(id)}/simulate` }, t('action.simulate')))),
    message,
    shown.definition.description ? h('p', { class: 'lead' }, shown.definition.description) : null,
    h('div', { class: 'toolbar' }, h('label', { for: 'version' }, t('scenario.version')), versions),
    h('section', { class: 'card', 'aria-labelledby': 'funnel-title' },
      h('h2', { id: 'funnel-title' }, t('scenario.funnel')),
      report ? funnel(report) : h('p', { class: 'muted', id: 'no-report' }, t('report.none'))),
    h('section', { class: 'card', 'aria-labelledby': 'flow-title' },
      h('h2', { id: 'flow-title' }, t('scenario.flow')),
      drawFlow(shown.definition, report)));
}

function funnel(report) {
  const totals = report.totals;
  const stages = ['entered', 'sent', 'delivered', 'opened', 'clicked', 'converted'];
  const widest = Math.max(1, ...stages.map((name) => totals[name] || 0));
  return h('div', {},
    h('ol', { class: 'funnel', id: 'funnel' }, stages.map((name) => {
      const bar = h('span', { class: 'funnel-bar' });
      bar.style.width = `${Math.round(((totals[name] || 0) / widest) * 100)}%`;  // CSSOM: allowed by the policy
      return h('li', { dataset: { metric: name } },
        h('span', { class: 'funnel-label' }, t(`metric.${name}`)),
        h('span', { class: 'funnel-track' }, bar),
        h('span', { class: 'funnel-value num' }, num(totals[name]),
          name in (totals.rates || {}) ? h('span', { class: 'muted small' }, ` ${pct(totals.rates[name])}`) : null));
    })),
    h('p', { class: 'muted small' }, ['unsubscribed', 'bounced', 'complained', 'exited', 'failed']
      .map((name) => `${t(`metric.${name}`)} ${num(totals[name])}`).join(' · ')));
}

export function problemList(details) {
  if (!details || !details.length) return null;
  return h('ul', { class: 'problems' }, details.map((detail) => h('li', {},
    h('code', { class: 'path' }, detail.path), ' ', detail.message)));
}
