# axon/app-service: axon-appservice, one polylith component (Tier 2: internal API on 7778)
# Built by docker/build.sh from the static binaries it cross-compiles (no emulation, no
# Go toolchain in the image): the context is docker/.build/<arch>/.
FROM scratch
# /etc/passwd and /etc/group (user axon, uid 10001) and the CA bundle; /data, /etc/axon
# and /tmp owned by axon (a named volume mounted there starts with that owner).
COPY base/ /
COPY --chown=10001:10001 owned/ /
COPY bin/axon-appservice bin/axon-healthcheck /usr/local/bin/
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 7778
# scratch has no shell and no curl: axon-healthcheck GETs the URL, 0 on 200.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/axon-healthcheck", "http://127.0.0.1:7778/health"]
ENTRYPOINT ["/usr/local/bin/axon-appservice"]
CMD ["-config", "/etc/axon/axon.yaml"]
