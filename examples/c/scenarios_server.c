/*
 * The C scenarios server: every behaviour of shared/SCENARIOS.md, written with rtio's C API
 * the way a C user would. Run it through `tests/interop/scenarios-server c`.
 *
 * Events arrive in callback mode on rtio's dispatcher thread (one thread, so the handler's
 * state needs no lock); the `later` row emits from a thread of our own. The main thread waits
 * for SIGINT/SIGTERM and stops the server.
 *
 * With `--redis URL` (`--redis-key PREFIX`, `--redis-sharded`) it joins a Socket.IO cluster
 * through Redis, wire-compatible with Node's `@socket.io/redis-adapter`; the cluster rows work
 * without it too, on one server. A cluster operation returns a token at once and its answer
 * arrives later as an event with that token, so the rows remember which client ack each token
 * answers.
 *
 * With `--embedded` (built with -DRTIO_WITH_MICROHTTPD and libmicrohttpd) the clients talk to
 * a libmicrohttpd server on `--port` that hands /socket.io/ to rtio (rtio_microhttpd.h:
 * rtio_handle_request for polling, rtio_adopt_websocket for WebSockets); rtio's own listener
 * then sits unused on a free loopback port. MHD serves --static-dir's index.html at / and the
 * --client-bundle at /socket.io/socket.io.js itself.
 */
#define _POSIX_C_SOURCE 200809L
#include <rtio.h>
#ifdef RTIO_WITH_MICROHTTPD
#include "rtio_microhttpd.h"
static rtio_mhd glue;
static char *index_html; /* --static-dir's index.html, MHD's page at / */
static size_t index_len;

static enum MHD_Result embedded_page(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **req_cls) {
  (void)cls, (void)method, (void)version, (void)upload_data, (void)req_cls;
  if (*upload_data_size) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  bool found = index_html && (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0);
  struct MHD_Response *resp = found
      ? MHD_create_response_from_buffer(index_len, index_html, MHD_RESPMEM_PERSISTENT)
      : MHD_create_response_from_buffer(10, (void *)"not found\n", MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(resp, "Content-Type", found ? "text/html; charset=utf-8" : "text/plain");
  enum MHD_Result ret = MHD_queue_response(conn, found ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND, resp);
  MHD_destroy_response(resp);
  return ret;
}

static void read_index(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/index.html", dir);
  FILE *f = fopen(path, "rb");
  if (!f) return;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  index_html = malloc(size > 0 ? (size_t)size : 1);
  index_len = index_html && size > 0 ? fread(index_html, 1, (size_t)size, f) : 0;
  fclose(f);
}
#endif

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static rtio_server *server;
static bool send_visits = true;
/* Sockets on `/`, counted as the connect and disconnect events are handled (seed 000's
 * totalUsers), so every `visits` follows the event order. Only the dispatcher touches it. */
static size_t visitors = 0;

/* The sockets of / that came back with connection state recovery (`is-recovered`); only the
 * dispatcher thread touches it. */
static char **recovered = NULL;
static size_t recovered_len = 0;

static bool is_recovered(const char *sid) {
  for (size_t i = 0; i < recovered_len; i++) {
    if (strcmp(recovered[i], sid) == 0) return true;
  }
  return false;
}

static void forget_recovered(const char *sid) {
  for (size_t i = 0; i < recovered_len; i++) {
    if (strcmp(recovered[i], sid) == 0) {
      free(recovered[i]);
      recovered[i] = recovered[--recovered_len];
      return;
    }
  }
}

static void remember_recovered(const char *sid) {
  char **grown = realloc(recovered, (recovered_len + 1) * sizeof *recovered);
  char *copy = strdup(sid);
  if (!grown || !copy) {
    free(copy);
    if (grown) recovered = grown;
    return;
  }
  recovered = grown;
  recovered[recovered_len++] = copy;
}

static void report(const char *what, rtio_status status) {
  if (status != RTIO_STATUS_OK) {
    fprintf(stderr, "%s: %s: %s\n", what, rtio_status_name(status), rtio_last_error());
  }
}
#define CHECK(call) report(#call, (call))

/* ---- small JSON helpers (rtio gives raw JSON text; we only splice and quote) ---------- */

/* `s` as a JSON string literal, malloc'ed. */
static char *json_quote(const char *s) {
  size_t n = strlen(s);
  char *out = malloc(n * 6 + 3);
  if (!out) return NULL;
  char *p = out;
  *p++ = '"';
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\') {
      *p++ = '\\';
      *p++ = (char)*c;
    } else if (*c < 0x20) {
      p += sprintf(p, "\\u%04x", *c);
    } else {
      *p++ = (char)*c;
    }
  }
  *p++ = '"';
  *p = '\0';
  return out;
}

/* `[value]` where value is the raw JSON at `pointer` in `json` (or null), malloc'ed. */
static char *wrap_value_at(const char *json, size_t len, const char *pointer) {
  const char *value = "null";
  size_t value_len = 4;
  if (rtio_json_get(json, len, pointer, &value, &value_len) != RTIO_STATUS_OK) {
    value = "null";
    value_len = 4;
  }
  char *out = malloc(value_len + 3);
  if (!out) return NULL;
  out[0] = '[';
  memcpy(out + 1, value, value_len);
  out[value_len + 1] = ']';
  out[value_len + 2] = '\0';
  return out;
}

