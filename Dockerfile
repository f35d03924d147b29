# syntax=docker/dockerfile:1
#
# One image for every Chorus process: the eight services and the `chorus` tool. The process is
# chosen by the command, e.g. `docker run chorus:local payment` (compose.yaml does this).

# ---- build ------------------------------------------------------------------------------
ARG SWIFT_IMAGE=swift:6.2-bookworm
FROM ${SWIFT_IMAGE} AS build

RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends libhiredis-dev libpq-dev libjemalloc-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# Resolve dependencies first, so that this layer is cached while only sources change.
COPY ./Package.* ./
RUN swift package resolve

# The manifest names test targets too, so their folders must exist for it to load.
COPY ./Sources ./Sources
COPY ./Tests ./Tests

RUN swift build -c release --static-swift-stdlib

WORKDIR /staging
RUN bin="$(swift build --package-path /build -c release --show-bin-path)" \
    && for executable in checkout-api event-store stock-reservation payment order-creation \
                         compensation audit cqrs-projection chorus; do \
           cp "$bin/$executable" ./ ; \
       done \
    && find -L "$bin/" -maxdepth 1 -regex '.*\.resources$' -exec cp -Ra {} ./ \;

# ---- run --------------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends libhiredis0.14 libpq5 libjemalloc2 ca-certificates tzdata curl \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin chorus

COPY --from=build /staging /app/bin

# Where `chorus provision` writes Redis's ACL file (compose mounts a volume here; a new volume
# takes this directory's owner, so the unprivileged user can write it).
RUN mkdir -p /var/lib/chorus/redis-acl && chown chorus:chorus /var/lib/chorus/redis-acl

ENV PATH="/app/bin:${PATH}" \
    CHORUS_HTTP_HOST=0.0.0.0

USER chorus:chorus
WORKDIR /app

# Credentials come as files (Compose secrets) named by CHORUS_REDIS_URL_FILE and
# CHORUS_DATABASE_URL_FILE; nothing secret is baked into the image or its environment.
CMD ["chorus", "--help"]
