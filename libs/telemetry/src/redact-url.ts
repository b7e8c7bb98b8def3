// A signed URL's signature is a credential (it lets anyone PUT that part until it expires): it is
// never logged or put on a span. Covers the service's own part URLs and S3 presigned ones.
const SIGNATURE_PARAM = /([?&](?:signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SIGNATURE_PARAM, '$1[redacted]');
}
