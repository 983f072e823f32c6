# axon/syncv3-proxy: sync v3 in front of any Matrix homeserver (docs/sync-v3.md, "The proxy"), on 8009
# Built by docker/build.sh from the static binaries it cross-compiles (no emulation, no
# Go toolchain in the image): the context is docker/.build/<arch>/.
# Run: docker run -v syncv3:/data -p 127.0.0.1:8009:8009 axon/syncv3-proxy \
#        -server https://matrix.example.org -http-bind 0.0.0.0:8009
# (inside the container it must bind every interface; publish the port to loopback or put
# TLS in front). -db postgres://… moves its tables to Postgres.
FROM scratch
# /etc/passwd and /etc/group (user axon, uid 10001) and the CA bundle (an https upstream);
# /data, /etc/axon and /tmp owned by axon (a named volume mounted there starts with that owner).
COPY base/ /
COPY --chown=10001:10001 owned/ /
COPY bin/axon-syncv3-proxy bin/axon-healthcheck /usr/local/bin/
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8009
# scratch has no shell and no curl: axon-healthcheck GETs the URL, 0 on 200. The proxy
# passes /_matrix/client/versions through, so this checks the upstream is reachable too.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/axon-healthcheck", "http://127.0.0.1:8009/_matrix/client/versions"]
ENTRYPOINT ["/usr/local/bin/axon-syncv3-proxy", "-db", "file:/data/syncv3proxy.db"]
CMD ["-server", "http://homeserver:8008", "-http-bind", "0.0.0.0:8009"]
