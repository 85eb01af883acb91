# Test egress proxy: Debian's own Squid, standing where the stack's pinned Squid image stands.
# The stack supplies the entrypoint (/usr/sbin/squid -N -f /etc/stockade-squid/squid.conf) and
# the rendered configuration, exactly as for the production image.
ARG BASE
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends squid >/dev/null \
 && rm -rf /var/lib/apt/lists/*
