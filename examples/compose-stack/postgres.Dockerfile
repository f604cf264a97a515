# PostgreSQL FROM scratch: Debian's binaries and their libraries (contexts.mjs lays them out in
# rootfs/). The cluster is made at build time by initdb, as the unprivileged postgres user
# (postgres refuses to run as root); clients on the project network are trusted (samenet).
FROM scratch
ARG PG_VERSION=15
COPY rootfs/ /
COPY pg_hba.conf /etc/postgresql/pg_hba.conf
COPY --chown=999:999 rootfs/etc/group /var/lib/postgresql/.keep
ENV PATH=/usr/lib/postgresql/${PG_VERSION}/bin TZ=UTC LANG=C
USER 999
RUN ["initdb", "--no-sync", "-D", "/var/lib/postgresql/data", "-U", "postgres", "--auth-local=trust", "--auth-host=trust", "-E", "UTF8", "--locale=C"]
EXPOSE 5432
# Fast shutdown on stop (SIGTERM is "smart": it would wait for every client to disconnect).
STOPSIGNAL SIGINT
CMD ["postgres", "-D", "/var/lib/postgresql/data", "-c", "listen_addresses=*", "-c", "unix_socket_directories=", "-c", "hba_file=/etc/postgresql/pg_hba.conf"]
