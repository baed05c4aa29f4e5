// Where a JSON path (`steps[2].then[0].duration`, as the API reports problems) starts in the text:
// the same reader as the command line's (cli/positions.py), so both point at the same line.
const WHITESPACE = /[ \t\n\r]*/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/y;
const STRING = /"(?:[^"\\]|\\.)*"/y;

export function join(path, key) {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

// {path: offset} for every value of the document, or null when the text is not JSON.
export function offsets(text) {
  const found = new Map();
  let at = 0;
  const skip = () => { WHITESPACE.lastIndex = at; WHITESPACE.exec(text); at = WHITESPACE.lastIndex; };
  const expect = (char) => { if (text[at] !== char) throw new Error(char); at += 1; skip(); };
  const string = () => {
    STRING.lastIndex = at;
    const match = STRING.exec(text);
    if (!match) throw new Error('string');
    at = STRING.lastIndex;
    return JSON.parse(match[0]);
  };
  const value = (path) => {
    found.set(path, at);
    const char = text[at];
    if (char === '{') {
      expect('{');
      if (text[at] === '}') { expect('}'); return; }
      for (;;) {
        const key = string();
        skip(); expect(':');
        value(join(path, key));
        skip();
        if (text[at] === '}') { expect('}'); return; }
        expect(',');
      }
    } else if (char === '[') {
      expect('[');
      if (text[at] === ']') { expect(']'); return; }
      for (let index = 0; ; index += 1) {
        value(join(path, index));
        skip();
        if (text[at] === ']') { expect(']'); return; }
        expect(',');
      }
    } else if (char === '"') {
      string();
    } else {
      for (const literal of ['true', 'false', 'null']) {
        if (text.startsWith(literal, at)) { at += literal.length; return; }
      }
      NUMBER.lastIndex = at;
      if (!NUMBER.exec(text)) throw new Error('value');
      at = NUMBER.lastIndex;
    }
  };
  try {
    skip();
    value('');
    skip();
    return at === text.length ? found : null;
  } catch {
    return null;
  }
}

// The offset of `path`, or of its nearest ancestor present in the text.
export function offsetOf(path, found) {
  let current = path;
  for (;;) {
    if (found.has(current)) return found.get(current);
    if (!current) return 0;
    const cut = Math.max(current.lastIndexOf('.'), current.lastIndexOf('['));
    current = cut > 0 ? current.slice(0, cut) : '';
  }
}

export const lineAt = (text, offset) => text.slice(0, offset).split('\n').length;
