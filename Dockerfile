# syntax=docker/dockerfile:1
# Build: docker build -t s3-graphql .
# Run against a store:   docker run -p 4000:4000 -e S3_ENDPOINT=http://rustfs:9000 \
#   -e S3_ACCESS_KEY_ID=… -e S3_SECRET_ACCESS_KEY=… -e API_KEYS_FILE=/run/secrets/api-keys s3-graphql
# Run with the embedded store (data in the volume): docker run -p 4000:4000 -v s3data:/data \
#   -e API_KEYS_FILE=/run/secrets/api-keys s3-graphql

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci's prepare script builds GraphiQL (web/) and the console (web/console/) into dist/web with Vite
# and compiles the server (src/) into dist/ with TypeScript, both dev dependencies: the sources come first.
COPY scripts ./scripts
COPY web ./web
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    HOST=0.0.0.0 \
    PORT=4000 \
    DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
# Without dev dependencies the prepare script finds neither Vite nor TypeScript and says so:
# GraphiQL and the console (dist/web) and the compiled server (dist/) come from the build stage.
COPY scripts/build-web.mjs scripts/build-server.mjs ./scripts/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM (Docker's default STOPSIGNAL) starts a graceful drain that takes up to SHUTDOWN_TIMEOUT_MS (30 s)
# + 10 s of clean-up + 10 s of span flush with tracing on: more than `docker stop`'s default 10 s and
# Kubernetes' default 30 s grace. Run with `docker run --stop-timeout 60` (compose: stop_grace_period: 60s;
# Kubernetes: terminationGracePeriodSeconds: 60), or the drain is killed mid-way (README, "Shutdown").
STOPSIGNAL SIGTERM
# What `npm start` runs, without npm (one process; see the README's "Memory" section for the flags and
# the two MALLOC_ settings above).
CMD ["node", "--max-semi-space-size=2", "--expose-gc", "--v8-pool-size=1", "dist/main.js"]
