-- DropIndex
DROP INDEX "files_status_claim_expires_at_idx";

-- DropIndex
DROP INDEX "files_status_expires_at_idx";

-- DropIndex
DROP INDEX "outbox_events_published_at_id_idx";

-- CreateIndex
CREATE INDEX "files_uploading_expires_at_idx" ON "files"("expires_at") WHERE (status = 'UPLOADING');

-- CreateIndex
CREATE INDEX "files_completing_claim_expires_at_idx" ON "files"("claim_expires_at") WHERE (status = 'COMPLETING');

-- CreateIndex
CREATE INDEX "files_expired_upload_updated_at_idx" ON "files"("updated_at") WHERE (status = 'EXPIRED' AND upload_id IS NOT NULL);

-- CreateIndex
CREATE INDEX "outbox_events_unpublished_id_idx" ON "outbox_events"("id") WHERE (published_at IS NULL);
