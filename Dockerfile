# pricepipe container image: built with the same scripts CI runs (scripts/install-deps.sh,
# scripts/build.sh), shipped as a small Debian 12 runtime with only the binary, its shared
# libraries and the config. Runs as a non-root user; stops on SIGTERM; health-checked
# through pricepipe's own /healthz probe.

FROM debian:12-slim AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh build
COPY . .
RUN bash scripts/build.sh build -DPRICEPIPE_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr \
 && DESTDIR=/install cmake --install build

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      librdkafka1 librdkafka++1 libspdlog1.10 libfmt9 libboost-program-options1.74.0 \
      libcpp-httplib0.11 libsystemd0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin pricepipe
COPY --from=build /install/usr/bin/pricepipe /usr/bin/pricepipe
COPY --from=build /install/etc/pricepipe/supervisor.conf /etc/pricepipe/supervisor.conf
USER pricepipe
WORKDIR /
# The health endpoint is on in the image (8080), and the probe reads the same port.
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["pricepipe", "--config", "/etc/pricepipe/supervisor.conf", "--supervisor.http_port=8080", "--health-check"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["pricepipe", "--supervisor.http_port=8080"]
CMD ["--config", "/etc/pricepipe/supervisor.conf"]
