import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deferDateTimeFormats } from './lazy-date-formats.js';

const OPTIONS: Intl.DateTimeFormatOptions = {
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: 'numeric',
  minute: 'numeric',
  second: 'numeric',
  timeZone: 'UTC',
};
// 2026-12-07T23:59:58Z, as en-US writes it in UTC
const INSTANT = Date.UTC(2026, 11, 7, 23, 59, 58);
const WRITTEN = '12/07/2026, 11:59:58 PM';

describe('deferDateTimeFormats', () => {
  it('gives formats built while deferred that behave as real ones, and puts the constructor back', () => {
    const Real = Intl.DateTimeFormat;
    const restore = deferDateTimeFormats();
    let deferred: Intl.DateTimeFormat;
    try {
      assert.notEqual(Intl.DateTimeFormat, Real);
      deferred = new Intl.DateTimeFormat('en-US', OPTIONS);
    } finally {
      restore();
    }
    assert.equal(Intl.DateTimeFormat, Real);
    assert.ok(deferred instanceof Intl.DateTimeFormat);
    assert.equal(deferred.format(INSTANT), WRITTEN);
    // format is a bound getter on the real one: taken off the object, it still formats
    const format = Reflect.get<Intl.DateTimeFormat, 'format'>(deferred, 'format');
    assert.equal(format(INSTANT), WRITTEN);
    // CLDR's narrow no-break space before PM, which V8's format() writes as a space, formatToParts() not
    assert.deepEqual(
      deferred.formatToParts(INSTANT).map((part) => part.value),
      ['12', '/', '07', '/', '2026', ', ', '11', ':', '59', ':', '58', '\u202f', 'PM'],
    );
    assert.equal(deferred.resolvedOptions().timeZone, 'UTC');
    assert.deepEqual(Intl.DateTimeFormat.supportedLocalesOf(['en-US']), ['en-US']);
  });

  it('builds the real format at its first use, and once', () => {
    const intl = Intl as { DateTimeFormat: typeof Intl.DateTimeFormat };
    const Original = intl.DateTimeFormat;
    let built = 0;
    const Counting = function DateTimeFormat(...args: ConstructorParameters<typeof Intl.DateTimeFormat>) {
      built += 1;
      return new Original(...args);
    };
    Object.defineProperties(Counting, Object.getOwnPropertyDescriptors(Original));
    intl.DateTimeFormat = Counting as unknown as typeof Intl.DateTimeFormat;
    try {
      const restore = deferDateTimeFormats();
      const deferred = new Intl.DateTimeFormat('en-US', OPTIONS);
      restore();
      assert.equal(built, 0, 'built before its first use');
      assert.equal(deferred.format(INSTANT), WRITTEN);
      assert.equal(deferred.format(INSTANT), WRITTEN);
      assert.equal(deferred.resolvedOptions().locale, 'en-US');
      assert.equal(built, 1);
    } finally {
      intl.DateTimeFormat = Original;
    }
  });

  it('keeps the constructor static methods while deferred', () => {
    const restore = deferDateTimeFormats();
    try {
      assert.deepEqual(Intl.DateTimeFormat.supportedLocalesOf(['en-US']), ['en-US']);
      assert.equal(Intl.DateTimeFormat.name, 'DateTimeFormat');
    } finally {
      restore();
    }
  });
});
