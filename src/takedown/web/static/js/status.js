// Check a case, add files to it, withdraw one file or the whole case. The case number and PIN
// are kept in this page's memory only and travel in POST bodies (never in a URL).

import { addMedia, caseStatus, toApiMedia, withdrawCase, withdrawMedia } from './api.js';
import { errorText } from './errors.js';
import { FilePicker } from './files.js';
import { lang, limits, plural, t } from './i18n.js';

const $ = (id) => document.getElementById(id);

let session = null; // {number, pin}
let current = null; // the last status answer
let pendingConfirm = null; // {action, returnFocus}

function say(text) {
  $('status-message').textContent = text;
}

const dayFormat = new Intl.DateTimeFormat(lang, { dateStyle: 'long', timeZone: 'UTC' });

function formatDay(day) {
  const date = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? day : dayFormat.format(date);
}

/** "Photo 1", "Video 2": files are numbered per kind in the order they were reported. */
function mediaNames(media) {
  const counts = { image: 0, video: 0 };
  return media.map((item) => {
    counts[item.kind] += 1;
    return t(`status.mediaName.${item.kind}`, { n: counts[item.kind] });
  });
}

// ---------------------------------------------------------------- log in

$('status-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const number = $('case-input').value.trim();
  const pin = $('pin-input').value.trim();
  if (!number || !pin) {
    say(t('status.missing'));
    (number ? $('pin-input') : $('case-input')).focus();
    return;
  }
  say(t('status.checking'));
  try {
    const status = await caseStatus(number, pin);
    session = { number: status.case_number, pin };
    $('pin-input').value = '';
    say('');
    render(status);
    $('login').hidden = true;
    $('case').hidden = false;
    $('case-title').focus();
    if (status.status === 'active') picker.prepare();
  } catch (error) {
    say(errorText(error));
  }
});

async function refresh(message = '') {
  try {
    const status = await caseStatus(session.number, session.pin);
    render(status);
    say(message);
  } catch (error) {
    say(errorText(error));
  }
}

// ---------------------------------------------------------------- the case

function render(status) {
  current = status;
  const active = status.status === 'active';
  $('case-title').textContent = t('status.caseTitle', { case: status.case_number });
  $('case-state').textContent = active ? t('status.active') : t('status.withdrawnCase');
  $('case-meta').textContent = `${t('status.created', { day: formatDay(status.created_day) })} · ${t(
    `status.list.${status.age_group}`,
  )}`;
  const names = mediaNames(status.media);
  const rows = status.media.map((item, index) => {
    const row = document.createElement('tr');
    row.dataset.mediaId = item.media_id;
    const name = document.createElement('th');
    name.scope = 'row';
    name.textContent = names[index];
    const state = document.createElement('td');
    state.textContent = t(`status.state.${item.status}`);
    const counts = document.createElement('span');
    counts.className = 'counts';
    counts.textContent = t('status.counts', { seen: item.seen_by, removed: item.removed_by });
    state.append(counts);
    const action = document.createElement('td');
    if (active && item.status !== 'withdrawn') {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = t('status.withdraw');
      button.setAttribute('aria-label', t('status.withdrawLabel', { name: names[index] }));
      button.addEventListener('click', () =>
        confirm(t('status.confirmOne', { name: names[index] }), button, async () => {
          await withdrawMedia(session.number, session.pin, item.media_id);
          return t('status.withdrawnOne', { name: names[index] });
        }),
      );
      action.append(button);
    }
    row.append(name, state, action);
    return row;
  });
  $('media-rows').replaceChildren(...rows);
  $('withdraw-case').hidden = !active;
  $('add').hidden = !active;
}

// ---------------------------------------------------------------- withdrawing

function confirm(question, returnFocus, action) {
  pendingConfirm = { action, returnFocus };
  $('confirm-text').textContent = question;
  $('confirm').hidden = false;
  $('confirm-text').focus();
}

function closeConfirm() {
  const pending = pendingConfirm;
  pendingConfirm = null;
  $('confirm').hidden = true;
  return pending;
}

$('confirm-no').addEventListener('click', () => {
  const pending = closeConfirm();
  if (pending?.returnFocus?.isConnected) pending.returnFocus.focus();
});

$('confirm-yes').addEventListener('click', async () => {
  const pending = closeConfirm();
  if (!pending) return;
  try {
    const done = await pending.action();
    await refresh(done);
  } catch (error) {
    say(errorText(error));
  }
  $('case-title').focus();
});

$('withdraw-case').addEventListener('click', () =>
  confirm(t('status.confirmCase'), $('withdraw-case'), async () => {
    await withdrawCase(session.number, session.pin);
    return t('status.withdrawnAll');
  }),
);

$('refresh').addEventListener('click', () => refresh());

$('another').addEventListener('click', () => {
  session = null;
  current = null;
  closeConfirm();
  picker.clear();
  $('media-rows').replaceChildren();
  $('case').hidden = true;
  $('login').hidden = false;
  $('case-input').value = '';
  say('');
  $('case-input').focus();
});

// ---------------------------------------------------------------- adding files

const picker = new FilePicker();

$('add-send').addEventListener('click', async () => {
  if (picker.busy()) {
    $('add-status').textContent = t('files.busy');
    return;
  }
  const ready = picker.ready();
  if (!ready.length || !session || current?.status !== 'active') {
    $('add-status').textContent = t('files.nothing');
    return;
  }
  $('add-send').disabled = true;
  try {
    const media = ready.map((item) => toApiMedia(item.result));
    const ids = await addMedia(session.number, session.pin, media, limits, (stage) => {
      $('add-status').textContent = stage === 'pow' ? t('send.pow') : t('send.sending');
    });
    picker.clear();
    $('add-status').textContent = plural('status.added', ids.length);
    await refresh();
  } catch (error) {
    $('add-status').textContent = t('send.failed', { reason: errorText(error) });
  } finally {
    $('add-send').disabled = false;
  }
});
