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
//   page -> worker  {warm: true}                    optional, sent when the page shows the
//   worker -> page  {type: 'warm', ms}              file chooser: hash a small JPEG drawn
//                                                   here, so the engine has compiled the
//                                                   hasher before the person's first file
// Files are hashed one at a time, in the order they were posted.
//
// Start it with: new Worker('/static/js/hash-worker.js', {type: 'module'})

import { fingerprintFile } from './hasher/index.js';

let queue = Promise.resolve();

self.addEventListener('message', (event) => {
  const { id, file, warm } = event.data || {};
  queue = queue.then(() => (warm ? warmUp() : hashOne(id, file)));
});

/** Hash a made-up photo (a 1024x768 JPEG drawn on an OffscreenCanvas, nothing of the person's)
 * through the whole image pipeline: the first real photo then runs compiled code instead of
 * paying for the engine's warm-up (docs/web.md). Any failure here is ignored. */
async function warmUp() {
  const start = performance.now();
  try {
    const canvas = new OffscreenCanvas(1024, 768);
    const context = canvas.getContext('2d');
    const gradient = context.createLinearGradient(0, 0, 1024, 768);
    gradient.addColorStop(0, '#204060');
    gradient.addColorStop(1, '#e0c080');
    context.fillStyle = gradient;
    context.fillRect(0, 0, 1024, 768);
    for (let i = 0; i < 40; i++) {
      context.fillStyle = `hsl(${(i * 37) % 360} 60% ${30 + (i % 5) * 10}%)`;
      context.fillRect((i * 97) % 960, (i * 53) % 700, 40 + (i % 7) * 9, 30 + (i % 4) * 11);
    }
    const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
    await fingerprintFile(blob);
  } catch {
    // Warming up is an optimisation only.
  }
  self.postMessage({ type: 'warm', ms: performance.now() - start });
}

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
