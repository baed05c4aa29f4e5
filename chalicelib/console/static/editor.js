// Upload or paste a scenario's JSON, validate it (each problem at its path and line), save, publish.
import * as api from './api.js';
import { append, clear, h, path } from './dom.js';
import { t } from './i18n.js';
import { lineAt, offsetOf, offsets } from './positions.js';

const STARTER = {
  id: 'welcome', name: 'Welcome', trigger: { event: 'signup' },
  steps: [{ id: 'hello', type: 'email', subject: 'Welcome {{ contact.first_name | default(\'\') }}!',
    html: '<p>Thank you for signing up.</p>' }],
};

export async function render(page, id) {
  const existing = id ? await api.get(`/scenarios/${path(id)}`) : null;
  const text = h('textarea', { id: 'scenario-json', class: 'code', rows: 16, spellcheck: 'false',
    'aria-describedby': 'editor-hint' });
  text.value = JSON.stringify(existing ? existing.definition : STARTER, null, 2);
  const file = h('input', { id: 'scenario-file', type: 'file', accept: '.json,application/json' });
  const result = h('div', { id: 'editor-result', class: 'result', 'aria-live': 'polite' });
  const publish = h('button', { id: 'publish', class: 'button', type: 'button', hidden: !existing }, t('action.publish'));

  file.addEventListener('change', async () => {
    if (!file.files.length) return;
    text.value = await file.files[0].text();
    clear(result, h('p', { class: 'notice' }, t('editor.loaded', { name: file.files[0].name })));
  });

  const parsed = () => {
    try {
      return JSON.parse(text.value);
    } catch (error) {
      clear(result, h('div', { class: 'notice error', role: 'alert' }, t('editor.notJson'), ' ', error.message));
      return undefined;
    }
  };

  const showProblems = (title, problems, kind = 'error') => {
    const found = offsets(text.value) || new Map();
    clear(result, h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, title),
      h('ul', { class: 'problems', id: 'problems' }, problems.map((problem) => {
        const offset = offsetOf(problem.path, found);
        const line = lineAt(text.value, offset);
        return h('li', { dataset: { path: problem.path } },
          h('button', { class: 'link', type: 'button', title: t('editor.goTo'),
            onclick: () => { text.focus(); text.setSelectionRange(offset, offset); } },
          t('editor.line', { line })),
          ' ', h('code', { class: 'path' }, problem.path), ' ', h('span', {}, problem.message));
      })));
    result.scrollIntoView({ block: 'nearest' });
  };

  const validate = async () => {
    const body = parsed();
    if (body === undefined) return;
    let answer;
    try {
      answer = await api.post('/scenarios/validate', body);
    } catch (error) {
      clear(result, h('div', { class: 'notice error', role: 'alert' }, error.message));
      return;
    }
    if (!answer.valid) {
      showProblems(t('editor.invalid', { count: answer.problems.length }), answer.problems);
    } else if (!answer.publishable) {
      showProblems(t('editor.missing'), answer.missing, 'warning');
    } else {
      clear(result, h('div', { class: 'notice success', role: 'status' }, t('editor.valid')));
    }
  };

  const save = async () => {
    const body = parsed();
    if (body === undefined) return;
    const known = body && typeof body.id === 'string' && body.id ? await api.maybe(`/scenarios/${path(body.id)}`) : null;
    try {
      const saved = known ? await api.put(`/scenarios/${path(body.id)}`, body) : await api.post('/scenarios', body);
      publish.hidden = false;
      publish.dataset.id = saved.id;
      clear(result, h('div', { class: 'notice success', role: 'status' },
        t('editor.saved', { version: saved.latest_version }), ' ',
        h('a', { href: `#/scenarios/${path(saved.id)}` }, t('editor.open'))));
    } catch (error) {
      if (error.status === 422) showProblems(error.message, error.details);
      else clear(result, h('div', { class: 'notice error', role: 'alert' }, error.message));
    }
  };

  publish.addEventListener('click', async () => {
    const target = publish.dataset.id || (existing && existing.id);
    try {
      const live = await api.post(`/scenarios/${path(target)}/publish`);
      clear(result, h('div', { class: 'notice success', role: 'status' },
        t('editor.published', { version: live.live_version }), ' ',
        h('a', { href: `#/scenarios/${path(live.id)}` }, t('editor.open'))));
    } catch (error) {
      if (error.status === 422) showProblems(error.message, error.details);
      else clear(result, h('div', { class: 'notice error', role: 'alert' }, error.message));
    }
  });

  clear(page,
    h('div', { class: 'page-head' }, h('h1', {}, existing ? t('editor.editTitle', { id }) : t('editor.newTitle'))),
    h('div', { class: 'card' },
      h('div', { class: 'toolbar' },
        h('label', { for: 'scenario-file' }, t('editor.upload')), file,
        h('span', { id: 'editor-hint', class: 'hint' }, t('editor.hint'))),
      h('label', { for: 'scenario-json', class: 'visually-hidden' }, t('editor.json')),
      text,
      h('div', { class: 'actions' },
        h('button', { id: 'validate', class: 'button', type: 'button', onclick: validate }, t('action.validate')),
        h('button', { id: 'save', class: 'button primary', type: 'button', onclick: save },
          existing ? t('action.saveVersion') : t('action.save')),
        publish)),
    result);
  append(page, h('p', { class: 'hint' }, t('editor.schema'), ' ', h('a', { href: 'schemas/scenario.json' }, 'scenario.json')));
}
