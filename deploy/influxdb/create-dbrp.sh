#!/bin/sh
# Runs once inside the influxdb:2 container after its initial setup (docker-entrypoint-initdb.d).
# Maps the InfluxQL database/retention policy gridloop/autogen to the gridloop bucket, so that
# Grafana's InfluxQL queries and the bench's v1-style writes reach the same data.
set -eu
influx v1 dbrp create \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db "${DOCKER_INFLUXDB_INIT_BUCKET}" \
  --rp autogen \
  --default
