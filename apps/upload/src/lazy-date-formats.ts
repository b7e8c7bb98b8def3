// @nestjs/common builds two Intl.DateTimeFormat objects as its modules load, for the timestamps of
// its ConsoleLogger; this service logs through nestjs-pino and never formats a date with them.
// Building one makes ICU load its date-time data: 8 MiB of resident memory in an idle process of
// 175 (`npm run bench -- --only heap`, docs/performance.md). While deferred, a DateTimeFormat built
// is a stand-in that builds the real one the first time it is used, and behaves as it from then on.
// What differs (nothing loaded in the window depends on it; a second reader checked node_modules): a
// bad locale or time zone throws at the first use, not at `new`; the real methods' brand checks
// refuse the stand-in as a receiver (`Intl.DateTimeFormat.prototype.format.call(standIn)`); a class
// extending DateTimeFormat in the window gets the stand-in, without its own methods.
type DateTimeFormatArgs = ConstructorParameters<typeof Intl.DateTimeFormat>;

const intl = Intl as { DateTimeFormat: typeof Intl.DateTimeFormat };

function lazyDateTimeFormat(
  Real: typeof Intl.DateTimeFormat,
  args: DateTimeFormatArgs,
): Intl.DateTimeFormat {
  let real: Intl.DateTimeFormat | undefined;
  // Object.create: instanceof Intl.DateTimeFormat holds for the stand-in as for the real one
  return new Proxy(Object.create(Real.prototype) as Intl.DateTimeFormat, {
    get(_standIn, key) {
      real ??= new Real(...args);
      const value: unknown = Reflect.get(real, key, real);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(real) : value;
    },
  });
}

// Defers every DateTimeFormat built until the returned function is called (call it once the modules
// are loaded); it puts the real constructor back.
export function deferDateTimeFormats(): () => void {
  const Real = intl.DateTimeFormat;
  const Deferred = function DateTimeFormat(...args: DateTimeFormatArgs): Intl.DateTimeFormat {
    return lazyDateTimeFormat(Real, args);
  };
  Object.defineProperties(Deferred, Object.getOwnPropertyDescriptors(Real));
  intl.DateTimeFormat = Deferred as unknown as typeof Intl.DateTimeFormat;
  return () => {
    intl.DateTimeFormat = Real;
  };
}
