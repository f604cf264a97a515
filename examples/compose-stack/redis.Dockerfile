# Redis FROM scratch: Debian's redis-server and redis-cli with their libraries (contexts.mjs).
FROM scratch
COPY rootfs/ /
USER 999
EXPOSE 6379
CMD ["/usr/bin/redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