/* The string at `pointer`, malloc'ed by rtio (free with rtio_string_free), or NULL. */
static char *string_at(const char *json, size_t len, const char *pointer) {
  char *out = NULL;
  if (rtio_json_get_string(json, len, pointer, &out) != RTIO_STATUS_OK) return NULL;
  return out;
}

/* A growing, NUL-terminated text buffer for assembling JSON. */
typedef struct {
  char *p;
  size_t len, cap;
} text;

static void text_add(text *t, const char *s, size_t n) {
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 64;
    while (t->len + n + 1 > cap) cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) abort();
    t->p = p;
    t->cap = cap;
  }
  memcpy(t->p + t->len, s, n);
  t->len += n;
  t->p[t->len] = '\0';
}

static void text_str(text *t, const char *s) { text_add(t, s, strlen(s)); }

/* Appends the raw JSON at `pointer` in `json` (or null). */
static void text_value_at(text *t, const char *json, size_t len, const char *pointer) {
  const char *value = NULL;
  size_t value_len = 0;
  if (json && rtio_json_get(json, len, pointer, &value, &value_len) == RTIO_STATUS_OK) {
    text_add(t, value, value_len);
  } else {
    text_str(t, "null");
  }
}

static void text_quoted(text *t, const char *s) {
  char *q = json_quote(s);
  if (!q) abort();
  text_str(t, q);
  free(q);
}

/* The event's attachments as buffers for re-sending (borrowed from the event). */
typedef struct {
  rtio_buffer items[64];
  size_t len;
} attachments;

static void attachments_of(const rtio_event *ev, attachments *out) {
  size_t n = rtio_event_attachment_count(ev);
  out->len = n < 64 ? n : 64;
  for (size_t i = 0; i < out->len; i++) {
    out->items[i].data = rtio_event_attachment(ev, i, &out->items[i].len);
  }
}

/* ---- the main namespace --------------------------------------------------------------- */

static void broadcast_visits(void) {
  char json[32];
  int n = snprintf(json, sizeof json, "[%zu]", visitors);
  CHECK(rtio_broadcast(server, NULL, "visits", json, (size_t)n, NULL, 0, NULL));
}

/* ---- the request gate ------------------------------------------------------------------- */

/* True when the query string has the pair `pair` (e.g. "deny=1") among its `&`-separated ones. */
static bool query_has(const char *query, const char *pair) {
  size_t n = strlen(pair);
  for (const char *p = query;; p++) {
    if (strncmp(p, pair, n) == 0 && (p[n] == '&' || p[n] == '\0')) return true;
    p = strchr(p, '&');
    if (!p) return false;
  }
}

/* Every handshake asks first: one whose query has `deny=1` is refused. */
static void on_request(const rtio_event *ev) {
  size_t len = 0;
  const char *request = rtio_event_handshake(ev, &len);
  char *query = string_at(request, len, "/query");
  if (query && query_has(query, "deny=1")) {
    CHECK(rtio_request_deny(server, rtio_event_request(ev), 403, "denied by the request gate"));
  } else {
    CHECK(rtio_request_allow(server, rtio_event_request(ev)));
  }
  rtio_string_free(query);
}

/* Questions asked with an ack, to answer the right socket when the ack (or timeout) comes. */
#define MAX_QUESTIONS 4096
static struct {
  uint64_t token;
  char sid[64];
} questions[MAX_QUESTIONS];

static void remember_question(uint64_t token, const char *sid) {
  size_t slot = token % MAX_QUESTIONS;
  questions[slot].token = token;
  snprintf(questions[slot].sid, sizeof questions[slot].sid, "%s", sid);
}

/* The `later` row: emit from a thread that is not an rtio callback. */
typedef struct {
  char sid[64];
  char *event;
  char *json;
  size_t attachments_len;
  rtio_buffer *attachments;
  long ms;
} later_job;

