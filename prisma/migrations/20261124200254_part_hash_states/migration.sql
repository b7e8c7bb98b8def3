-- AlterTable
ALTER TABLE "file_parts" ADD COLUMN     "hashed_from" VARCHAR(1024),
ADD COLUMN     "hashed_sha256" CHAR(64),
ADD COLUMN     "hashed_to" VARCHAR(1024),
ADD COLUMN     "uploaded_at" TIMESTAMPTZ(3),
ADD COLUMN     "uploaded_etag" VARCHAR(128),
ADD COLUMN     "uploaded_size" BIGINT;

-- AlterTable
ALTER TABLE "files" ADD COLUMN     "chain_sha256" CHAR(64);
