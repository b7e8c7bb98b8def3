-- CreateIndex
CREATE INDEX "files_open_container_idx" ON "files"("container_id") WHERE (status IN ('UPLOADING', 'COMPLETING'));
