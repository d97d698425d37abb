# Parley's image: a static binary, the CA certificates it needs to reach a JWKS URL or a webhook
# receiver over TLS, and nothing else, run as a user without privileges.
#
#   docker build -t parley .
#   docker run --network host parley serve --database-url postgres://… --jwt-secret …
#
# The final stage is what `make test-image` builds, from a binary the host's Go built: keep what it
# copies from the build stage under /out.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
		-o /out/parley ./cmd/parley \
	&& cp /etc/ssl/certs/ca-certificates.crt /out/ca-certificates.crt

FROM scratch AS parley
COPY --from=build /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/parley /parley
# A numeric user needs no /etc/passwd; 65532 is the "nonroot" of distroless images.
USER 65532:65532
# Parley keeps no files: settings come as flags or PARLEY_* variables, state lives in PostgreSQL.
EXPOSE 8080
ENTRYPOINT ["/parley"]
CMD ["serve"]
