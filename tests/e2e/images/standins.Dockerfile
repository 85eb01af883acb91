# Stand-ins for what the vendor ships and this machine cannot fetch, plus the tests' own hosts.
# Each target is named for what it stands in for; none of them is the real thing.
ARG BASE
FROM ${BASE} AS common
COPY standins/ /opt/standins/
RUN python3 -m compileall -q /opt/standins
USER 65532:65532

FROM common AS vendor-api
ENTRYPOINT ["python3", "/opt/standins/vendor_api.py"]

FROM common AS testhost
ENTRYPOINT ["python3", "/opt/standins/testhost.py"]

FROM common AS mcp-proxy
ENTRYPOINT ["python3", "/opt/standins/mcp_proxy.py"]

FROM common AS cloudflared
ENTRYPOINT ["python3", "/opt/standins/cloudflared.py"]

# The stand-in `ant`, at the path the production Dockerfiles copy it from (ANT_SOURCE).
FROM ${BASE} AS ant
COPY ant /out/ant
RUN chmod 0755 /out/ant
