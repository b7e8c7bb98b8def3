export { ApiCode, HTTP_STATUS, type MessageKey } from './api-code.js';
export { ApiException, type ApiExceptionOptions, DependencyUnavailableError } from './api.exception.js';
export { type Language, message, parseLanguage } from './messages.js';
