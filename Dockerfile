# The dev broker in a container (used by docker-compose.yml's `devbroker` service).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p devbroker --bin devbroker

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/devbroker /usr/local/bin/devbroker
VOLUME /data
EXPOSE 8082 9092
ENTRYPOINT ["devbroker"]
CMD ["serve", "--data-dir=/data", "--http-addr=0.0.0.0:8082", "--kafka-addr=0.0.0.0:9092"]
