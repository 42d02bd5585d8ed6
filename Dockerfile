# Tollgate and the example MCP server, built once.
#   docker build -t tollgate .                       # the authorization server
#   docker build --target mcp-server -t mcp-demo .   # the example MCP server
# The builder and the runtime share Debian 12 (bookworm), so glibc matches.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p tollgate -p tollgate-example-mcp-server \
 && mkdir /out \
 && cp target/release/tollgate target/release/tollgate-example-mcp-server /out/

# Distroless: glibc, CA certificates and a non-root user, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot AS tollgate
COPY --from=build /out/tollgate /usr/local/bin/tollgate
WORKDIR /home/nonroot
ENV TOLLGATE_BIND=0.0.0.0:9000 \
    TOLLGATE_DATABASE_URL=sqlite:///home/nonroot/tollgate.db
EXPOSE 9000
USER nonroot
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=12 \
  CMD ["/usr/local/bin/tollgate", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["serve"]

FROM gcr.io/distroless/cc-debian12:nonroot AS mcp-server
COPY --from=build /out/tollgate-example-mcp-server /usr/local/bin/tollgate-example-mcp-server
ENV MCP_BIND=0.0.0.0:8000
EXPOSE 8000
USER nonroot
ENTRYPOINT ["/usr/local/bin/tollgate-example-mcp-server"]

# The default target is the authorization server.
FROM tollgate