static void *later_thread(void *arg) {
  later_job *job = arg;
  struct timespec t = {job->ms / 1000, (job->ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
  rtio_status st = rtio_emit(server, job->sid, job->event, job->json, strlen(job->json),
                             job->attachments, job->attachments_len);
  if (st != RTIO_STATUS_OK && st != RTIO_STATUS_UNKNOWN_SOCKET && st != RTIO_STATUS_STOPPED) {
    report("later: rtio_emit", st);
  }
  for (size_t i = 0; i < job->attachments_len; i++) free((void *)job->attachments[i].data);
  free(job->attachments);
  free(job->event);
  free(job->json);
  free(job);
  return NULL;
}

static void schedule_later(const rtio_event *ev, const char *sid, const char *data, size_t len) {
  later_job *job = calloc(1, sizeof *job);
  if (!job) return;
  double ms = 0;
  rtio_json_get_number(data, len, "/0/ms", &ms);
  job->ms = (long)ms;
  snprintf(job->sid, sizeof job->sid, "%s", sid);
  job->event = string_at(data, len, "/0/event");
  char *event_copy = job->event ? strdup(job->event) : strdup("later");
  rtio_string_free(job->event);
  job->event = event_copy;
  job->json = wrap_value_at(data, len, "/0/data");
  /* The event and its attachments are only borrowed: copy what the thread needs. */
  job->attachments_len = rtio_event_attachment_count(ev);
  job->attachments = calloc(job->attachments_len + 1, sizeof(rtio_buffer));
  for (size_t i = 0; i < job->attachments_len; i++) {
    size_t n = 0;
    const uint8_t *bytes = rtio_event_attachment(ev, i, &n);
    uint8_t *copy = malloc(n + 1);
    memcpy(copy, bytes, n);
    job->attachments[i].data = copy;
    job->attachments[i].len = n;
  }
  pthread_t thread;
  if (pthread_create(&thread, NULL, later_thread, job) == 0) pthread_detach(thread);
}

static bool on_cluster_message(const rtio_event *ev, const char *name, const char *sid,
                               const char *data, size_t len, int64_t ack);

static void on_main_message(const rtio_event *ev) {
  const char *sid = rtio_event_sid(ev);
  const char *name = rtio_event_name(ev, NULL);
  size_t len = 0;
  const char *data = rtio_event_data(ev, &len);
  int64_t ack = rtio_event_ack_id(ev);
  attachments att;
  attachments_of(ev, &att);

  if (on_cluster_message(ev, name, sid, data, len, ack)) return;
  if (strcmp(name, "message") == 0) {
    CHECK(rtio_emit(server, sid, "message-back", data, len, att.items, att.len));
  } else if (strcmp(name, "message-with-ack") == 0 && ack >= 0) {
    CHECK(rtio_ack(server, sid, ack, data, len, att.items, att.len));
  } else if (strcmp(name, "toServer") == 0) {
    char *nome = string_at(data, len, "/0/nome");
    char *msg = string_at(data, len, "/0/msg");
    size_t n = strlen(nome ? nome : "") + strlen(msg ? msg : "") + 2;
    char *line = malloc(n);
    snprintf(line, n, "%s:%s", nome ? nome : "", msg ? msg : "");
    char *quoted = json_quote(line);
    char *json = malloc(strlen(quoted) + 3);
    sprintf(json, "[%s]", quoted);
    CHECK(rtio_emit(server, sid, "toClient", json, strlen(json), NULL, 0));
    rtio_broadcast_opts others = {.nsp = "/", .except_sid = sid};
    CHECK(rtio_broadcast(server, &others, "toClient", json, strlen(json), NULL, 0, NULL));
    free(json);
    free(quoted);
    free(line);
    rtio_string_free(nome);
    rtio_string_free(msg);
  } else if (strcmp(name, "client:created:job") == 0) {
    CHECK(rtio_broadcast(server, NULL, "server:created:job", data, len, att.items, att.len, NULL));
  } else if (strcmp(name, "whoami") == 0 && ack >= 0) {
    char json[96];
    int n = snprintf(json, sizeof json, "[\"%s\"]", sid);
    CHECK(rtio_ack(server, sid, ack, json, (size_t)n, NULL, 0));
  } else if (strcmp(name, "is-recovered") == 0 && ack >= 0) {
    const char *answer = is_recovered(sid) ? "[true]" : "[false]";
    CHECK(rtio_ack(server, sid, ack, answer, strlen(answer), NULL, 0));
  } else if (strcmp(name, "join") == 0 || strcmp(name, "leave") == 0) {
    char *room = string_at(data, len, "/0");
    if (room) {
      CHECK(name[0] == 'j' ? rtio_join(server, sid, room) : rtio_leave(server, sid, room));
      rtio_string_free(room);
    }
    if (ack >= 0) CHECK(rtio_ack(server, sid, ack, "[true]", 6, NULL, 0));
  } else if (strcmp(name, "to-room") == 0 || strcmp(name, "to-room-except-me") == 0) {
    char *room = string_at(data, len, "/0/room");
    char *event = string_at(data, len, "/0/event");
    char *json = wrap_value_at(data, len, "/0/data");
    if (room && event && json) {
      const char *rooms[1] = {room};
      rtio_broadcast_opts opts = {.nsp = "/", .rooms = rooms, .rooms_len = 1};
      if (strcmp(name, "to-room-except-me") == 0) opts.except_sid = sid;
      CHECK(rtio_broadcast(server, &opts, event, json, strlen(json), att.items, att.len, NULL));
    }
    free(json);
    rtio_string_free(event);
    rtio_string_free(room);
  } else if (strcmp(name, "broadcast") == 0) {
    rtio_broadcast_opts others = {.nsp = "/", .except_sid = sid};
    CHECK(rtio_broadcast(server, &others, "broadcast", data, len, att.items, att.len, NULL));
  } else if (strcmp(name, "fanout") == 0) {
    char *event = string_at(data, len, "/0/event");
    char *json = wrap_value_at(data, len, "/0/data");
    if (event && json) {
      CHECK(rtio_broadcast(server, NULL, event, json, strlen(json), att.items, att.len, NULL));
    }
    free(json);
    rtio_string_free(event);
  } else if (strcmp(name, "ask") == 0) {
    double timeout_ms = 5000;
    rtio_json_get_number(data, len, "/0/timeout_ms", &timeout_ms);
    char *json = wrap_value_at(data, len, "/0/question");
    uint64_t token = 0;
    rtio_status st = rtio_emit_with_ack(server, sid, "question", json, strlen(json), NULL, 0,
                                        (uint32_t)(timeout_ms > 0 ? timeout_ms : 1), &token);
    report("rtio_emit_with_ack", st);
    if (st == RTIO_STATUS_OK) remember_question(token, sid);
    free(json);
  } else if (strcmp(name, "later") == 0) {
    schedule_later(ev, sid, data, len);
  } else if (strcmp(name, "kick-me") == 0) {
    CHECK(rtio_disconnect(server, sid, true));
  } else if (strcmp(name, "throw") == 0) {
    /* A handler failing on purpose: report it and keep serving. */
    fprintf(stderr, "handler error: the client asked this handler to fail (\"throw\")\n");
  } else if (strcmp(name, "stats") == 0 && ack >= 0) {
    size_t sockets = 0, rooms = 0;
    CHECK(rtio_stats(server, "/", &sockets, &rooms));
    char json[96];
    int n = snprintf(json, sizeof json, "[{\"sockets\":%zu,\"rooms\":%zu}]", sockets, rooms);
    CHECK(rtio_ack(server, sid, ack, json, (size_t)n, NULL, 0));
  }
}


/* ---- the cluster rows ------------------------------------------------------------------- */

/* How long a request to the other nodes waits for their answers (Node's requestsTimeout is
 * 5 s): short, so that a node that stopped answering costs 2 s. */
#define REQUESTS_TIMEOUT_MS 2000

/* A cluster operation in flight: which client ack its answer completes. */
enum pending_kind {
  PENDING_NONE = 0,
  PENDING_STATS_SOCKETS, /* cluster-stats: the fetch of every socket on / */
  PENDING_STATS_SERVERS, /* cluster-stats: the server count (`fetch` is the fetch's token) */
  PENDING_ROOM_SOCKETS,
  PENDING_PING,
  PENDING_BROADCAST_ACK,
};

#define MAX_PENDING 4096
static struct {
  uint64_t token;
  enum pending_kind kind;
  char sid[64];
  int64_t ack;
  uint64_t fetch;
  /* cluster-stats, on the fetch's entry: -1 until known. */
  long sockets, servers;
  char error[256];
} pending[MAX_PENDING];

static void remember_pending(uint64_t token, enum pending_kind kind, const char *sid, int64_t ack) {
  size_t slot = token % MAX_PENDING;
  pending[slot].token = token;
  pending[slot].kind = kind;
  snprintf(pending[slot].sid, sizeof pending[slot].sid, "%s", sid);
  pending[slot].ack = ack;
  pending[slot].fetch = 0;
  pending[slot].sockets = -1;
  pending[slot].servers = -1;
  pending[slot].error[0] = '\0';
}

/* The slot of `token`; `*found` says whether it holds an operation in flight. */
static size_t pending_slot(uint64_t token, bool *found) {
  size_t slot = token % MAX_PENDING;
  *found = token != 0 && pending[slot].token == token && pending[slot].kind != PENDING_NONE;
  return slot;
}

/* Answers a client's ack with one JSON value; the client may have left meanwhile. */
static void answer_client(const char *sid, int64_t ack, const char *value) {
  text json = {0};
  text_str(&json, "[");
  text_str(&json, value);
  text_str(&json, "]");
  rtio_status st = rtio_ack(server, sid, ack, json.p, json.len, NULL, 0);
  if (st != RTIO_STATUS_UNKNOWN_SOCKET) report("cluster answer", st);
  free(json.p);
}

/* {"error": message}, for an operation that did not complete. */
static void answer_failure(const char *sid, int64_t ack, const char *message) {
  text json = {0};
  text_str(&json, "{\"error\":");
  text_quoted(&json, message);
  text_str(&json, "}");
  answer_client(sid, ack, json.p);
  free(json.p);
}

/* A cluster-stats request is answered once both its fetch and its count came. */
static void maybe_answer_stats(size_t slot) {
  if (pending[slot].error[0]) {
    answer_failure(pending[slot].sid, pending[slot].ack, pending[slot].error);
  } else if (pending[slot].sockets >= 0 && pending[slot].servers >= 0) {
    char json[96];
    snprintf(json, sizeof json, "{\"sockets\":%ld,\"servers\":%ld}", pending[slot].sockets,
             pending[slot].servers);
    answer_client(pending[slot].sid, pending[slot].ack, json);
  } else {
    return;
  }
  pending[slot].kind = PENDING_NONE;
}

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The rows whose answer needs the other nodes: start the operation, answer later. */
static void start_cluster_request(const rtio_event *ev, const char *name, const char *sid,
                                  const char *data, size_t len, int64_t ack) {
  uint64_t token = 0;
  rtio_status st;
  if (strcmp(name, "cluster-stats") == 0) {
    uint64_t count = 0;
    st = rtio_fetch_sockets(server, NULL, &token);
    if (st == RTIO_STATUS_OK) st = rtio_server_count(server, "/", &count);
    report("cluster-stats", st);
    if (st != RTIO_STATUS_OK) return;
    remember_pending(token, PENDING_STATS_SOCKETS, sid, ack);
    remember_pending(count, PENDING_STATS_SERVERS, sid, ack);
    pending[count % MAX_PENDING].fetch = token;
  } else if (strcmp(name, "room-sockets") == 0) {
    char *room = string_at(data, len, "/0");
    if (!room) return;
    const char *rooms[1] = {room};
    rtio_broadcast_opts in_room = {.nsp = "/", .rooms = rooms, .rooms_len = 1};
    st = rtio_fetch_sockets(server, &in_room, &token);
    rtio_string_free(room);
    report("room-sockets", st);
    if (st == RTIO_STATUS_OK) remember_pending(token, PENDING_ROOM_SOCKETS, sid, ack);
  } else if (strcmp(name, "server-side-ping") == 0) {
    st = rtio_server_side_emit_with_ack(server, "/", "ping", NULL, 0, NULL, 0, REQUESTS_TIMEOUT_MS,
                                        &token);
    report("server-side-ping", st);
    if (st == RTIO_STATUS_OK) remember_pending(token, PENDING_PING, sid, ack);
  } else { /* broadcast-with-ack */
    double timeout_ms = 5000;
    rtio_json_get_number(data, len, "/0/timeout_ms", &timeout_ms);
    char *event = string_at(data, len, "/0/event");
    char *json = wrap_value_at(data, len, "/0/data");
    attachments att;
    attachments_of(ev, &att);
    st = event && json ? rtio_broadcast_with_ack(server, NULL, event, json, strlen(json), att.items,
                                                 att.len, (uint32_t)(timeout_ms >= 1 ? timeout_ms : 1),
                                                 &token)
                       : RTIO_STATUS_INVALID_ARGUMENT;
    report("broadcast-with-ack", st);
    if (st == RTIO_STATUS_OK) remember_pending(token, PENDING_BROADCAST_ACK, sid, ack);
    free(json);
    rtio_string_free(event);
  }
}

/* The rows that act on every node at once. Returns false when `name` is no such row. */
static bool on_cluster_message(const rtio_event *ev, const char *name, const char *sid,
                               const char *data, size_t len, int64_t ack) {
  attachments att;
  attachments_of(ev, &att);
  if (strcmp(name, "cluster-stats") == 0 || strcmp(name, "room-sockets") == 0 ||
      strcmp(name, "server-side-ping") == 0 || strcmp(name, "broadcast-with-ack") == 0) {
    if (ack >= 0) start_cluster_request(ev, name, sid, data, len, ack);
  } else if (strcmp(name, "sockets-join") == 0 || strcmp(name, "sockets-leave") == 0) {
    char *in = string_at(data, len, "/0/in");
    char *room = string_at(data, len, "/0/room");
    if (in && room) {
      const char *from[1] = {in};
      const char *rooms[1] = {room};
      rtio_broadcast_opts members = {.nsp = "/", .rooms = from, .rooms_len = 1};
      CHECK(strcmp(name, "sockets-join") == 0 ? rtio_sockets_join(server, &members, rooms, 1)
                           : rtio_sockets_leave(server, &members, rooms, 1));
    }
    rtio_string_free(in);
    rtio_string_free(room);
    if (ack >= 0) CHECK(rtio_ack(server, sid, ack, "[true]", 6, NULL, 0));
  } else if (strcmp(name, "disconnect-in") == 0) {
    char *room = string_at(data, len, "/0");
    if (room) {
      const char *rooms[1] = {room};
      rtio_broadcast_opts members = {.nsp = "/", .rooms = rooms, .rooms_len = 1};
      CHECK(rtio_disconnect_sockets(server, &members, true));
    }
    rtio_string_free(room);
  } else if (strcmp(name, "fanout-except") == 0) {
    char *except = string_at(data, len, "/0/except");
    char *event = string_at(data, len, "/0/event");
    char *json = wrap_value_at(data, len, "/0/data");
    if (except && event && json) {
      const char *rooms[1] = {except};
      rtio_broadcast_opts others = {.nsp = "/", .except_rooms = rooms, .except_rooms_len = 1};
      CHECK(rtio_broadcast(server, &others, event, json, strlen(json), att.items, att.len, NULL));
    }
    free(json);
    rtio_string_free(event);
    rtio_string_free(except);
  } else if (strcmp(name, "server-side-emit") == 0) {
    /* The other nodes relay it to their sockets (a single server tells no one). */
    text relay = {0};
    text_str(&relay, "[{\"event\":");
    text_value_at(&relay, data, len, "/0/event");
    text_str(&relay, ",\"data\":");
    text_value_at(&relay, data, len, "/0/data");
    text_str(&relay, "}]");
    CHECK(rtio_server_side_emit(server, "/", "relay", relay.p, relay.len, att.items, att.len));
    free(relay.p);
  } else {
    return false;
  }
  return true;
}

/* `{"ok": <complete>, "responses": [<first argument of each answer>]}`. */
static void answer_with_answers(const rtio_event *ev, const char *sid, int64_t ack) {
  text json = {0};
  text_str(&json, "{\"ok\":");
  text_str(&json, rtio_event_error(ev)[0] ? "false" : "true");
  text_str(&json, ",\"responses\":[");
  for (size_t i = 0; i < rtio_event_answer_count(ev); i++) {
    size_t n = 0;
    const char *args = rtio_event_answer(ev, i, &n);
    if (i > 0) text_str(&json, ",");
    text_value_at(&json, args, n, "/0");
  }
  text_str(&json, "]}");
  answer_client(sid, ack, json.p);
  free(json.p);
}

/* The answers of the operations started above. */
static void on_cluster_answer(const rtio_event *ev) {
  bool found = false;
  size_t slot = pending_slot(rtio_event_token(ev), &found);
  if (!found) return;
  const char *error = rtio_event_error(ev);
  switch (pending[slot].kind) {
    case PENDING_STATS_SOCKETS:
      if (error[0]) snprintf(pending[slot].error, sizeof pending[slot].error, "%s", error);
      pending[slot].sockets = (long)rtio_event_socket_count(ev);
      maybe_answer_stats(slot);
      return;
    case PENDING_STATS_SERVERS: {
      pending[slot].kind = PENDING_NONE;
      bool fetch_found = false;
      size_t fetch = pending_slot(pending[slot].fetch, &fetch_found);
      if (!fetch_found) return;
      if (error[0]) snprintf(pending[fetch].error, sizeof pending[fetch].error, "%s", error);
      pending[fetch].servers = (long)rtio_event_count(ev);
      maybe_answer_stats(fetch);
      return;
    }
    case PENDING_ROOM_SOCKETS: {
      if (error[0]) {
        answer_failure(pending[slot].sid, pending[slot].ack, error);
        break;
      }
      size_t n = rtio_event_socket_count(ev);
      const char **ids = calloc(n + 1, sizeof *ids);
      for (size_t i = 0; i < n; i++) ids[i] = rtio_event_socket_id(ev, i);
      qsort(ids, n, sizeof *ids, compare_strings);
      text json = {0};
      text_str(&json, "[");
      for (size_t i = 0; i < n; i++) {
        if (i > 0) text_str(&json, ",");
        text_quoted(&json, ids[i]);
      }
      text_str(&json, "]");
      answer_client(pending[slot].sid, pending[slot].ack, json.p);
      free(json.p);
      free(ids);
      break;
    }
    case PENDING_PING:
    case PENDING_BROADCAST_ACK:
      answer_with_answers(ev, pending[slot].sid, pending[slot].ack);
      break;
    case PENDING_NONE:
      return;
  }
  pending[slot].kind = PENDING_NONE;
}

/* Server-side events from the other nodes (or the emitter's serverSideEmit). */
static void on_server_side_emit(const rtio_event *ev) {
  if (strcmp(rtio_event_namespace(ev), "/") != 0) return;
  const char *name = rtio_event_name(ev, NULL);
  size_t len = 0;
  const char *data = rtio_event_data(ev, &len);
  int64_t ack = rtio_event_ack_id(ev);
  if (strcmp(name, "relay") == 0) {
    char *event = string_at(data, len, "/0/event");
    char *json = wrap_value_at(data, len, "/0/data");
    attachments att;
    attachments_of(ev, &att);
    /* This node's sockets only: the sender's node told every other node itself. */
    rtio_broadcast_opts here = {.nsp = "/", .local = true};
    if (event && json) {
      CHECK(rtio_broadcast(server, &here, event, json, strlen(json), att.items, att.len, NULL));
    }
    free(json);
    rtio_string_free(event);
  } else if (strcmp(name, "ping") == 0 && ack >= 0) {
    size_t sockets = 0;
    CHECK(rtio_stats(server, "/", &sockets, NULL));
    char json[32];
    int n = snprintf(json, sizeof json, "[%zu]", sockets);
    CHECK(rtio_server_side_ack(server, ack, json, (size_t)n, NULL, 0));
  }
}

static void on_ack_response(const rtio_event *ev) {
  uint64_t token = rtio_event_ack_token(ev);
  size_t slot = token % MAX_QUESTIONS;
  if (questions[slot].token != token) return;
  questions[slot].token = 0;
  const char *sid = questions[slot].sid;
  if (rtio_event_ack_timed_out(ev)) {
    const char *json = "[{\"ok\":false,\"error\":\"timeout\"}]";
    rtio_status st = rtio_emit(server, sid, "answer", json, strlen(json), NULL, 0);
    if (st != RTIO_STATUS_UNKNOWN_SOCKET) report("answer", st);
    return;
  }
  size_t len = 0;
  const char *data = rtio_event_data(ev, &len);
  const char *value = "null";
  size_t value_len = 4;
  if (rtio_json_get(data, len, "/0", &value, &value_len) != RTIO_STATUS_OK) {
    value = "null";
    value_len = 4;
  }
  const char *head = "[{\"ok\":true,\"value\":";
  char *json = malloc(strlen(head) + value_len + 3);
  sprintf(json, "%s%.*s}]", head, (int)value_len, value);
  attachments att;
  attachments_of(ev, &att);
  rtio_status st = rtio_emit(server, sid, "answer", json, strlen(json), att.items, att.len);
  if (st != RTIO_STATUS_UNKNOWN_SOCKET) report("answer", st);
  free(json);
}

/* ---- every event ------------------------------------------------------------------------ */

static void on_event(const rtio_event *ev, void *user_data) {
  (void)user_data;
#ifdef RTIO_WITH_MICROHTTPD
  if (rtio_mhd_on_event(&glue, ev)) return;
#endif
  const char *nsp = rtio_event_namespace(ev);
  const char *sid = rtio_event_sid(ev);
  size_t len = 0;
  const char *data = rtio_event_data(ev, &len);
  switch (rtio_event_get_type(ev)) {
    case RTIO_EVENT_TYPE_CONNECT_REQUEST: {
      /* Only /admin has middleware: it wants auth {token: "secret"}. */
      char *token = string_at(data, len, "/token");
      if (token && strcmp(token, "secret") == 0) {
        CHECK(rtio_accept(server, rtio_event_request(ev)));
      } else {
        CHECK(rtio_reject(server, rtio_event_request(ev), "unauthorized", NULL));
      }
      rtio_string_free(token);
      break;
    }
    case RTIO_EVENT_TYPE_CONNECT: {
      if (strcmp(nsp, "/admin") == 0) {
        char json[96];
        int n = snprintf(json, sizeof json, "[{\"id\":\"%s\"}]", sid);
        CHECK(rtio_emit(server, sid, "admin-hello", json, (size_t)n, NULL, 0));
        break;
      }
      char *json = malloc(len + 3);
      sprintf(json, "[%.*s]", (int)len, data);
      CHECK(rtio_emit(server, sid, "auth", json, len + 2, NULL, 0));
      free(json);
      if (strcmp(nsp, "/") == 0) {
        if (rtio_event_recovered(ev)) remember_recovered(sid);
        visitors++;
        if (send_visits) broadcast_visits();
      }
      break;
    }
    case RTIO_EVENT_TYPE_DISCONNECT:
      if (strcmp(nsp, "/") == 0) {
        forget_recovered(sid);
        visitors--;
        if (send_visits) broadcast_visits();
      }
      break;
    case RTIO_EVENT_TYPE_MESSAGE:
      if (strcmp(nsp, "/") == 0) {
        on_main_message(ev);
      } else if (strcmp(nsp, "/admin") == 0 &&
                 strcmp(rtio_event_name(ev, NULL), "broadcast-main") == 0) {
        attachments att;
        attachments_of(ev, &att);
        CHECK(rtio_broadcast(server, NULL, "announcement", data, len, att.items, att.len, NULL));
      }
      break;
    case RTIO_EVENT_TYPE_ACK_RESPONSE:
      on_ack_response(ev);
      break;
    case RTIO_EVENT_TYPE_REQUEST:
      on_request(ev);
      break;
    case RTIO_EVENT_TYPE_SERVER_SIDE_EMIT:
      on_server_side_emit(ev);
      break;
    case RTIO_EVENT_TYPE_BROADCAST_ACK_RESPONSE:
    case RTIO_EVENT_TYPE_FETCH_SOCKETS_RESPONSE:
    case RTIO_EVENT_TYPE_SERVER_SIDE_ACK_RESPONSE:
    case RTIO_EVENT_TYPE_SERVER_COUNT_RESPONSE:
      on_cluster_answer(ev);
      break;
    default: /* answers to calls this server does not make */
      break;
  }
}

/* ---- main ------------------------------------------------------------------------------- */

static int usage(const char *why) {
  fprintf(stderr, "scenarios-server (c): %s\n", why);
  return 2;
}

int main(int argc, char **argv) {
  rtio_config *config = rtio_config_new();
  CHECK(rtio_config_set_host(config, "127.0.0.1"));
  /* Any origin (echoed), with credentials, so credentialed browser clients work. */
  CHECK(rtio_config_set_cors(config, "*"));
  CHECK(rtio_config_set_cors_credentials(config, true));
  /* Handshakes reach on_request first (0: the default timeout, 10 s). */
  CHECK(rtio_config_set_request_gate(config, true, 0));
  CHECK(rtio_config_add_namespace(config, "/custom", false));
  CHECK(rtio_config_add_namespace(config, "/admin", true));
  unsigned long ping_interval = 25000, ping_timeout = 20000;
  const char *redis_url = NULL, *redis_key = NULL;
  const char *tls_cert = NULL, *tls_key = NULL;
  bool redis_sharded = false;
  bool embedded = false;
  unsigned long port_flag = 0;
  bool port_given = false;
  for (int i = 1; i < argc; i++) {
    const char *flag = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(flag, "--no-visits") == 0) {
      send_visits = false;
      continue;
    }
    if (strcmp(flag, "--redis-sharded") == 0) {
      redis_sharded = true;
      continue;
    }
    if (strcmp(flag, "--per-message-deflate") == 0) {
      CHECK(rtio_config_set_per_message_deflate(config, true, 0));
      continue;
    }
    if (strcmp(flag, "--eio3") == 0) {
      CHECK(rtio_config_set_allow_eio3(config, true));
      continue;
    }
    if (strcmp(flag, "--embedded") == 0) {
#ifndef RTIO_WITH_MICROHTTPD
      return usage("--embedded: built without libmicrohttpd (-DRTIO_WITH_MICROHTTPD)");
#endif
      embedded = true;
      continue;
    }
    if (!value) return usage("a flag is missing its value");
    i++;
    if (strcmp(flag, "--port") == 0) {
      port_flag = strtoul(value, NULL, 10);
      port_given = true;
    } else if (strcmp(flag, "--ping-interval") == 0) {
      ping_interval = strtoul(value, NULL, 10);
    } else if (strcmp(flag, "--ping-timeout") == 0) {
      ping_timeout = strtoul(value, NULL, 10);
    } else if (strcmp(flag, "--max-payload") == 0) {
      CHECK(rtio_config_set_max_payload(config, strtoul(value, NULL, 10)));
    } else if (strcmp(flag, "--connect-timeout") == 0) {
      CHECK(rtio_config_set_connect_timeout(config, (uint32_t)strtoul(value, NULL, 10)));
    } else if (strcmp(flag, "--client-bundle") == 0) {
      CHECK(rtio_config_set_client_bundle(config, value));
#ifdef RTIO_WITH_MICROHTTPD
      glue.client_bundle = value;
#endif
    } else if (strcmp(flag, "--static-dir") == 0) {
      CHECK(rtio_config_set_static_dir(config, value));
#ifdef RTIO_WITH_MICROHTTPD
      read_index(value);
#endif
    } else if (strcmp(flag, "--redis") == 0) {
      redis_url = value;
    } else if (strcmp(flag, "--redis-key") == 0) {
      redis_key = value;
    } else if (strcmp(flag, "--tls-cert") == 0) {
      tls_cert = value;
    } else if (strcmp(flag, "--tls-key") == 0) {
      tls_key = value;
    } else if (strcmp(flag, "--recovery") == 0) {
      CHECK(rtio_config_set_recovery(config, (uint32_t)strtoul(value, NULL, 10), true));
    } else if (strcmp(flag, "--cookie") == 0) {
      CHECK(rtio_config_set_cookie(config, value));
    } else if (strcmp(flag, "--parser") == 0) {
      if (strcmp(value, "msgpack") != 0) return usage("--parser: only msgpack is known");
      CHECK(rtio_config_set_parser(config, RTIO_PARSER_MSGPACK));
    } else {
      return usage("unknown flag");
    }
  }
  CHECK(rtio_config_set_ping(config, (uint32_t)ping_interval, (uint32_t)ping_timeout));
  if ((tls_cert == NULL) != (tls_key == NULL)) return usage("--tls-cert and --tls-key go together");
  if (tls_cert && embedded) return usage("--tls-cert: TLS is rtio's own listener's, not libmicrohttpd's");
  if (tls_cert) CHECK(rtio_config_set_tls(config, tls_cert, tls_key));
  if (redis_url) {
    rtio_status st = rtio_config_set_redis(config, redis_url);
    if (st != RTIO_STATUS_OK) {
      report("--redis", st);
      return 2;
    }
    if (redis_key) CHECK(rtio_config_set_redis_key(config, redis_key));
    if (redis_sharded) CHECK(rtio_config_set_redis_variant(config, RTIO_REDIS_VARIANT_SHARDED));
    CHECK(rtio_config_set_redis_requests_timeout(config, REQUESTS_TIMEOUT_MS));
    CHECK(rtio_config_set_cluster_timeout(config, REQUESTS_TIMEOUT_MS));
  } else if (redis_key || redis_sharded) {
    return usage("--redis-key and --redis-sharded need --redis");
  }
  /* Embedded, libmicrohttpd owns the port: rtio runs no listener of its own. */
  if (embedded) CHECK(rtio_config_set_listen(config, false));
  else if (port_given) CHECK(rtio_config_set_port(config, (uint16_t)port_flag));
  CHECK(rtio_config_set_callback(config, on_event, NULL));

  /* Block the stop signals in every thread; the main thread waits for them below. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  rtio_status st = rtio_server_start(config, &server);
  rtio_config_free(config);
  if (st != RTIO_STATUS_OK) {
    report("rtio_server_start", st);
    return 1;
  }
  uint16_t port = 0;
  CHECK(rtio_server_port(server, &port));
#ifdef RTIO_WITH_MICROHTTPD
  if (embedded) {
    glue.server = server;
    glue.page = embedded_page;
    if (rtio_mhd_start(&glue, (uint16_t)port_flag) != 0) {
      fprintf(stderr, "scenarios-server (c): libmicrohttpd could not listen on port %lu\n", port_flag);
      rtio_server_free(server);
      return 1;
    }
    port = rtio_mhd_port(&glue);
  }
#endif
  printf("READY %u\n", port);
  fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  CHECK(rtio_server_stop(server));
#ifdef RTIO_WITH_MICROHTTPD
  if (embedded) rtio_mhd_stop(&glue);
#endif
  rtio_server_free(server);
  return 0;
}
