import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiCode, ApiException, DependencyUnavailableError } from '@koodrive/errors';
import { toErrorResponse } from './error-response.js';

describe(toErrorResponse.name, () => {
  it('maps a KooDrive exception to its status, code and localized message with detail', () => {
    const response = toErrorResponse(ApiException.invalidParameter('fileId: must be a string'), 'zh-CN');
    assert.equal(response.status, 400);
    assert.deepEqual(response.body, { code: ApiCode.InvalidParameter, msg: '参数校验失败。 fileId: must be a string' });
    assert.equal(response.unexpected, false);
  });

  it('adds WWW-Authenticate to 13000901 and Retry-After to 13000903', () => {
    assert.deepEqual(toErrorResponse(new ApiException(ApiCode.InvalidToken), 'en-US').headers, {
      'www-authenticate': 'Bearer error="invalid_token"',
    });
    const limited = toErrorResponse(new ApiException(ApiCode.TooManyRequests, { retryAfterSeconds: 7 }), 'en-US');
    assert.equal(limited.status, 429);
    assert.deepEqual(limited.headers, { 'retry-after': '7' });
  });

  it('makes a dependency outage a retryable 503 / 13000201', () => {
    const response = toErrorResponse(new DependencyUnavailableError('storage', new Error('ECONNREFUSED')), 'en-US');
    assert.equal(response.status, 503);
    assert.equal(response.body.code, ApiCode.InternalError);
    assert.equal(response.headers['retry-after'], '5');
  });

  it('hides anything unexpected behind 500 / 13000201 and marks it for the log', () => {
    const response = toErrorResponse(new TypeError('secret internals'), 'en-US');
    assert.equal(response.status, 500);
    assert.deepEqual(response.body, { code: ApiCode.InternalError, msg: 'Internal calling error.' });
    assert.equal(response.unexpected, true);
  });

  it('makes framework client errors 13000101, keeping 404 for unknown routes', () => {
    assert.equal(toErrorResponse({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }, 'en-US').status, 400);
    const notFound = toErrorResponse({ statusCode: 404 }, 'en-US');
    assert.equal(notFound.status, 404);
    assert.equal(notFound.body.code, ApiCode.RequestError);
  });

  it("names an unknown route's method and path, never its query, and at most 200 characters of it", () => {
    const request = { method: 'POST', url: '/koodrive/ose/v1/file/create?signature=secret' };
    assert.deepEqual(toErrorResponse({ statusCode: 404 }, 'en-US', request).body, {
      code: ApiCode.RequestError,
      msg: 'Request error. No route for POST /koodrive/ose/v1/file/create.',
    });
    const long = toErrorResponse({ statusCode: 404 }, 'en-US', { method: 'GET', url: `/${'a'.repeat(5000)}` });
    assert.equal(long.body.msg, `Request error. No route for GET /${'a'.repeat(199)}….`);
    // a malformed body on a known route says nothing of the route
    const malformed = toErrorResponse({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }, 'en-US', request);
    assert.equal(malformed.body.msg, 'Request error.');
  });
});
