// The page's messages: the server renders the catalogue of the page's language into a JSON
// block (<script type="application/json" id="messages">), which is data, never executed.

const messages = JSON.parse(document.getElementById('messages')?.textContent || '{}');

/** The page's language tag (the <html lang> the server chose). */
export const lang = document.documentElement.lang || 'en';

const plurals = new Intl.PluralRules(lang);

/** The message `key` with `{name}` placeholders filled from `values`. */
export function t(key, values = {}) {
  const message = messages[key];
  if (message === undefined) return key;
  return message.replace(/\{([a-z_][a-z0-9_]*)\}/g, (whole, name) =>
    name in values ? String(values[name]) : whole,
  );
}

/** The plural form of `key` for `count` (keys `key.one`, `key.other`, ...). */
export function plural(key, count, values = {}) {
  const form = `${key}.${plurals.select(count)}`;
  return t(form in messages ? form : `${key}.other`, { count, ...values });
}

/** Whether the catalogue has `key`. */
export function has(key) {
  return key in messages;
}

/** The server's limits (docs/api.md, "Limits"), rendered into the page. */
export const limits = JSON.parse(document.getElementById('limits')?.textContent || '{}');
