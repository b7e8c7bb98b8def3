// Run by tools/services/up.sh: makes sure the S3 bucket is there and ours (HeadBucket); when it is
// missing, creates it (CreateBucket, "already exists" counting as success) and checks again. Then
// gives it the CORS rule of CORS_ORIGINS (comma-separated origins; empty: no rule), so that a page
// on those origins can PUT parts to presigned URLs.
// RGW accepts only signed (SigV4) requests, hence the SDK rather than curl.
import {
  CreateBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  HeadBucketCommand,
  PutBucketCorsCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { LOCAL_SERVICES_ENV } from './local-env.ts';

const ALREADY_THERE = new Set(['BucketAlreadyOwnedByYou', 'BucketAlreadyExists']);
const TIMEOUT_MS = 20_000;

const bucket = process.env.S3_BUCKET || LOCAL_SERVICES_ENV.S3_BUCKET!;
const endpoint = process.env.S3_ENDPOINT || LOCAL_SERVICES_ENV.S3_ENDPOINT!;
const corsOrigins = (process.env.CORS_ORIGINS ?? '')
  .split(',')
  .map((origin) => origin.trim())
  .filter((origin) => origin !== '');
const s3 = new S3Client({
  endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  maxAttempts: 2,
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID || LOCAL_SERVICES_ENV.AWS_ACCESS_KEY_ID!,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || LOCAL_SERVICES_ENV.AWS_SECRET_ACCESS_KEY!,
  },
});

function describe(error: unknown): string {
  if (error instanceof S3ServiceException) {
    return `${error.name} (HTTP ${error.$metadata.httpStatusCode ?? '?'}): ${error.message}`;
  }
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function headBucket(): Promise<void> {
  await s3.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(TIMEOUT_MS) });
}

// A browser's PUT of a part to a presigned URL, from the origins of CORS_ORIGINS; the ETag readable.
// The same rule as the README's production example (aws s3api put-bucket-cors).
async function applyCors(): Promise<void> {
  const options = { abortSignal: AbortSignal.timeout(TIMEOUT_MS) };
  if (corsOrigins.length === 0) {
    await s3.send(new DeleteBucketCorsCommand({ Bucket: bucket }), options);
    return;
  }
  const rule = {
    AllowedOrigins: corsOrigins,
    AllowedMethods: ['PUT'],
    AllowedHeaders: ['*'],
    ExposeHeaders: ['ETag'],
    MaxAgeSeconds: 600,
  };
  await s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: [rule] } }), options);
  // proves RGW kept it (it lists the origins sorted)
  const kept = await s3.send(new GetBucketCorsCommand({ Bucket: bucket }), options);
  const sorted = (origins: readonly string[] | undefined) => JSON.stringify([...(origins ?? [])].sort());
  if (sorted(kept.CORSRules?.[0]?.AllowedOrigins) !== sorted(corsOrigins)) {
    throw new Error(`the bucket's CORS rule did not take: ${JSON.stringify(kept.CORSRules)}`);
  }
}

try {
  try {
    await headBucket();
  } catch (error) {
    if (!(error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)) {
      throw error;
    }
    try {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(TIMEOUT_MS) });
      console.error(`services:up: created bucket ${bucket}`);
    } catch (createError) {
      if (!(createError instanceof S3ServiceException && ALREADY_THERE.has(createError.name))) {
        throw createError;
      }
    }
    // proves the bucket is there and ours
    await headBucket();
  }
  await applyCors();
} catch (error) {
  console.error(`services:up: bucket ${bucket} at ${endpoint} is not usable: ${describe(error)}`);
  process.exitCode = 1;
} finally {
  s3.destroy();
}
