# syntax=docker/dockerfile:1
# A Go API server with a web front end, plus a docs stage the image does not need.

FROM golang:1.25 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ ./cmd/
COPY internal/ ./internal/
RUN go build -o /out/server ./cmd/server

FROM node:22-slim AS assets
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci
COPY web/ .
RUN npm run build

# Nothing below copies from this stage: BuildKit skips it, the classic builder builds it anyway.
FROM debian:bookworm-slim AS docs
RUN apt-get update && apt-get install -y --no-install-recommends pandoc
COPY docs/ /docs
RUN pandoc /docs/guide.md -o /docs/guide.html

FROM debian:bookworm-slim AS runtime
COPY --from=build /out/server /usr/local/bin/server
COPY --from=assets /web/dist /srv/www
EXPOSE 8080
CMD ["server"]
