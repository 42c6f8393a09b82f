//go:build tools

package main

import (
	_ "github.com/ClickHouse/clickhouse-go/v2"
	_ "github.com/DataDog/datadog-go/v5/statsd"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/caarlos0/env/v11"
	_ "github.com/getsentry/sentry-go"
	_ "github.com/johannesboyne/gofakes3"
	_ "github.com/joho/godotenv"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/urfave/cli/v2"
	_ "github.com/vmihailenco/msgpack/v5"
	_ "golang.org/x/time/rate"
)
