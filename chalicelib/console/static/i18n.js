// French and English labels; the language follows the browser until the person picks one.
import labels from './labels.json' with { type: 'json' };

const STORED = 'parcours.language';

export function language() {
  const chosen = localStorage.getItem(STORED);
  if (chosen && chosen in labels) return chosen;
  return (navigator.language || 'en').toLowerCase().startsWith('fr') ? 'fr' : 'en';
}

export function setLanguage(value) {
  localStorage.setItem(STORED, value in labels ? value : 'en');
}

export function t(key, values = {}) {
  const text = labels[language()][key] ?? labels.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

// The static labels of index.html, and its language.
export function applyLanguage() {
  document.documentElement.lang = language();
  document.getElementById('lang').value = language();
  for (const element of document.querySelectorAll('[data-i18n]')) element.textContent = t(element.dataset.i18n);
}

export const num = (value) => new Intl.NumberFormat(language()).format(Number(value) || 0);

export const pct = (rate) => new Intl.NumberFormat(language(), { style: 'percent', maximumFractionDigits: 1 })
  .format(Number(rate) || 0);

export function dateTime(iso) {
  if (!iso) return '';
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return String(iso);
  return new Intl.DateTimeFormat(language(), { dateStyle: 'medium', timeStyle: 'short' }).format(moment);
}

// PT1H -> "1 h", P3D -> "3 d" (ISO 8601 durations as scenarios write them).
export function duration(text) {
  const match = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(text || '');
  if (!match) return text || '';
  const units = ['Y', 'M', 'W', 'D', 'H', 'TM', 'S'];
  const parts = units.map((unit, index) => (match[index + 1] ? t(`duration.${unit}`, { n: match[index + 1] }) : null));
  return parts.filter(Boolean).join(' ') || text;
}
