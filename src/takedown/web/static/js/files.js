// Choosing files (input or drag and drop) and fingerprinting them on this device, one at a
// time, in the hasher's Web Worker. The files are read by the worker only; nothing of them
// leaves the page except, later, the fingerprints (api.js).

import { has, plural, t } from './i18n.js';

const WORKER_URL = '/static/js/hash-worker.js';

/** More files than this in one go are refused (memory on small phones). */
export const MAX_FILES = 200;

/** How many fingerprints a hashed item carries: its PDQ signals or video frames, and the
 * file's two exact hashes (MD5 and SHA-256). */
export function fingerprintCount(item) {
  return (item.signals?.length || 0) + (item.vpdq?.length || 0) + 2;
}

/** Whether the registry can take this item: a photo or video with its exact hashes. A photo
 * without PDQ signals (the browser could not decode it) is listed by its file MD5, as a video
 * without frames is. */
export function sendable(item) {
  if (!item || typeof item.md5 !== 'string' || typeof item.sha256 !== 'string') return false;
  if (item.kind === 'image') return Array.isArray(item.signals);
  return item.kind === 'video';
}

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

/**
 * The chooser in the page (ids from templates/_files.html). `onChange()` is called whenever
 * the set of files or their state changes.
 */
export class FilePicker {
  constructor({ onChange = () => {} } = {}) {
    this.input = document.getElementById('file-input');
    this.dropZone = document.getElementById('drop-zone');
    this.list = document.getElementById('file-list');
    this.overall = document.getElementById('overall');
    this.overallProgress = document.getElementById('overall-progress');
    this.overallText = document.getElementById('overall-text');
    this.message = document.getElementById('files-message');
    this.onChange = onChange;
    this.items = [];
    this.nextId = 1;
    this.worker = null;
    this.current = null;

    this.input.addEventListener('change', () => {
      this.add(this.input.files);
      this.input.value = '';
    });
    this.dropZone.addEventListener('dragenter', (event) => this.dragOver(event));
    this.dropZone.addEventListener('dragover', (event) => this.dragOver(event));
    this.dropZone.addEventListener('dragleave', () => this.dropZone.classList.remove('dragging'));
    this.dropZone.addEventListener('drop', (event) => {
      event.preventDefault();
      this.dropZone.classList.remove('dragging');
      if (event.dataTransfer?.files) this.add(event.dataTransfer.files);
    });
    // A file dropped beside the zone must not make the browser open (show) it.
    window.addEventListener('dragover', (event) => event.preventDefault());
    window.addEventListener('drop', (event) => event.preventDefault());
  }

  dragOver(event) {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
    this.dropZone.classList.add('dragging');
  }

  /** Add files (a FileList or array) and start fingerprinting them. */
  add(files) {
    const notes = [];
    for (const file of Array.from(files)) {
      const duplicate = this.items.some(
        (item) =>
          item.file.name === file.name &&
          item.file.size === file.size &&
          item.file.lastModified === file.lastModified,
      );
      if (duplicate) {
        notes.push(t('files.duplicate', { name: file.name }));
        continue;
      }
      if (this.items.length >= MAX_FILES) {
        notes.push(t('files.tooMany', { max: MAX_FILES }));
        break;
      }
      const item = {
        id: this.nextId++,
        file,
        name: file.name,
        state: 'waiting',
        fraction: 0,
        result: null,
        exactOnly: false,
        error: null,
      };
      this.items.push(item);
      this.render(item);
    }
    this.message.textContent = notes.join(' ');
    this.pump();
    this.update();
  }

  /** Drop one file (and stop fingerprinting it if it is being fingerprinted). */
  remove(id) {
    const index = this.items.findIndex((item) => item.id === id);
    if (index < 0) return;
    const [item] = this.items.splice(index, 1);
    item.li?.remove();
    if (this.current === item) {
      this.stopWorker();
      this.current = null;
      this.pump();
    }
    this.update();
  }

  /** Forget every file (after they were sent). */
  clear() {
    this.stopWorker();
    this.current = null;
    for (const item of this.items) item.li?.remove();
    this.items = [];
    this.message.textContent = '';
    this.update();
  }

  ready() {
    return this.items.filter((item) => item.state === 'ready');
  }

  busy() {
    return this.items.some((item) => item.state === 'waiting' || item.state === 'hashing');
  }

