/*
 * Tests of the C API: every misuse returns an error code with a message (never a crash),
 * and the poll mode, the event accessors, emits with attachments, acks and the JSON helpers
 * work end to end with a minimal long-polling client over a real socket.
 * Run plain, under AddressSanitizer and under valgrind (see ffi-c/c.mk).
 */
#define _POSIX_C_SOURCE 200809L
#include <rtio.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int failures = 0;

#define EXPECT(cond)                                                               \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: expected %s (last error: %s)\n", __FILE__, __LINE__, \
              #cond, rtio_last_error());                                           \
      failures++;                                                                  \
    }                                                                              \
  } while (0)

#define EXPECT_STATUS(call, status)                                              \
  do {                                                                           \
    rtio_status got_ = (call);                                                   \
    if (got_ != (status)) {                                                      \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s (%s)\n", __FILE__,     \
              __LINE__, #call, rtio_status_name(got_), rtio_status_name(status), \
              rtio_last_error());                                                \
      failures++;                                                                \
    }                                                                            \
  } while (0)

/* ---- a minimal HTTP long-polling client ------------------------------------------------ */

/* One request with Connection: close; returns the malloc'ed body (or NULL). */
static char *http(uint16_t port, const char *method, const char *path, const char *body) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return NULL;
  }
  char head[512];
  int n = snprintf(head, sizeof head,
                   "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                   method, path, body ? strlen(body) : 0);
  if (write(fd, head, (size_t)n) != n) return NULL;
  if (body && write(fd, body, strlen(body)) != (ssize_t)strlen(body)) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0) break;
    if (len + 1024 > cap) buf = realloc(buf, cap *= 2);
    ssize_t r = read(fd, buf + len, cap - len - 1);
    if (r <= 0) break;
    len += (size_t)r;
  }
  close(fd);
  buf[len] = '\0';
  char *start = strstr(buf, "\r\n\r\n");
  char *out = strdup(start ? start + 4 : "");
  free(buf);
  return out;
}

typedef struct {
  uint16_t port;
  char path[128];
} client;

static int client_open(client *c, uint16_t port) {
  c->port = port;
  char *open = http(port, "GET", "/socket.io/?EIO=4&transport=polling", NULL);
  if (!open || strncmp(open, "0{\"sid\":\"", 9) != 0) {
    free(open);
    return -1;
  }
  char sid[32] = {0};
  memcpy(sid, open + 9, 20);
  snprintf(c->path, sizeof c->path, "/socket.io/?EIO=4&transport=polling&sid=%s", sid);
  free(open);
  return 0;
}

static void client_post(client *c, const char *packets) { free(http(c->port, "POST", c->path, packets)); }
static char *client_get(client *c) { return http(c->port, "GET", c->path, NULL); }

