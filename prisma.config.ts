// Prisma CLI configuration (generate/validate/format). Migrations are applied by tools/db, offline.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
