// The hashing Web Worker (a module worker): photos and videos are fingerprinted here, off
// the page's main thread, by hasher/index.js. Nothing here touches the network.
//
// Protocol (also in docs/web.md, "The in-browser hasher"):
//   page -> worker  {id, file}                      file: a File or Blob; id: any clonable key
//   worker -> page  {id, type: 'progress', done, total}   several times per file; `done`
//                                                   only grows, `total` is fixed per file
//                   {id, type: 'result', item}      item: one element of `takedown hash
//                                                   --json` without `path` (see index.js),
//                                                   possibly {..., exact_only: true, reason}
//                   {id, type: 'error', code, message}
// Files are hashed one at a time, in the order they were posted.
//
// Start it with: new Worker('/static/js/hash-worker.js', {type: 'module'})

import { fingerprintFile } from './hasher/index.js';

let queue = Promise.resolve();

self.addEventListener('message', (event) => {
  const { id, file } = event.data || {};
  queue = queue.then(() => hashOne(id, file));
});

async function hashOne(id, file) {
  if (!(file instanceof Blob)) {
    self.postMessage({ id, type: 'error', code: 'bad_request', message: 'post {id, file} with a File or Blob' });
    return;
  }
  try {
    const item = await fingerprintFile(file, {
      onProgress: (done, total) => self.postMessage({ id, type: 'progress', done, total }),
    });
    self.postMessage({ id, type: 'result', item });
  } catch (err) {
    const code = err && typeof err.code === 'string' ? err.code : 'internal';
    const message = err && err.message ? err.message : String(err);
    self.postMessage({ id, type: 'error', code, message });
  }
}
