# syntax=docker/dockerfile:1
# The ramp-controller image: a static Go binary on distroless, run as non-root.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     -t registry.example/ramp-controller:v0.1.0 --push .
#
# The chart's securityContext (runAsUser 65532, read-only root filesystem,
# no capabilities) fits this image as it is.

# Build on the builder's own platform and cross-compile: no emulation needed.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /src
# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/ramp-controller ./cmd/ramp-controller

# distroless/static: no shell, no package manager; CA certificates and
# tzdata are included (HTTPS to Prometheus, deploy windows in time zones).
FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/ramp-controller /ramp-controller
# 65532 is distroless's "nonroot" user.
USER 65532:65532
ENTRYPOINT ["/ramp-controller"]
