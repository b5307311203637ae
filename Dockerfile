# syntax=docker/dockerfile:1.7
# Every image of the system, from one parameterised Dockerfile, built from the repository root:
#   docker build --build-arg APP=extracted/auth -t strangler/auth .
#   docker build --build-arg APP=strangler-proxy --build-arg ENTRY=src/main.ts \
#     --build-arg HEALTH_URL=http://127.0.0.1:8081/__strangler/healthz -t strangler/proxy .
# APP is the workspace folder; the image runs APP/ENTRY, the same command the tests start
# (stack/test/container-entrypoints.test.ts runs each one from infra/src/service-catalog.ts).
ARG NODE_IMAGE=public.ecr.aws/docker/library/node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
ARG APP
WORKDIR /app
# Every workspace's package.json, so npm ci sees the same workspace tree as the lockfile.
COPY package.json package-lock.json ./
COPY service-kit/package.json service-kit/
COPY reference-migration/package.json reference-migration/
COPY stack/package.json stack/
COPY monolith/package.json monolith/
COPY strangler-proxy/package.json strangler-proxy/
COPY strangler-data/package.json strangler-data/
COPY strangler-cli/package.json strangler-cli/
COPY extracted/auth/package.json extracted/auth/
COPY extracted/listings/package.json extracted/listings/
COPY extracted/orders/package.json extracted/orders/
COPY contract-tests/package.json contract-tests/
COPY infra/package.json infra/
RUN test -n "$APP" || (echo "build with --build-arg APP=<workspace folder>" >&2; exit 1)
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace "./$APP"

# The app's folder and the workspaces it needs at run time (infra/src/tools/image-folders.ts), nothing else:
# the proxy's image holds no data toolkit, the replicator's no services.
FROM ${NODE_IMAGE} AS pick
ARG APP
COPY . /src
RUN mkdir -p /out && cp /src/package.json /out/ && \
    for dir in $(node /src/infra/src/tools/image-folders.ts /src "$APP"); do \
      mkdir -p "/out/$(dirname "$dir")" && cp -a "/src/$dir" "/out/$dir"; \
    done

FROM ${NODE_IMAGE}
ARG APP
ARG ENTRY=src/server.ts
ARG HEALTH_URL=
ENV NODE_ENV=production HOST=0.0.0.0 APP_ENTRY=${APP}/${ENTRY} HEALTH_URL=${HEALTH_URL}
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=pick /out ./
# The reference migration's facts (its data mapping is the replicator's DATA_MAPPING): small, data only.
COPY reference-migration reference-migration
# Not root: the app needs no privilege, and a compromise gets none.
USER node
HEALTHCHECK --interval=10s --timeout=2s --retries=3 CMD ["node", "-e", "fetch(process.env.HEALTH_URL||('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz')).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# exec: node becomes PID 1's child-free replacement and receives SIGTERM itself, to drain.
CMD ["sh", "-c", "exec node \"$APP_ENTRY\""]
