-- CreateEnum
CREATE TYPE "file_status" AS ENUM ('UPLOADING', 'COMPLETING', 'COMPLETED', 'FAILED', 'EXPIRED');

-- CreateTable
CREATE TABLE "files" (
    "id" VARCHAR(64) NOT NULL,
    "owner_id" VARCHAR(128) NOT NULL,
    "container_id" VARCHAR(128) NOT NULL,
    "parent_folder" VARCHAR(128) NOT NULL,
    "file_name" VARCHAR(512) NOT NULL,
    "length" BIGINT NOT NULL,
    "declared_sha256" CHAR(64),
    "actual_sha256" CHAR(64),
    "file_type" VARCHAR(128),
    "mime_type" VARCHAR(256),
    "description" VARCHAR(512),
    "client_created_at" TIMESTAMPTZ(3),
    "storage_key" VARCHAR(512) NOT NULL,
    "upload_id" VARCHAR(1024),
    "upload_token" VARCHAR(64) NOT NULL,
    "rapid_upload" BOOLEAN NOT NULL DEFAULT false,
    "status" "file_status" NOT NULL DEFAULT 'UPLOADING',
    "claim" INTEGER NOT NULL DEFAULT 0,
    "claim_expires_at" TIMESTAMPTZ(3),
    "combined_at" TIMESTAMPTZ(3),
    "result_code" INTEGER,
    "result_detail" VARCHAR(2048),
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "completed_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "files_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "file_parts" (
    "file_id" VARCHAR(64) NOT NULL,
    "part_number" INTEGER NOT NULL,
    "part_size" BIGINT NOT NULL,
    "part_offset" BIGINT,
    "hash_ctx" VARCHAR(1024),
    "requested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "file_parts_pkey" PRIMARY KEY ("file_id","part_number")
);

-- CreateTable
CREATE TABLE "folder_entries" (
    "container_id" VARCHAR(128) NOT NULL,
    "parent_folder" VARCHAR(128) NOT NULL,
    "file_name" VARCHAR(512) NOT NULL,
    "file_id" VARCHAR(64) NOT NULL,

    CONSTRAINT "folder_entries_pkey" PRIMARY KEY ("container_id","parent_folder","file_name")
);

-- CreateIndex
CREATE INDEX "files_owner_id_status_idx" ON "files"("owner_id", "status");

-- CreateIndex
CREATE INDEX "files_container_id_actual_sha256_length_idx" ON "files"("container_id", "actual_sha256", "length");

-- CreateIndex
CREATE INDEX "files_status_claim_expires_at_idx" ON "files"("status", "claim_expires_at");

-- CreateIndex
CREATE INDEX "files_status_expires_at_idx" ON "files"("status", "expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "folder_entries_file_id_key" ON "folder_entries"("file_id");

-- AddForeignKey
ALTER TABLE "file_parts" ADD CONSTRAINT "file_parts_file_id_fkey" FOREIGN KEY ("file_id") REFERENCES "files"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "folder_entries" ADD CONSTRAINT "folder_entries_file_id_fkey" FOREIGN KEY ("file_id") REFERENCES "files"("id") ON DELETE CASCADE ON UPDATE CASCADE;
