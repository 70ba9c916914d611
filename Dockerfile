# One image for the three apps. The default command runs the command API; the projector and
# the auditor run from the same image with another command (see docker-compose.yml and the
# Helm chart in deploy/helm/pipeline-secrets):
#
#   node dist/apps/command-api/src/main.js   (default)
#   node dist/apps/projector/src/main.js
#   node dist/apps/auditor/src/main.js
#
# The runtime stage holds production dependencies and the compiled dist/ only, runs as a fixed
# non-root uid, and writes nowhere but DATA_DIR and /tmp, so it runs with a read-only root
# filesystem.

# scripts/images build passes the Node 20 image it builds from Debian and the npm registry
# (pipeline-secrets/node:20.20.2-bookworm); the default is the public image of the same Node.
# No `# syntax=` line: the images here are built by the classic builder, offline.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---- build: all dependencies, compile TypeScript to dist/ --------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
ENV npm_config_fund=false \
    npm_config_audit=false \
    npm_config_update_notifier=false \
    SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
# EXTRA_CA_CERTS (PEM text, optional): CA certificates npm must trust to reach the registry from
# the build, e.g. behind a TLS-inspecting proxy (scripts/images passes the machine's own). Used in
# the build stages only: the runtime image never holds them.
ARG EXTRA_CA_CERTS=""
# --ignore-scripts: no dependency's install script runs (tsc needs none).
RUN set -e; if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" > /tmp/extra-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi; \
    npm ci --ignore-scripts; rm -f /tmp/extra-ca.pem
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build

# ---- prod-deps: production dependencies only ----------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
ENV npm_config_fund=false \
    npm_config_audit=false \
    npm_config_update_notifier=false \
    SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
ARG EXTRA_CA_CERTS=""
RUN set -e; if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" > /tmp/extra-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi; \
    npm ci --omit=dev --ignore-scripts && npm cache clean --force; rm -f /tmp/extra-ca.pem

# ---- runtime --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG APP_UID=10001
ARG APP_GID=10001
LABEL org.opencontainers.image.title="pipeline-secrets" \
      org.opencontainers.image.description="Event-sourced policy and audit service for CI/CD secrets (command-api, projector, auditor)" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed uid/gid (Kubernetes runAsUser and volume ownership rely on it). npm, npx, yarn and
# corepack are removed: nothing installs packages at run time, and less code means fewer CVEs.
RUN groupadd --system --gid "${APP_GID}" pipeline \
 && useradd --system --uid "${APP_UID}" --gid pipeline --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin pipeline \
 && mkdir -p /var/lib/pipeline-secrets \
 && chown "${APP_UID}:${APP_GID}" /var/lib/pipeline-secrets \
 && chmod 0700 /var/lib/pipeline-secrets \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*

WORKDIR /app
# Code and dependencies belong to root and are read-only for the app user.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./

ENV NODE_ENV=production \
    PROFILE=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/var/lib/pipeline-secrets

# The only places the app writes. Mount a volume (compose) or an emptyDir (Kubernetes) on each
# when the root filesystem is read-only.
VOLUME ["/var/lib/pipeline-secrets", "/tmp"]

USER ${APP_UID}:${APP_GID}
EXPOSE 8080

# Liveness from inside the container with node itself (slim images have no curl or wget).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

CMD ["node", "dist/apps/command-api/src/main.js"]
