// The reporter API (docs/api.md): JSON of hashes in, JSON out. Nothing else is ever sent.

import { solve } from './pow.js';

/** An error answer of the API ({error: {code, message}}), or `network` when there was none. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

async function call(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'omit' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, 'network', String(error));
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const retry = Number(response.headers.get('Retry-After'));
    throw new ApiError(
      response.status,
      data?.error?.code || 'internal',
      data?.error?.message || `HTTP ${response.status}`,
      Number.isFinite(retry) && retry > 0 ? retry : null,
    );
  }
  return data;
}

/**
 * One media item exactly as `POST /v1/cases` takes it. Only the documented fields are copied
 * (the hasher may add notes such as `exact_only`; the API refuses unknown fields).
 */
export function toApiMedia(item) {
  const media = { kind: item.kind, md5: item.md5, sha256: item.sha256 };
  media.signals = (item.signals || []).map((signal) => ({
    type: signal.type,
    value: signal.value,
    quality: signal.quality,
    variant: signal.variant,
  }));
  media.vpdq = (item.vpdq || []).map(String);
  return media;
}

const BODY_MARGIN = 4096; // the age group, language, PIN and proof of work around the media

/**
 * Split media items into requests within the server's limits: at most `maxMediaPerRequest`
 * items and `maxBodyBytes` of JSON each. An item too large on its own is a body_too_large.
 */
export function batches(media, limits) {
  const maxItems = limits.maxMediaPerRequest || 50;
  const maxBytes = (limits.maxBodyBytes || 2097152) - BODY_MARGIN;
  const encoder = new TextEncoder();
  const result = [];
  let current = [];
  let size = 0;
  for (const item of media) {
    const itemSize = encoder.encode(JSON.stringify(item)).length + 1;
    if (itemSize > maxBytes) {
      throw new ApiError(413, 'body_too_large', 'one file has more fingerprints than fit');
    }
    if (current.length >= maxItems || size + itemSize > maxBytes) {
      result.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += itemSize;
  }
  if (current.length) result.push(current);
  return result;
}

/** Get a challenge, solve it, and call `send(pow)`; a refused proof is solved once more. */
async function withProofOfWork(send, onStage) {
  for (let attempt = 0; ; attempt++) {
    onStage?.('pow');
    const challenge = await call('GET', '/v1/challenge');
    const { solution } = await solve(challenge.challenge, challenge.difficulty);
    onStage?.('sending');
    try {
      return await send({ challenge: challenge.challenge, solution });
    } catch (error) {
      if (attempt === 0 && error instanceof ApiError && error.code === 'proof_of_work_failed') {
        continue;
      }
      throw error;
    }
  }
}

/** A case number as typed: no spaces, any case, dashes allowed (the server normalises). */
export function cleanCaseNumber(text) {
  return text.replace(/\s+/g, '').toUpperCase();
}

function casePath(number, suffix = '') {
  return `/v1/cases/${encodeURIComponent(cleanCaseNumber(number))}${suffix}`;
}

/**
 * Make a case from media items (several requests if they do not fit in one). Resolves to
 * {case_number, pin, media_ids, error}: `error` is set when the case was made but some later
 * batch could not be added (media_ids then holds only the items that were).
 */
export async function createCase(ageGroup, language, media, limits, onStage) {
  const [first, ...rest] = batches(media, limits);
  const created = await withProofOfWork(
    (pow) => call('POST', '/v1/cases', { age_group: ageGroup, language, media: first, pow }),
    onStage,
  );
  const result = { ...created, media_ids: [...created.media_ids], error: null };
  for (const batch of rest) {
    try {
      const added = await addMediaBatch(created.case_number, created.pin, batch, onStage);
      result.media_ids.push(...added.media_ids);
    } catch (error) {
      result.error = error;
      break;
    }
  }
  return result;
}

function addMediaBatch(number, pin, media, onStage) {
  return withProofOfWork(
    (pow) => call('POST', casePath(number, '/media'), { pin, media, pow }),
    onStage,
  );
}

/** Add media items to a case; resolves to the new media ids. */
export async function addMedia(number, pin, media, limits, onStage) {
  const ids = [];
  for (const batch of batches(media, limits)) {
    const added = await addMediaBatch(number, pin, batch, onStage);
    ids.push(...added.media_ids);
  }
  return ids;
}

export function caseStatus(number, pin) {
  return call('POST', casePath(number, '/status'), { pin });
}

export function withdrawCase(number, pin) {
  return call('POST', casePath(number, '/withdraw'), { pin });
}

export function withdrawMedia(number, pin, mediaId) {
  return call('POST', casePath(number, `/media/${encodeURIComponent(mediaId)}/withdraw`), { pin });
}
