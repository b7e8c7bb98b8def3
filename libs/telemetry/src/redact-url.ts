// A signed URL's signature is a credential (it lets anyone PUT that part until it expires): it is
// never logged or put on a span. Covers the service's own part URLs and S3 presigned ones, however
// a parameter's name is spelled (any case, percent-encoded: `sig%6Eature`).
const SECRET_PARAMS = new Set(['signature', 'x-amz-signature', 'x-amz-credential', 'x-amz-security-token']);

export function redactUrl(url: string): string {
  const query = url.indexOf('?');
  if (query < 0) {
    return url;
  }
  const fragment = url.indexOf('#', query);
  const end = fragment < 0 ? url.length : fragment;
  const params = url
    .slice(query + 1, end)
    .split('&')
    .map((param) => {
      const equals = param.indexOf('=');
      const name = equals < 0 ? param : param.slice(0, equals);
      return SECRET_PARAMS.has(decodedName(name).toLowerCase()) ? `${name}=[redacted]` : param;
    });
  return `${url.slice(0, query + 1)}${params.join('&')}${url.slice(end)}`;
}

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    return name;
  }
}
