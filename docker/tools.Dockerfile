# axon/tools: the admin tools: axon-docker-init (first-start config and key), axon-generate-config, axon-generate-keys, axon-create-account
# Built by docker/build.sh from the static binaries it cross-compiles (no emulation, no
# Go toolchain in the image): the context is docker/.build/<arch>/.
FROM scratch
# /etc/passwd and /etc/group (user axon, uid 10001) and the CA bundle; /data, /etc/axon
# and /tmp owned by axon (a named volume mounted there starts with that owner).
COPY base/ /
COPY --chown=10001:10001 owned/ /
COPY bin/axon-docker-init bin/axon-generate-config bin/axon-generate-keys bin/axon-create-account bin/axon-healthcheck /usr/local/bin/
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/axon-docker-init"]
HEALTHCHECK NONE
CMD ["-mode", "polylith", "-config", "/etc/axon/axon.yaml"]
