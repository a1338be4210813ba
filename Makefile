# The two commands of the README, plus stopping the demo server.
.PHONY: demo demo-stop test
demo:
	bash scripts/demo.sh
demo-stop:
	bash scripts/demo.sh stop
test:
	bash scripts/test.sh
