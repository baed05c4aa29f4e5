// An email shown as it was sent, inside a sandboxed frame (no scripts, no forms, no navigation).
//
// The frame's srcdoc inherits this page's Content-Security-Policy, which refuses style attributes
// and <style> elements: the email's styles are taken out of the markup and applied through the
// CSSOM once the frame is loaded (allow-same-origin lets this page reach it; without allow-scripts
// the email itself runs nothing). Images are not fetched: the open pixel would count the preview
// as an open, and remote images would break offline. Links show their target but lead nowhere:
// a click would be counted too.
import { h } from './dom.js';
import { t } from './i18n.js';

export function emailFrame(html, title) {
  // Styles leave the markup before any parser sees it: parsing a style attribute is what the
  // policy refuses (and logs), even in a document that is never shown.
  const sheets = [];
  const inert = (html || '')
    .replace(/<style\b[^>]*>([\s\S]*?)<\/style\s*>/gi, (whole, css) => { sheets.push(css); return ''; })
    .replace(/(<[a-z][^>]*?\s)style(\s*=)/gi, '$1data-preview-style$2');
  const doc = new DOMParser().parseFromString(inert, 'text/html');
  doc.querySelectorAll('script, noscript, link, meta, base, object, embed, iframe, frame, form, svg')
    .forEach((element) => element.remove());
  doc.querySelectorAll('img').forEach((image) => {
    const source = image.getAttribute('src') || '';
    const tiny = (name) => image.hasAttribute(name) && Number(image.getAttribute(name)) <= 1;
    if (tiny('width') && tiny('height')) {
      image.remove();  // a tracking pixel
      return;
    }
    image.removeAttribute('srcset');
    if (!source.startsWith('data:')) {
      image.removeAttribute('src');
      image.setAttribute('title', source);
      if (!image.getAttribute('alt')) image.setAttribute('alt', t('preview.image'));
    }
  });
  doc.querySelectorAll('[background]').forEach((element) => element.removeAttribute('background'));
  doc.querySelectorAll('a[href]').forEach((link) => {
    link.setAttribute('title', link.getAttribute('href'));
    link.removeAttribute('href');
  });
  const frame = h('iframe', { class: 'email-frame', sandbox: 'allow-same-origin', title, referrerpolicy: 'no-referrer' });
  frame.addEventListener('load', () => {
    const inner = frame.contentDocument;
    if (!inner) return;
    inner.querySelectorAll('[data-preview-style]').forEach((element) => {
      element.style.cssText = element.dataset.previewStyle;  // the CSSOM, which the policy allows
      delete element.dataset.previewStyle;
    });
    const base = new frame.contentWindow.CSSStyleSheet();
    base.replaceSync('body{font-family:system-ui,sans-serif;margin:16px;color:#1f2430;} a{color:#2848a8;text-decoration:underline;cursor:default;} '
      + sheets.join('\n'));
    inner.adoptedStyleSheets = [base];
    frame.style.height = `${Math.min(900, Math.max(80, inner.body.scrollHeight + 40))}px`;  // body plus its margins
  });
  frame.srcdoc = `<!DOCTYPE html>${doc.documentElement.outerHTML}`;
  return frame;
}
