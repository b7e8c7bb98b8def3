// Where `npm run services:up` serves on this machine (what its up.sh prints as export lines):
// the defaults of the tests and of the measuring scripts.
export const LOCAL_SERVICES_ENV: Readonly<Record<string, string>> = {
  DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/koodrive',
  REDIS_URL: 'redis://127.0.0.1:6379',
  S3_ENDPOINT: 'http://127.0.0.1:7480',
  S3_BUCKET: 'koodrive-uploads',
  S3_FORCE_PATH_STYLE: 'true',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'koodrive-dev',
  AWS_SECRET_ACCESS_KEY: 'koodrive-dev-secret',
};
