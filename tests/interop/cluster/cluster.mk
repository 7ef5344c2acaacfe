# `make interop-cluster`: rtio nodes and Node socket.io nodes in one Socket.IO cluster through
# Redis (SCENARIOS.md "Cluster", issue 16). run.mjs starts one redis-server on a free loopback
# port for the whole run, then, for each pair of hosts in CLUSTER_HOSTS (default in lib.mjs),
# two scenarios servers joined with --redis: every cluster row both ways over websocket and
# polling (classic and sharded), the emitter, a node frozen then killed, Redis restarted.
#   make interop-cluster CLUSTER_HOSTS="socketio+socketio rust+rust"
.PHONY: interop-cluster
TEST_TARGETS += interop-cluster

interop-cluster: $(NODE_MODULES) build
	$(if $(CLUSTER_HOSTS),CLUSTER_HOSTS="$(CLUSTER_HOSTS)") node $(INTEROP)/cluster/run.mjs
