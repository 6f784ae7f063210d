# CI's JDK base for the oppu image (no image registry is reachable in CI): Debian's OpenJDK 17 and Maven on the
# debootstrapped Debian that .ci/docker-images imports. Built with --network host so apt and Maven reach the
# machine's mirrors; the machine's own extra CA certificates (its /usr/local/share/ca-certificates, copied into the
# build context as certs/) are trusted in the image too, for hosts whose HTTPS goes through a proxy.
ARG DEBIAN_IMAGE=oppu-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
COPY certs/ /usr/local/share/ca-certificates/
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ca-certificates openjdk-17-jdk-headless maven \
 && update-ca-certificates \
 && rm -rf /var/lib/apt/lists/*
