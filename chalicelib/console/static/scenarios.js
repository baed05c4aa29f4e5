// The scenarios: status, versions and, when reports are available, the funnel of each.
import * as api from './api.js';
import { append, clear, h, path } from './dom.js';
import { num, pct, t } from './i18n.js';

export const FUNNEL = ['entered', 'sent', 'opened', 'clicked', 'converted'];

export function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, t(`status.${status}`));
}

// The report of a scenario, or null where there is none (no report route, or nothing to report).
export async function report(id, version) {
  return api.maybe(`/scenarios/${path(id)}/report`, { version });
}

export async function render(page) {
  const { items } = await api.get('/scenarios');
  const reports = await Promise.all(items.map((item) => report(item.id).catch(() => null)));
  const head = h('div', { class: 'page-head' },
    h('h1', {}, t('scenarios.title')),
    h('a', { class: 'button primary', href: '#/new' }, t('nav.new')));
  if (!items.length) {
    clear(page, head, h('div', { class: 'card empty' }, h('p', {}, t('scenarios.none')),
      h('a', { class: 'button', href: '#/new' }, t('scenarios.first'))));
    return;
  }
  const rows = items.map((item, index) => {
    const totals = reports[index] ? reports[index].totals : null;
    return h('tr', { dataset: { scenario: item.id } },
      h('th', { scope: 'row' }, h('a', { href: `#/scenarios/${path(item.id)}` }, item.name || item.id),
        h('div', { class: 'muted mono small' }, item.id)),
      h('td', {}, statusBadge(item.status)),
      h('td', { class: 'num' }, `v${item.latest_version}`,
        item.live_version && ['live', 'paused'].includes(item.status) ? h('div', { class: 'muted small' }, t('scenarios.live', { version: item.live_version })) : null),
      ...FUNNEL.map((name) => h('td', { class: 'num', dataset: { metric: name } },
        totals ? num(totals[name]) : (name === 'entered' ? num(item.entered) : h('span', { class: 'muted', title: t('report.none') }, '—')),
        totals && name !== 'entered' && name !== 'sent' && totals.rates
          ? h('div', { class: 'muted small' }, pct(totals.rates[name])) : null)));
  });
  const table = h('table', { class: 'table', id: 'scenario-list' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, t('scenarios.name')),
      h('th', { scope: 'col' }, t('scenarios.status')),
      h('th', { scope: 'col', class: 'num' }, t('scenarios.version')),
      ...FUNNEL.map((name) => h('th', { scope: 'col', class: 'num' }, t(`metric.${name}`))))),
    h('tbody', {}, rows));
  clear(page, head, h('div', { class: 'card flush' }, table));
  if (!reports.some(Boolean)) append(page, h('p', { class: 'hint', id: 'no-reports' }, t('report.none')));
}
