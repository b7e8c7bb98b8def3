-- DropIndex
DROP INDEX "files_open_container_idx";

-- AlterTable
ALTER TABLE "files" ADD COLUMN     "keep_policy" SMALLINT NOT NULL DEFAULT 0,
ADD COLUMN     "revision_id" VARCHAR(64),
ADD COLUMN     "revision_of" VARCHAR(64),
ADD COLUMN     "revision_version" INTEGER NOT NULL DEFAULT 1;

-- CreateTable
CREATE TABLE "file_versions" (
    "revision_id" VARCHAR(64) NOT NULL,
    "file_id" VARCHAR(64) NOT NULL,
    "revision_version" INTEGER NOT NULL,
    "sha256" CHAR(64),
    "length" BIGINT NOT NULL,
    "storage_key" VARCHAR(512) NOT NULL,
    "keep_policy" SMALLINT NOT NULL,
    "completed_at" TIMESTAMPTZ(3),
    "replaced_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "file_versions_pkey" PRIMARY KEY ("revision_id")
);

-- CreateIndex
CREATE INDEX "file_versions_file_id_revision_version_idx" ON "file_versions"("file_id", "revision_version");

-- CreateIndex
CREATE INDEX "files_open_container_idx" ON "files"("container_id") WHERE (status = 'UPLOADING' OR status = 'COMPLETING');

-- CreateIndex
CREATE INDEX "files_revision_of_created_at_idx" ON "files"("revision_of", "created_at") WHERE (revision_of IS NOT NULL);

-- CreateIndex
CREATE UNIQUE INDEX "files_pending_revision_key" ON "files"("revision_of") WHERE ((status = 'UPLOADING' OR status = 'COMPLETING') AND revision_of IS NOT NULL);

-- AddForeignKey
ALTER TABLE "files" ADD CONSTRAINT "files_revision_of_fkey" FOREIGN KEY ("revision_of") REFERENCES "files"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "file_versions" ADD CONSTRAINT "file_versions_file_id_fkey" FOREIGN KEY ("file_id") REFERENCES "files"("id") ON DELETE CASCADE ON UPDATE CASCADE;
