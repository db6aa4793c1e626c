// The report flow: age question -> choose files (fingerprinted here) -> review -> send ->
// case number and PIN. Only the JSON of hashes is sent (api.js); previews are object URLs of
// the local files, shown on this device only.

import { createCase, toApiMedia } from './api.js';
import { saveText } from './download.js';
import { errorText } from './errors.js';
import { FilePicker, fingerprintCount } from './files.js';
import { lang, limits, plural, t } from './i18n.js';

const $ = (id) => document.getElementById(id);

const steps = ['step-age', 'step-files', 'step-review', 'step-done'];
let ageGroup = null;
let previews = [];
let credentials = null;
let saved = false;

function show(step, headingId) {
  for (const id of steps) $(id).hidden = id !== step;
  $(headingId).focus();
}

function announce(text) {
  $('announcer').textContent = '';
  // A fresh node change, so that the same text twice is announced twice.
  requestAnimationFrame(() => {
    $('announcer').textContent = text;
  });
}

// ---------------------------------------------------------------- step 1: age

const ageForm = $('age-form');
ageForm.addEventListener('change', () => {
  const chosen = ageForm.elements.age.value;
  $('minor-note').hidden = chosen !== 'minor';
  if (chosen) $('age-error').hidden = true;
});
ageForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const chosen = ageForm.elements.age.value;
  if (!chosen) {
    $('age-error').hidden = false;
    $('age-minor').focus();
    return;
  }
  ageGroup = chosen;
  show('step-files', 'files-title');
  picker.prepare();
});

// ---------------------------------------------------------------- step 2: files

const picker = new FilePicker({
  onChange: () => {
    const total = picker.items.length;
    if (total && !picker.busy() && picker.ready().length) {
      $('files-message').textContent = t('files.allReady', { total });
    }
  },
});

$('to-review').addEventListener('click', () => {
  if (picker.busy()) {
    $('files-message').textContent = t('files.busy');
    return;
  }
  if (!picker.ready().length) {
    $('files-message').textContent = t('files.nothing');
    $('file-input').focus();
    return;
  }
  renderReview();
  show('step-review', 'review-title');
});

// ---------------------------------------------------------------- step 3: review

function clearPreviews() {
  for (const url of previews) URL.revokeObjectURL(url);
  previews = [];
}

function preview(item) {
  const box = document.createElement('div');
  box.className = 'thumb';
  const label = t('review.preview', { name: item.name });
  const isVideo = item.result.kind === 'video';
  const url = URL.createObjectURL(item.file);
  previews.push(url);
  const media = document.createElement(isVideo ? 'video' : 'img');
  media.className = 'thumb';
  if (isVideo) {
    media.muted = true;
    media.preload = 'metadata';
    media.setAttribute('aria-label', label);
  } else {
    media.alt = label;
  }
  // Formats the browser cannot show (e.g. HEIC) get a plain label instead of a picture.
  media.addEventListener('error', () => {
    box.textContent = isVideo ? t('review.video') : t('review.image');
    media.replaceWith(box);
  });
  media.src = url;
  return media;
}

function payload() {
  const media = picker.ready().map((item) => toApiMedia(item.result));
  return { age_group: ageGroup, language: lang, media };
}

function renderReview() {
  clearPreviews();
  const list = $('review-list');
  list.replaceChildren();
  const ready = picker.ready();
  for (const [index, item] of ready.entries()) {
    const li = document.createElement('li');
    const text = document.createElement('div');
    const name = document.createElement('p');
    name.className = 'file-name';
    name.textContent = item.name;
    const count = document.createElement('p');
    count.className = 'file-state';
    const kind = item.result.kind === 'video' ? t('review.video') : t('review.image');
    count.textContent = `${kind} · ${plural('review.count', fingerprintCount(item.result))}`;
    text.append(name, count);
    if (item.exactOnly) {
      const notice = document.createElement('p');
      notice.className = 'notice';
      notice.textContent = t('files.exactOnly');
      text.append(notice);
    }
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = t('review.remove');
    remove.setAttribute('aria-label', t('review.removeLabel', { name: item.name }));
    remove.addEventListener('click', () => {
      picker.remove(item.id);
      renderReview();
      announce(t('review.removed', { name: item.name }));
      const buttons = $('review-list').querySelectorAll('button');
      (buttons[Math.min(index, buttons.length - 1)] || $('review-more')).focus();
    });
    li.append(preview(item), text, remove);
    list.append(li);
  }
  $('send').disabled = ready.length === 0;
  $('send-status').textContent = ready.length ? '' : t('review.empty');
  if ($('payload-details').open) $('payload').textContent = JSON.stringify(payload(), null, 2);
}

$('payload-details').addEventListener('toggle', () => {
  if ($('payload-details').open) $('payload').textContent = JSON.stringify(payload(), null, 2);
});

$('review-more').addEventListener('click', () => {
  clearPreviews();
  show('step-files', 'files-title');
});

$('send').addEventListener('click', async () => {
  const body = payload();
  if (!body.media.length) return;
  const buttons = [$('send'), $('review-more')];
  for (const button of buttons) button.disabled = true;
  try {
    const created = await createCase(ageGroup, lang, body.media, limits, (stage) => {
      $('send-status').textContent = stage === 'pow' ? t('send.pow') : t('send.sending');
    });
    showCredentials(created);
  } catch (error) {
    $('send-status').textContent = t('send.failed', { reason: errorText(error) });
  } finally {
    for (const button of buttons) button.disabled = false;
  }
});

// ---------------------------------------------------------------- step 4: done

function showCredentials(created) {
  credentials = created;
  clearPreviews();
  picker.clear();
  $('review-list').replaceChildren();
  $('payload').textContent = '';
  $('case-number').textContent = created.case_number;
  $('case-pin').textContent = created.pin;
  if (created.error) {
    $('done-problem').textContent = t('done.partial', { reason: errorText(created.error) });
    $('done-problem').hidden = false;
  }
  show('step-done', 'done-title');
}

$('save').addEventListener('click', () => {
  if (!credentials) return;
  const address = `${location.origin}/status?lang=${lang}`;
  const text = [
    t('done.fileTitle'),
    '',
    `${t('done.case')}: ${credentials.case_number}`,
    `${t('done.pin')}: ${credentials.pin}`,
    '',
    t('done.warning'),
    t('done.fileAddress', { address }),
    '',
  ].join('\n');
  saveText(t('done.fileName', { case: credentials.case_number }), text);
  saved = true;
  $('save-status').textContent = t('done.saved');
});

// Leaving before the PIN is saved loses the case for good: let the browser ask first.
window.addEventListener('beforeunload', (event) => {
  if (credentials && !saved) {
    event.preventDefault();
    event.returnValue = '';
  }
});
