// What to tell the person when the registry refuses or cannot be reached.

import { ApiError } from './api.js';
import { has, t } from './i18n.js';

export function errorText(error) {
  if (error instanceof ApiError) {
    const key = `error.${error.code}`;
    if (has(key)) return t(key, { seconds: error.retryAfter ?? 60 });
    if (error.status >= 500) return t('error.internal');
    return t('error.other', { message: error.message });
  }
  return t('error.other', { message: String(error?.message || error) });
}
