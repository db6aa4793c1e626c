// Solves a proof-of-work challenge off the main thread, so the page stays responsive.
// Message in: {challenge, difficulty}. Message out: {solution, hashes, ms} or {error}.
import { powSearch } from './pow.js';

const SLICE = 65536;

self.onmessage = (event) => {
  const { challenge, difficulty } = event.data;
  const started = performance.now();
  try {
    for (let start = 0; start < Number.MAX_SAFE_INTEGER; start += SLICE) {
      const solution = powSearch(`${challenge}:`, difficulty, start, SLICE);
      if (solution !== null) {
        self.postMessage({
          solution,
          hashes: Number(solution) + 1,
          ms: performance.now() - started,
        });
        return;
      }
    }
    self.postMessage({ error: 'no solution found' });
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
