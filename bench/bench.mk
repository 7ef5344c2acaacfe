# `make bench`: rtio's scenarios server(s) against the reference Node socket.io server, side by
# side in one run (bench/README.md). Not part of `make test`.
#   make bench                          full run (~25 min): writes bench/RESULTS.md and README's table
#                                       (HOSTS="rust node python socketioxide floor floor-unbatched
#                                       python-socketio socketio" by default: every figure of issue 20)
#   make bench QUICK=1                  short run (~3 min with the default hosts): writes
#                                       target/bench/RESULTS-quick.md
#   make bench HOSTS="rust c socketio"  the servers under test: any tests/interop/scenarios-server
#                                       HOST; ratios against socketio, and against socketioxide
#                                       and floor (bench/peers/) when they are among the hosts
#   make bench QUICK=1 HOSTS="rust socketioxide floor socketio" BENCH_FLAGS="--only fanout,echo"
#                                       issue 20's references: socketioxide (a Socket.IO server in
#                                       Rust) and the floor (a plain tokio-tungstenite broadcaster,
#                                       fan-out, echo, idle and storm only); their crates are built
#                                       first (~2 minutes the first time, into target/peers)
#   make bench BENCH_FLAGS="--only fanout,echo --perf target/bench/perf"   see rtio-bench --help
#   make bench QUICK=1 BENCH_FLAGS="--only cluster"   the two-node cluster through Redis alone
#                                       (needs `redis-server`; a host refusing --redis is skipped)
#   make bench HOSTS="node node-http socketio" BENCH_FLAGS="--only fanout" OUT=target/bench/issue17-node.md
#                                       a partial full-size run written elsewhere (OUT: neither
#                                       bench/RESULTS.md nor README's table is touched)
#   make bench QUICK=1 BENCH_FLAGS="--only publish"   rtio serve's HTTP publish API against
#                                       Express + socket.io (servers of its own, whatever HOSTS)
#   make bench QUICK=1 BENCH_FLAGS="--only compression"   permessage-deflate (a second server
#                                       per host with --per-message-deflate) and HTTP compression
#                                       of polling, ~2 KB JSON events, bytes on the wire
#   make bench QUICK=1 HOSTS="rust socketio" BENCH_FLAGS="--only fanout,latency"
#                                       open-loop fan-out latency at half of socket.io's fan-out
#                                       rate (--rate N to choose; see rtio-bench --help)
# The servers run pinned to CPU 0 and the load generator to CPU 1 (taskset).

# The default: the Rust, Node and Python hosts (issue 20's host crossing: each against the Rust
# host) beside every reference: socketioxide, the floor (bench/peers/), python-socketio and
# Node socket.io.
BENCH_HOSTS   = $(or $(HOSTS),rust node python socketioxide floor floor-unbatched python-socketio socketio)
# The peers of bench/peers/ among the hosts: built before the run, with cargo's output shown
# (their launchers build too, quietly, and would only make the first server slow to start).
BENCH_PEERS   = $(filter socketioxide floor,$(BENCH_HOSTS))
BENCH_OUT     = $(or $(OUT),$(if $(QUICK),target/bench/RESULTS-quick.md,bench/RESULTS.md))
BENCH_README  = $(if $(QUICK)$(OUT),,--readme README.md)
BENCH_COMMAND = make bench$(if $(QUICK), QUICK=1)$(if $(HOSTS), HOSTS="$(HOSTS)")$(if $(BENCH_FLAGS), BENCH_FLAGS="$(BENCH_FLAGS)")$(if $(OUT), OUT=$(OUT))

.PHONY: bench
bench: $(NODE_MODULES)
	$(CARGO) build --release -p rtio-bench -p rtio-examples -p rtio-server
	$(foreach peer,$(BENCH_PEERS),cd bench/peers/$(peer) && $(CARGO) build --release --locked --target-dir $(CURDIR)/target/peers && cd $(CURDIR) &&) true
	@mkdir -p target/bench
	taskset -c 1 ./target/release/rtio-bench --hosts "$(BENCH_HOSTS)" $(if $(QUICK),--quick) \
		--results $(BENCH_OUT) $(BENCH_README) --command '$(BENCH_COMMAND)' $(BENCH_FLAGS)