  /** Start the hashing worker before any file is chosen, and let it warm up on a made-up
   * photo meanwhile (hash-worker.js), so the person's first file is hashed by compiled code.
   * Called when the file chooser is shown; does nothing if the worker is running. */
  prepare() {
    if (this.worker) return;
    this.startWorker();
    this.worker.postMessage({ warm: true });
  }

  stopWorker() {
    if (this.worker) {
      this.worker.terminate();
      this.worker = null;
    }
  }

  startWorker() {
    this.worker = new Worker(WORKER_URL, { type: 'module' });
    this.worker.onmessage = (event) => this.received(event.data);
    this.worker.onerror = (event) => {
      event.preventDefault?.();
      const item = this.current;
      this.stopWorker();
      this.current = null;
      if (item) this.finish(item, { state: 'failed', error: { code: 'worker', message: '' } });
      this.pump();
    };
  }

  pump() {
    if (this.current) return;
    const next = this.items.find((item) => item.state === 'waiting');
    if (!next) return;
    if (!this.worker) this.startWorker();
    this.current = next;
    next.state = 'hashing';
    this.paint(next);
    this.worker.postMessage({ id: next.id, file: next.file });
  }

  received(data) {
    if (data.type === 'warm') return; // the warm-up of prepare() is done
    const item = this.current;
    if (!item || !data || data.id !== item.id) return;
    if (data.type === 'progress') {
      item.fraction = data.total > 0 ? Math.min(1, data.done / data.total) : 0;
      this.paint(item);
      this.updateOverallBar();
      return;
    }
    this.current = null;
    if (data.type === 'result' && sendable(data.item)) {
      this.finish(item, {
        state: 'ready',
        result: data.item,
        exactOnly: Boolean(data.item.exact_only),
      });
    } else {
      this.finish(item, {
        state: 'failed',
        error: { code: String(data.code || ''), message: String(data.message || '') },
      });
    }
    this.pump();
  }

  finish(item, changes) {
    Object.assign(item, changes, { fraction: 1 });
    this.paint(item);
    this.update();
  }

  /** The list entry of one file: name, remove button, progress bar, state. */
  render(item) {
    const li = element('li', { 'data-file-id': String(item.id) });
    const name = element('span', { class: 'file-name' }, item.name);
    const remove = element('button', {
      type: 'button',
      'aria-label': t('review.removeLabel', { name: item.name }),
    }, t('review.remove'));
    remove.addEventListener('click', () => {
      const position = this.items.indexOf(item);
      this.remove(item.id);
      this.message.textContent = t('review.removed', { name: item.name });
      const next = this.items[Math.min(position, this.items.length - 1)];
      (next?.li?.querySelector('button') || this.input).focus();
    });
    const progress = element('progress', {
      max: '100',
      value: '0',
      'aria-label': item.name,
    });
    const state = element('p', { class: 'file-state' });
    const notice = element('p', { class: 'notice', hidden: '' }, t('files.exactOnly'));
    li.append(name, remove, progress, state, notice);
    item.li = li;
    item.progress = progress;
    item.stateText = state;
    item.notice = notice;
    this.list.append(li);
    this.paint(item);
  }

  paint(item) {
    if (!item.li) return;
    item.li.className = item.state;
    item.progress.value = Math.round(item.fraction * 100);
    item.stateText.textContent = this.stateText(item);
    item.notice.hidden = !item.exactOnly;
  }

  stateText(item) {
    switch (item.state) {
      case 'waiting':
        return t('files.waiting');
      case 'hashing':
        return `${t('files.hashing')} (${Math.round(item.fraction * 100)} %)`;
      case 'ready':
        return `${t('files.ready')}: ${plural('review.count', fingerprintCount(item.result))}`;
      default: {
        const key = `files.error.${item.error?.code}`;
        if (has(key)) return t('files.failedDetail', { detail: t(key) });
        return t('files.failed');
      }
    }
  }

  updateOverallBar() {
    const total = this.items.length;
    const sum = this.items.reduce((acc, item) => acc + item.fraction, 0);
    this.overallProgress.value = total ? Math.round((100 * sum) / total) : 0;
  }

  /** Overall bar and the (politely announced) count of finished files. */
  update() {
    const total = this.items.length;
    this.overall.hidden = total === 0;
    this.updateOverallBar();
    const done = this.items.filter((item) => item.state === 'ready' || item.state === 'failed');
    const text = total ? t('files.progress', { done: done.length, total }) : '';
    if (this.overallText.textContent !== text) this.overallText.textContent = text;
    this.onChange();
  }
}
