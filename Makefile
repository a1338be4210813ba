# The two commands of the README, plus stopping the demo server.
# `make bench` runs the benchmark whose figures the README shows.
.PHONY: demo demo-stop test bench
demo:
	bash scripts/demo.sh
demo-stop:
	bash scripts/demo.sh stop
test:
	bash scripts/test.sh
bench:
	bash scripts/bench.sh
