# Test Docker socket proxy: Debian's own HAProxy with a configuration that reads the same
# switches (CONTAINERS, POST, ALLOW_START, ...) the stack sets on the production socket proxy.
ARG BASE
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null \
 && rm -rf /var/lib/apt/lists/*
COPY socket-proxy.cfg /etc/haproxy/socket-proxy.cfg
ENTRYPOINT ["/usr/sbin/haproxy", "-db", "-f", "/etc/haproxy/socket-proxy.cfg"]
