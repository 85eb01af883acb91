# The test base: a Debian bookworm root filesystem made locally with debootstrap and imported
# (tests/e2e/build.py), shaped like the production base (python:3.11-slim-bookworm): CPython 3.11,
# pip usable system-wide, /bin/bash. Nothing is pulled from a registry.
ARG ROOTFS
FROM ${ROOTFS}
# The build machine's own trust store, so that package downloads inside later builds (pip, as
# the production Dockerfiles do) trust what the machine trusts, plus the tests' own CA.
COPY host-ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN rm -f /usr/lib/python3*/EXTERNALLY-MANAGED
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["/bin/bash"]
