# The two commands of the README, plus stopping the demo server and `make lint` (rustfmt and
# clippy, which `make test` runs first too).
# `make bench` and `make bench-aggregates` run the benchmarks whose figures docs/benchmarks.md shows.
.PHONY: demo demo-stop test lint bench bench-aggregates
demo:
	bash scripts/demo.sh
demo-stop:
	bash scripts/demo.sh stop
test:
	bash scripts/test.sh
lint:
	bash scripts/bootstrap.sh && bash scripts/lint.sh
bench:
	bash scripts/bench.sh
bench-aggregates:
	bash scripts/bench-aggregates.sh
