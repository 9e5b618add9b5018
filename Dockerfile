# pricepipe container image on Debian 13 (trixie), with librdkafka 2.14.2 (Debian testing's
# source package, as on the host: scripts/librdkafka.sh) and trixie's other packages: built with
# the same scripts CI runs (scripts/install-deps.sh, scripts/build.sh) and shipped as a small
# runtime with only the binary, the packages of the shared libraries it loads
# (scripts/runtime-packages.sh) and the config. Runs as a non-root user; stops on SIGTERM;
# health-checked through pricepipe's own liveness probe (--health-check=live, /livez).
# librdkafka's .debs come from the local image pricepipe-librdkafka:VERSION, which
# `scripts/docker-images.sh all` (or `librdkafka`) makes; scripts/check-deploy.sh checks that
# the tag below is the version scripts/librdkafka.sh pins. Both stages install those .debs, so
# trixie's own librdkafka1 2.8.0 is never installed.

ARG LIBRDKAFKA_IMAGE=pricepipe-librdkafka:2.14.2-1
FROM ${LIBRDKAFKA_IMAGE} AS librdkafka

FROM debian:13-slim AS build
WORKDIR /src
ENV PRICEPIPE_CACHE=/var/cache/pricepipe
COPY --from=librdkafka /cache/ /var/cache/pricepipe/
COPY scripts/install-deps.sh scripts/librdkafka.sh scripts/
RUN bash scripts/install-deps.sh build
COPY . .
RUN bash scripts/build.sh build -DPRICEPIPE_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr \
 && DESTDIR=/install cmake --install build \
 && bash scripts/runtime-packages.sh /install/usr/bin/pricepipe "$(bash scripts/librdkafka.sh debs)" \
      >/install/runtime-packages \
 && echo "runtime packages: $(cat /install/runtime-packages)"

FROM debian:13-slim
COPY --from=build /install/runtime-packages /tmp/runtime-packages
# runtime-packages names librdkafka by the paths of its .debs under /var/cache/pricepipe.
COPY --from=librdkafka /cache/ /var/cache/pricepipe/
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates $(cat /tmp/runtime-packages) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages /var/cache/pricepipe \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin pricepipe
COPY --from=build /install/usr/bin/pricepipe /usr/bin/pricepipe
COPY --from=build /install/etc/pricepipe/supervisor.conf /etc/pricepipe/supervisor.conf
USER pricepipe
WORKDIR /
# The health endpoint is on in the image (8080), and the probe reads the same port. The
# container's health is liveness (/livez): what Docker, Swarm or an autoheal restart should
# follow. A broker outage makes /readyz 503, and restarting pricepipe would not cure that.
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["pricepipe", "--config", "/etc/pricepipe/supervisor.conf", "--supervisor.http_port=8080", "--health-check=live"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["pricepipe", "--supervisor.http_port=8080"]
CMD ["--config", "/etc/pricepipe/supervisor.conf"]
