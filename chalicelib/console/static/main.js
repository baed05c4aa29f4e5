// The console's shell: sign-in, language, navigation, and the page for the address after '#'.
import * as api from './api.js';
import { clear, h } from './dom.js';
import { applyLanguage, language, setLanguage, t } from './i18n.js';
import * as contacts from './contacts.js';
import * as editor from './editor.js';
import * as outbox from './outbox.js';
import * as scenario from './scenario.js';
import * as scenarios from './scenarios.js';
import * as simulate from './simulate.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signOutButton = document.getElementById('sign-out');
const languages = document.getElementById('lang');

const ROUTES = [
  [/^scenarios$/, scenarios.render, 'scenarios'],
  [/^new$/, editor.render, 'new'],
  [/^scenarios\/([^/]+)$/, scenario.render, 'scenarios'],
  [/^scenarios\/([^/]+)\/edit$/, editor.render, 'scenarios'],
  [/^scenarios\/([^/]+)\/simulate$/, simulate.render, 'scenarios'],
  [/^contacts$/, contacts.renderSearch, 'contacts'],
  [/^contacts\/([^/]+)$/, contacts.renderContact, 'contacts'],
  [/^outbox$/, outbox.render, 'outbox'],
];

let rendering = 0;

async function show() {
  applyLanguage();
  if (!api.key()) {
    nav.hidden = true;
    signOutButton.hidden = true;
    renderSignIn();
    return;
  }
  nav.hidden = false;
  signOutButton.hidden = false;
  const route = location.hash.startsWith('#/') ? location.hash.slice(2).split('?')[0] : 'scenarios';
  const found = ROUTES.map(([pattern, render, section]) => [route.match(pattern), render, section])
    .find(([match]) => match);
  const [match, render, section] = found || [[], scenarios.render, 'scenarios'];
  for (const link of nav.querySelectorAll('a')) {
    if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const ticket = ++rendering;
  const page = h('div', { class: 'page', 'aria-busy': 'true' }, h('p', { class: 'muted' }, t('loading')));
  clear(main, page);
  try {
    await render(page, ...match.slice(1).map(decodeURIComponent));
  } catch (error) {
    if (ticket !== rendering) return;
    if (error instanceof api.ApiError && error.status === 401) {
      api.signOut();
      renderSignIn(t('signIn.expired'));
      return;
    }
    clear(page, h('div', { class: 'notice error', role: 'alert' }, error.message));
  } finally {
    page.removeAttribute('aria-busy');
  }
}

function renderSignIn(message) {
  const input = h('input', { id: 'api-key', name: 'key', type: 'password', autocomplete: 'off', required: true,
    spellcheck: 'false' });
  const status = h('p', { class: 'form-error', role: 'alert' }, message || '');
  const form = h('form', { class: 'card sign-in', id: 'sign-in' },
    h('h1', {}, t('signIn.title')),
    h('p', { class: 'muted' }, t('signIn.lead')),
    h('label', { for: 'api-key' }, t('signIn.key')),
    input,
    status,
    h('button', { class: 'button primary', type: 'submit' }, t('signIn.submit')),
    h('p', { class: 'hint' }, t('signIn.hint')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    api.signIn(input.value.trim());
    try {
      await api.get('/scenarios');
    } catch (error) {
      api.signOut();
      status.textContent = error.status === 401 ? t('signIn.wrong')
        : error.status === 403 ? t('signIn.role') : error.message;
      input.focus();
      return;
    }
    await detectOutbox();
    show();
  });
  clear(main, form);
  input.focus();
}

// The outbox exists on the local stack only (and for admin keys): its link shows when it answers.
async function detectOutbox() {
  const link = nav.querySelector('[data-section="outbox"]');
  try {
    await api.get('/local/outbox', { limit: 1 });
    link.hidden = false;
  } catch {
    link.hidden = true;
  }
}

languages.value = language();
languages.addEventListener('change', () => {
  setLanguage(languages.value);
  show();
});
signOutButton.addEventListener('click', () => {
  api.signOut();
  location.hash = '#/scenarios';
  show();
});
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', show);
if (api.key()) await detectOutbox();
show();
