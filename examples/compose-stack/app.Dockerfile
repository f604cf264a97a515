# The app's image FROM scratch: this machine's node with its libraries (the `runtime` stage),
# then the scripts and the `pg` package (the `app` stage, which compose.yaml's build targets).
FROM scratch AS runtime
COPY rootfs/ /
ENV PATH=/usr/local/bin

FROM runtime AS app
ARG APP_VERSION=dev
ENV APP_VERSION=${APP_VERSION}
COPY app/ /app/
WORKDIR /app
USER 10001
CMD ["node", "api.mjs"]