/* The next event in poll mode, waiting up to 5 s. */
static rtio_event *next_event(rtio_server *s) {
  rtio_event *ev = NULL;
  EXPECT_STATUS(rtio_server_poll(s, 5000, &ev), RTIO_STATUS_OK);
  EXPECT(ev != NULL);
  return ev;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_null_and_bad_arguments(void) {
  EXPECT_STATUS(rtio_config_set_port(NULL, 1), RTIO_STATUS_NULL_POINTER);
  EXPECT(strstr(rtio_last_error(), "config") != NULL);
  rtio_config *cfg = rtio_config_new();
  EXPECT(cfg != NULL);
  EXPECT_STATUS(rtio_config_set_host(cfg, NULL), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_host(cfg, "\xff\xfe"), RTIO_STATUS_INVALID_UTF8);
  EXPECT(strstr(rtio_last_error(), "UTF-8") != NULL);
  EXPECT_STATUS(rtio_config_set_path(cfg, "no-slash"), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_config_set_ping(cfg, 0, 10), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_config_set_max_payload(cfg, 0), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_config_add_namespace(cfg, "admin", true), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_config_set_cors(cfg, "https://a.example, https://b.example"), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_dynamic_namespaces(cfg, true), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_dynamic_namespaces(NULL, true), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_server_start(cfg, NULL), RTIO_STATUS_NULL_POINTER);
  rtio_config_free(cfg);
  rtio_config_free(NULL);
  rtio_server_free(NULL);
  rtio_event_free(NULL);
  rtio_string_free(NULL);

  EXPECT_STATUS(rtio_emit(NULL, "a", "b", NULL, 0, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT(rtio_event_sid(NULL) == NULL);
  EXPECT(rtio_event_ack_id(NULL) == -1);
  EXPECT(rtio_event_attachment_count(NULL) == 0);
  EXPECT(rtio_server_fd(NULL) == -1);
  EXPECT(strcmp(rtio_status_name(RTIO_STATUS_STOPPED), "RTIO_STATUS_STOPPED") == 0);
  EXPECT(strcmp(rtio_status_name(999), "RTIO_STATUS_UNKNOWN") == 0);
  EXPECT(strlen(rtio_version()) > 0);

  char small[8];
  rtio_config_set_port(NULL, 1);
  size_t full = rtio_last_error_copy(small, sizeof small);
  EXPECT(full == strlen(rtio_last_error()));
  EXPECT(strlen(small) == sizeof small - 1);
}

static void test_bind_errors(void) {
  rtio_server *a = NULL, *b = NULL;
  rtio_config *cfg = rtio_config_new();
  rtio_config_set_host(cfg, "127.0.0.1");
  EXPECT_STATUS(rtio_server_start(cfg, &a), RTIO_STATUS_OK);
  uint16_t port = 0;
  EXPECT_STATUS(rtio_server_port(a, &port), RTIO_STATUS_OK);
  EXPECT(port != 0);
  rtio_config_set_port(cfg, port);
  EXPECT_STATUS(rtio_server_start(cfg, &b), RTIO_STATUS_BIND);
  EXPECT(b == NULL);
  EXPECT(strstr(rtio_last_error(), "in use") != NULL);
  rtio_config_set_host(cfg, "not an address");
  EXPECT_STATUS(rtio_server_start(cfg, &b), RTIO_STATUS_BIND);
  rtio_config_free(cfg);
  rtio_server_free(a);
}

static void test_calls_after_stop(void) {
  rtio_server *s = NULL;
  EXPECT_STATUS(rtio_server_start(NULL, &s), RTIO_STATUS_OK);
  EXPECT(rtio_server_fd(s) >= 0);
  rtio_event *ev = (rtio_event *)1;
  EXPECT_STATUS(rtio_server_poll(s, 0, &ev), RTIO_STATUS_OK);
  EXPECT(ev == NULL);
  EXPECT_STATUS(rtio_emit(s, "nobody", "e", "[]", 2, NULL, 0), RTIO_STATUS_UNKNOWN_SOCKET);
  EXPECT_STATUS(rtio_emit(s, "nobody", "e", "{}", 2, NULL, 0), RTIO_STATUS_INVALID_JSON);
  EXPECT_STATUS(rtio_emit(s, "nobody", "e", "[1", 2, NULL, 0), RTIO_STATUS_INVALID_JSON);
  EXPECT_STATUS(rtio_emit(s, "nobody", "e", "[\xff]", 3, NULL, 0), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_emit(s, "nobody", "e", NULL, 5, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_emit(s, "nobody", "e", "[]", 2, NULL, 1), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_stats(s, "/nowhere", NULL, NULL), RTIO_STATUS_UNKNOWN_NAMESPACE);
  EXPECT_STATUS(rtio_accept(s, 12345), RTIO_STATUS_UNKNOWN_REQUEST);
  EXPECT_STATUS(rtio_reject(s, 1, "no", "{bad"), RTIO_STATUS_INVALID_JSON);
  EXPECT_STATUS(rtio_ack(s, "nobody", -1, NULL, 0, NULL, 0), RTIO_STATUS_INVALID_ARGUMENT);
  uint64_t token = 0;
  EXPECT_STATUS(rtio_emit_with_ack(s, "nobody", "e", NULL, 0, NULL, 0, 0, &token),
                RTIO_STATUS_INVALID_ARGUMENT);

  EXPECT_STATUS(rtio_server_stop(s), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_server_stop(s), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_emit(s, "x", "e", NULL, 0, NULL, 0), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_broadcast(s, NULL, "e", NULL, 0, NULL, 0, NULL), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_join(s, "x", "r"), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_add_namespace(s, "/x", false), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_server_poll(s, 100, &ev), RTIO_STATUS_STOPPED);
  rtio_server_free(s);
}

static void test_json_helpers(void) {
  const char *json = "[{\"nome\":\"ana \\\"a\\\"\",\"n\":42,\"list\":[1,{\"x/y\":true}]}]";
  size_t len = strlen(json);
  const char *out = NULL;
  size_t out_len = 0;
  EXPECT_STATUS(rtio_json_get(json, len, "/0/list/1/x~1y", &out, &out_len), RTIO_STATUS_OK);
  EXPECT(out_len == 4 && strncmp(out, "true", 4) == 0);
  EXPECT_STATUS(rtio_json_get(json, len, "", &out, &out_len), RTIO_STATUS_OK);
  EXPECT(out == json && out_len == len);
  char *s = NULL;
  EXPECT_STATUS(rtio_json_get_string(json, len, "/0/nome", &s), RTIO_STATUS_OK);
  EXPECT(s && strcmp(s, "ana \"a\"") == 0);
  rtio_string_free(s);
  double n = 0;
  EXPECT_STATUS(rtio_json_get_number(json, len, "/0/n", &n), RTIO_STATUS_OK);
  EXPECT(n == 42);
  EXPECT_STATUS(rtio_json_get_number(json, len, "/0/nome", &n), RTIO_STATUS_NOT_FOUND);
  EXPECT_STATUS(rtio_json_get(json, len, "/1", &out, &out_len), RTIO_STATUS_NOT_FOUND);
  EXPECT_STATUS(rtio_json_get(json, len, "0", &out, &out_len), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_json_get("[1,", 3, "/0", &out, &out_len), RTIO_STATUS_INVALID_JSON);
  EXPECT_STATUS(rtio_json_get(NULL, 0, "/0", &out, &out_len), RTIO_STATUS_NULL_POINTER);
}

static void test_poll_mode_end_to_end(void) {
  rtio_config *cfg = rtio_config_new();
  rtio_config_set_host(cfg, "127.0.0.1");
  rtio_config_add_namespace(cfg, "/admin", true);
  rtio_server *s = NULL;
  EXPECT_STATUS(rtio_server_start(cfg, &s), RTIO_STATUS_OK);
  rtio_config_free(cfg);
  uint16_t port = 0;
  rtio_server_port(s, &port);

  client c;
  EXPECT(client_open(&c, port) == 0);
  client_post(&c, "40{\"user\":\"ana\"}");
  /* The fd is readable while events are pending. */
  struct pollfd p = {.fd = rtio_server_fd(s), .events = POLLIN};
  EXPECT(poll(&p, 1, 5000) == 1);
  rtio_event *ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_CONNECT);
  EXPECT(strcmp(rtio_event_namespace(ev), "/") == 0);
  EXPECT(strcmp(rtio_event_data(ev, NULL), "{\"user\":\"ana\"}") == 0);
  char *address = NULL;
  size_t hs_len = 0;
  const char *hs = rtio_event_handshake(ev, &hs_len);
  EXPECT_STATUS(rtio_json_get_string(hs, hs_len, "/address", &address), RTIO_STATUS_OK);
  EXPECT(address && strcmp(address, "127.0.0.1") == 0);
  rtio_string_free(address);
  char sid[64];
  snprintf(sid, sizeof sid, "%s", rtio_event_sid(ev));
  rtio_event_free(ev);
  EXPECT(poll(&p, 1, 0) == 0); /* drained: not readable any more */
  free(client_get(&c));

  /* A binary event with an ack request. */
  client_post(&c, "451-7[\"up\",{\"_placeholder\":true,\"num\":0}]\x1e" "bAQID");
  ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_MESSAGE);
  size_t name_len = 0;
  EXPECT(strcmp(rtio_event_name(ev, &name_len), "up") == 0 && name_len == 2);
  EXPECT(rtio_event_ack_id(ev) == 7);
  EXPECT(rtio_event_attachment_count(ev) == 1);
  size_t att_len = 0;
  const uint8_t *att = rtio_event_attachment(ev, 0, &att_len);
  EXPECT(att_len == 3 && att[0] == 1 && att[2] == 3);
  EXPECT(rtio_event_attachment(ev, 1, &att_len) == NULL);
  size_t data_len = 0;
  const char *data = rtio_event_data(ev, &data_len);
  rtio_buffer back = {att, att_len};
  EXPECT_STATUS(rtio_ack(s, sid, rtio_event_ack_id(ev), data, data_len, &back, 1), RTIO_STATUS_OK);
  rtio_event_free(ev);
  char *got = client_get(&c);
  EXPECT(got && strcmp(got, "461-7[{\"_placeholder\":true,\"num\":0}]\x1e" "bAQID") == 0);
  free(got);

  /* Rooms and broadcast. */
  EXPECT_STATUS(rtio_join(s, sid, "room"), RTIO_STATUS_OK);
  size_t sockets = 0, rooms = 0, delivered = 0;
  EXPECT_STATUS(rtio_stats(s, "/", &sockets, &rooms), RTIO_STATUS_OK);
  EXPECT(sockets == 1 && rooms == 1);
  const char *to[1] = {"room"};
  rtio_broadcast_opts opts = {.rooms = to, .rooms_len = 1};
  EXPECT_STATUS(rtio_broadcast(s, &opts, "news", "[\"hi\"]", 6, NULL, 0, &delivered), RTIO_STATUS_OK);
  EXPECT(delivered == 1);
  opts.except_sid = sid;
  EXPECT_STATUS(rtio_broadcast(s, &opts, "news", "[\"no\"]", 6, NULL, 0, &delivered), RTIO_STATUS_OK);
  EXPECT(delivered == 0);
  got = client_get(&c);
  EXPECT(got && strcmp(got, "42[\"news\",\"hi\"]") == 0);
  free(got);

  /* Server-side ack with a timeout: exactly one answer. */
  uint64_t token = 0;
  EXPECT_STATUS(rtio_emit_with_ack(s, sid, "q", NULL, 0, NULL, 0, 100, &token), RTIO_STATUS_OK);
  ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_ACK_RESPONSE);
  EXPECT(rtio_event_ack_token(ev) == token);
  EXPECT(rtio_event_ack_timed_out(ev));
  rtio_event_free(ev);
  free(client_get(&c));

  /* Middleware: reject with data, then accept. */
  client_post(&c, "40/admin,{\"token\":\"x\"}");
  ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_CONNECT_REQUEST);
  EXPECT_STATUS(rtio_reject(s, rtio_event_request(ev), "unauthorized", "{\"a\":1}"), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_accept(s, rtio_event_request(ev)), RTIO_STATUS_UNKNOWN_REQUEST);
  rtio_event_free(ev);
  got = client_get(&c);
  EXPECT(got && strcmp(got, "44/admin,{\"message\":\"unauthorized\",\"data\":{\"a\":1}}") == 0);
  free(got);

  /* Server-side disconnect, then the reason. */
  EXPECT_STATUS(rtio_disconnect(s, sid, false), RTIO_STATUS_OK);
  ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_DISCONNECT);
  EXPECT(strcmp(rtio_event_reason(ev), "server namespace disconnect") == 0);
  rtio_event_free(ev);
  EXPECT_STATUS(rtio_emit(s, sid, "e", NULL, 0, NULL, 0), RTIO_STATUS_UNKNOWN_SOCKET);
  rtio_server_free(s);
}

