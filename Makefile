# Convenience targets; each delegates to scripts/dev, which works without make too.
.PHONY: demo test bench lint setup
demo:
	./scripts/dev demo
test:
	./scripts/dev test
bench:
	./scripts/dev bench
lint:
	./scripts/dev lint
setup:
	./scripts/dev setup
