// The proof of work the registry asks for before it accepts new hashes (docs/api.md).
// Solved in a Web Worker (pow-worker.js) with a plain-JavaScript SHA-256.

/**
 * Find a decimal solution such that SHA-256("<challenge>:<solution>") starts with
 * `difficulty` zero bits. Resolves to {solution, hashes, ms}.
 */
export function solve(challenge, difficulty) {
  if (difficulty === 0) return Promise.resolve({ solution: '0', hashes: 0, ms: 0 });
  return new Promise((resolve, reject) => {
    const worker = new Worker('/static/js/pow-worker.js', { type: 'module' });
    worker.onmessage = (event) => {
      worker.terminate();
      if (event.data.error) reject(new Error(event.data.error));
      else resolve(event.data);
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message || 'the proof-of-work worker failed'));
    };
    worker.postMessage({ challenge, difficulty });
  });
}