/* Callback mode: the callback runs on rtio's dispatcher thread and may stop the server. */
typedef struct {
  int connects;
  int messages;
} counts;

static rtio_server *callback_server;

static void on_event(const rtio_event *ev, void *user) {
  counts *c = user;
  switch (rtio_event_get_type(ev)) {
    case RTIO_EVENT_TYPE_CONNECT:
      c->connects++;
      break;
    case RTIO_EVENT_TYPE_MESSAGE:
      c->messages++;
      /* Stopping from inside a callback is allowed. */
      EXPECT_STATUS(rtio_server_stop(callback_server), RTIO_STATUS_OK);
      break;
    default:
      break;
  }
}

static void test_callback_mode(void) {
  counts c = {0, 0};
  rtio_config *cfg = rtio_config_new();
  rtio_config_set_host(cfg, "127.0.0.1");
  rtio_config_set_callback(cfg, on_event, &c);
  EXPECT_STATUS(rtio_server_start(cfg, &callback_server), RTIO_STATUS_OK);
  rtio_config_free(cfg);
  rtio_event *ev = NULL;
  EXPECT_STATUS(rtio_server_poll(callback_server, 0, &ev), RTIO_STATUS_WRONG_MODE);
  EXPECT(rtio_server_fd(callback_server) == -1);
  uint16_t port = 0;
  rtio_server_port(callback_server, &port);
  client cl;
  EXPECT(client_open(&cl, port) == 0);
  client_post(&cl, "40");
  client_post(&cl, "42[\"stop\"]");
  /* The callback stopped the server: freeing joins the dispatcher. */
  rtio_server_free(callback_server);
  EXPECT(c.connects == 1);
  EXPECT(c.messages == 1);
}

int main(void) {
  test_null_and_bad_arguments();
  test_bind_errors();
  test_calls_after_stop();
  test_json_helpers();
  test_poll_mode_end_to_end();
  test_callback_mode();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("test_api: all checks passed\n");
  return 0;
}
