# The oppu image: the repository built once at image build time; the entry point is ./oppu (docker-compose.yml runs
# `./oppu run streams` and `./oppu run trainer` from it; its test override and the tests' Testcontainers broker run
# `./oppu broker`). JDK + Maven stay in the image because ./oppu rebuilds when sources are newer than its last build.
#
# BASE_IMAGE: any image with a JDK 17 and Maven 3.8+ on the PATH. The default is the public Maven image; CI, which
# reaches no image registry, builds from a Debian-made one (.ci/docker-images):
#   docker build --network host --build-arg BASE_IMAGE=oppu-local/jdk:17 -t oppu:latest .
ARG BASE_IMAGE=maven:3.9-eclipse-temurin-17
FROM ${BASE_IMAGE}
WORKDIR /oppu
# Settings first: under Docker's vfs storage driver (CI's) every instruction copies the whole file system so far.
ENV DJL_CACHE_DIR=/oppu/.djl.ai
ENTRYPOINT ["./oppu"]
CMD ["--help"]
# Dependencies first, so a source change does not download them again.
COPY pom.xml ./
COPY schemas/pom.xml schemas/
COPY lamp/pom.xml lamp/
COPY model/pom.xml model/
COPY broker/pom.xml broker/
COPY streams/pom.xml streams/
COPY trainer/pom.xml trainer/
COPY serving/pom.xml serving/
COPY app/pom.xml app/
RUN mvn -B -q dependency:go-offline -DexcludeArtifactIds=oppu-schemas,oppu-lamp,oppu-model,oppu-broker,oppu-streams,oppu-trainer,oppu-serving || true
COPY . .
RUN ./oppu --version
