// A scenario drawn from its JSON: the trigger, each step as a box, branches side by side, with
// the report's counts on each step and branch when there is a report.
import { h } from './dom.js';
import { duration, num, t } from './i18n.js';

export function drawFlow(definition, report) {
  const counts = new Map(((report && report.steps) || []).map((step) => [step.id, step]));
  return h('div', { class: 'flow', id: 'flow' },
    h('div', { class: 'flow-start' },
      h('div', { class: 'node node-trigger' },
        h('div', { class: 'node-kind' }, t('flow.trigger')),
        h('div', { class: 'node-title' }, triggerText(definition.trigger)),
        report ? h('div', { class: 'count', dataset: { count: 'entered' } },
          h('strong', {}, num(report.totals.entered)), ' ', t('metric.entered')) : null)),
    steps(definition.steps || [], counts, Boolean(report)),
    h('div', { class: 'flow-end' }, h('span', { class: 'node-end' }, t('flow.end'))),
    (definition.goals || []).length ? h('div', { class: 'goals' },
      h('span', { class: 'node-kind' }, t('flow.goals')), ' ',
      definition.goals.map((goal) => h('span', { class: 'chip' }, goal.event)),
      report ? h('span', { class: 'count', dataset: { count: 'converted' } },
        h('strong', {}, num(report.totals.converted)), ' ', t('metric.converted')) : null) : null);
}

function steps(list, counts, reported) {
  return h('ol', { class: 'flow-steps' }, list.map((step) => h('li', { class: 'flow-item' }, node(step, counts, reported))));
}

function node(step, counts, reported) {
  const count = counts.get(step.id);
  const box = h('div', { class: `node node-${step.type}`, dataset: { step: step.id } },
    h('div', { class: 'node-kind' }, t(`step.${step.type}`)),
    h('div', { class: 'node-title' }, summary(step)),
    h('div', { class: 'node-id mono' }, step.id),
    reported ? stepCounts(count, step.type) : null);
  const branches = branchesOf(step);
  if (!branches.length) return box;
  return h('div', { class: 'node-group' }, box,
    h('div', { class: 'branches', dataset: { branchesOf: step.id } }, branches.map(([key, label, inner]) =>
      h('div', { class: 'branch', dataset: { branch: key } },
        h('div', { class: 'branch-label' }, label,
          reported ? h('span', { class: 'count', dataset: { count: `branch-${key}` } },
            num(count && count.branches ? count.branches[key] || 0 : 0)) : null),
        inner.length ? steps(inner, counts, reported) : h('p', { class: 'branch-empty muted' }, t('flow.continue'))))));
}

function stepCounts(count, type) {
  const reached = count ? count.reached : 0;
  const parts = [h('span', { class: 'count', dataset: { count: 'reached' } }, h('strong', {}, num(reached)), ' ',
    t('metric.reached'))];
  if (count && count.waiting) parts.push(h('span', { class: 'count muted' }, num(count.waiting), ' ', t('metric.waiting')));
  if (count && type === 'email') {
    parts.push(h('span', { class: 'count muted' }, `${num(count.sent)} ${t('metric.sent')} · ${num(count.opened)} `
      + `${t('metric.opened')} · ${num(count.clicked)} ${t('metric.clicked')}`));
  } else if (count && type === 'sms') {
    parts.push(h('span', { class: 'count muted' }, `${num(count.sent)} ${t('metric.sent')}`));
  }
  return h('div', { class: 'node-counts' }, parts);
}

function branchesOf(step) {
  if (step.type === 'if') return [['then', t('flow.if.then'), step.then || []], ['else', t('flow.if.else'), step.else || []]];
  if (step.type === 'wait_for') {
    return [['then', t('flow.waitFor.then'), step.then || []], ['else', t('flow.waitFor.else'), step.else || []]];
  }
  if (step.type === 'split') {
    return (step.branches || []).map((branch, index) => [String(index),
      `${String.fromCharCode(65 + (index % 26))} · ${branch.weight}%`, branch.steps || []]);
  }
  return [];
}

function triggerText(trigger) {
  if (!trigger) return '';
  if (trigger.event) return trigger.event;
  if (trigger.date) return t('flow.date', { field: trigger.date.field, at: trigger.date.at || '00:00' });
  return JSON.stringify(trigger);
}

function summary(step) {
  switch (step.type) {
    case 'email': return step.template ? t('flow.template', { id: step.template }) : (step.subject || '');
    case 'sms': return step.template ? t('flow.template', { id: step.template }) : (step.text || '');
    case 'wait':
      if (step.duration) return duration(step.duration);
      if (step.until && step.until.time) return t('flow.untilTime', { time: step.until.time });
      if (step.until && step.until.date_field) return t('flow.untilDate', { field: step.until.date_field });
      return '';
    case 'wait_for': return t('flow.waitForEvent', { event: step.event, timeout: duration(step.timeout || '') });
    case 'if': return conditionText(step.condition);
    case 'split': return t('flow.split', { count: (step.branches || []).length });
    case 'add_to_list': case 'remove_from_list': return step.list || '';
    case 'score': return t('flow.points', { points: step.points });
    case 'update_contact': return Object.keys(step.set || {}).join(', ');
    case 'webhook': return step.url || '';
    default: return '';
  }
}

function conditionText(condition) {
  if (!condition || typeof condition !== 'object') return '';
  if (condition.all) return condition.all.map(conditionText).join(` ${t('flow.and')} `);
  if (condition.any) return condition.any.map(conditionText).join(` ${t('flow.or')} `);
  if (condition.not) return `${t('flow.not')} ${conditionText(condition.not)}`;
  if (condition.field) return `${condition.field} ${condition.op} ${condition.value === undefined ? '' : JSON.stringify(condition.value)}`.trim();
  if (condition.event) return t('flow.did', { event: condition.event });
  if (condition.in_list) return t('flow.inList', { list: condition.in_list });
  if (condition.in_segment) return t('flow.inSegment', { segment: condition.in_segment });
  return '';
}
