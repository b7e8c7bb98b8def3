-- AlterTable
ALTER TABLE "file_parts" ADD COLUMN     "put_lease_until" TIMESTAMPTZ(3),
ADD COLUMN     "put_seq" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "via_service_only" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "files" ADD COLUMN     "pre_hash" CHAR(64),
ADD COLUMN     "share_folder_id" VARCHAR(128),
ADD COLUMN     "verified_by" VARCHAR(32);

-- CreateIndex
CREATE INDEX "files_actual_sha256_length_idx" ON "files"("actual_sha256", "length");
