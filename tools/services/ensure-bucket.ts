// Creates the bucket when missing (RGW needs a signed request, hence the SDK).
import { CreateBucketCommand, HeadBucketCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';

const bucket = process.env.S3_BUCKET ?? 'koodrive-uploads';
const s3 = new S3Client({
  endpoint: process.env.S3_ENDPOINT ?? 'http://127.0.0.1:7480',
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'koodrive-dev',
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'koodrive-dev-secret',
  },
});

try {
  await s3.send(new HeadBucketCommand({ Bucket: bucket }));
} catch (error) {
  if (!(error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)) {
    throw error;
  }
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  console.error(`services:up: created bucket ${bucket}`);
} finally {
  s3.destroy();
}
