/*
 * Tests of the C API: every misuse returns an error code with a message (never a crash),
 * and the poll mode, the event accessors, emits with attachments, acks and the JSON helpers
 * work end to end with a minimal long-polling client over a real socket.
 * Run plain, under AddressSanitizer and under valgrind (see ffi-c/c.mk).
 */
#define _POSIX_C_SOURCE 200809L
#include <rtio.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
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

/* ---- raw HTTP requests that stay open: the gate answers while the client waits ---------- */

/* Connects and writes `METHOD path` with the extra header lines `headers` ("" for none, each
 * ending in \r\n); returns the socket, or -1. The answer is read with http_receive. */
static int http_send(uint16_t port, const char *method, const char *path, const char *headers) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  char head[1024];
  int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n%s\r\n", method,
                   path, port, headers);
  if (write(fd, head, (size_t)n) != n) {
    close(fd);
    return -1;
  }
  return fd;
}

/* The value of header `name` in a response's head, copied into `out` ("" when absent). */
static void header_value(const char *response, const char *name, char *out, size_t cap) {
  out[0] = '\0';
  size_t n = strlen(name);
  const char *end = strstr(response, "\r\n\r\n");
  for (const char *line = strstr(response, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
    const char *h = line + 2;
    if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
      const char *v = h + n + 1;
      while (*v == ' ') v++;
      size_t len = strcspn(v, "\r");
      snprintf(out, cap, "%.*s", (int)(len < cap ? len : cap - 1), v);
      return;
    }
  }
}

/* Reads one response (its head, then Content-Length bytes of body; waits up to 5 s) and
 * closes the socket. Returns it malloc'ed ("" on timeout). */
static char *http_receive(int fd) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  buf[0] = '\0';
  for (;;) {
    char *end = strstr(buf, "\r\n\r\n");
    if (end) {
      char length[32];
      header_value(buf, "content-length", length, sizeof length);
      size_t want = (size_t)(end + 4 - buf) + (size_t)strtoul(length, NULL, 10);
      if (len >= want) break;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0) break;
    if (len + 1024 > cap) buf = realloc(buf, cap *= 2);
    ssize_t r = read(fd, buf + len, cap - len - 1);
    if (r <= 0) break;
    len += (size_t)r;
    buf[len] = '\0';
  }
  close(fd);
  return buf;
}

/* The body of a response from http_receive. */
static const char *body_of(const char *response) {
  const char *end = strstr(response, "\r\n\r\n");
  return end ? end + 4 : "";
}

static const char *WS_UPGRADE =
    "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

/* Sends one masked WebSocket text frame (payload < 126 bytes). */
static void ws_send_text(int fd, const char *text) {
  size_t n = strlen(text);
  unsigned char frame[256] = {0x81, (unsigned char)(0x80 | n), 1, 2, 3, 4};
  for (size_t i = 0; i < n; i++) frame[6 + i] = (unsigned char)text[i] ^ frame[2 + i % 4];
  if (write(fd, frame, 6 + n) != (ssize_t)(6 + n)) fprintf(stderr, "ws_send_text: short write\n");
}

/* Reads what arrives within 5 s until `needle` is among it; true when it was. */
static bool read_until(int fd, const char *needle) {
  char buf[4096];
  size_t len = 0;
  while (len < sizeof buf - 1) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0) return false;
    ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
    if (r <= 0) return false;
    len += (size_t)r;
    buf[len] = '\0';
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
      if (memcmp(buf + i, needle, n) == 0) return true;
    }
  }
  return false;
}

/* A string field of an event's handshake / request JSON, into `out` ("" when absent). */
static void request_field(const rtio_event *ev, const char *pointer, char *out, size_t cap) {
  size_t len = 0;
  const char *json = rtio_event_handshake(ev, &len);
  char *value = NULL;
  out[0] = '\0';
  if (rtio_json_get_string(json, len, pointer, &value) == RTIO_STATUS_OK) snprintf(out, cap, "%s", value);
  rtio_string_free(value);
}

/* The next event in poll mode, waiting up to 5 s. */
static rtio_event *next_event(rtio_server *s) {
  rtio_event *ev = NULL;
  EXPECT_STATUS(rtio_server_poll(s, 5000, &ev), RTIO_STATUS_OK);
  EXPECT(ev != NULL);
  return ev;
}


/* ---- embedding: rtio_handle_request / rtio_adopt_websocket ------------------------------ */

/* A connected loopback TCP pair: *client and *server (the accepted end). */
static bool tcp_pair(int *client, int *server) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof addr;
  if (bind(l, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(l, 1) != 0 ||
      getsockname(l, (struct sockaddr *)&addr, &alen) != 0) {
    close(l);
    return false;
  }
  *client = socket(AF_INET, SOCK_STREAM, 0);
  bool ok = connect(*client, (struct sockaddr *)&addr, sizeof addr) == 0;
  *server = ok ? accept(l, NULL, NULL) : -1;
  close(l);
  return ok && *server >= 0;
}

static bool fd_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

static void test_tls_and_cookie_settings(void) {
  rtio_config *cfg = rtio_config_new();
  EXPECT_STATUS(rtio_config_set_tls(NULL, "c", "k"), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_tls(cfg, "cert.pem", NULL), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "together") != NULL);
  EXPECT_STATUS(rtio_config_set_tls(cfg, NULL, NULL), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_cookie(cfg, "bad name;"), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "cookie") != NULL);
  EXPECT_STATUS(rtio_config_set_cookie(cfg, "io"), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_cookie(cfg, NULL), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_recovery(NULL, 1000, true), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_recovery(cfg, 1000, true), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_recovery(cfg, 0, true), RTIO_STATUS_OK); /* off again */
  EXPECT_STATUS(rtio_config_set_parser(NULL, RTIO_PARSER_MSGPACK), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_parser(cfg, 7), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "rtio_parser") != NULL);
  EXPECT_STATUS(rtio_config_set_parser(cfg, RTIO_PARSER_MSGPACK), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_parser(cfg, RTIO_PARSER_DEFAULT), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_per_message_deflate(NULL, true, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_per_message_deflate(cfg, true, 1024), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_allow_eio3(NULL, true), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_allow_eio3(cfg, true), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_cleanup_empty_child_namespaces(NULL, true), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_cleanup_empty_child_namespaces(cfg, true), RTIO_STATUS_OK);
  EXPECT(!rtio_event_recovered(NULL));
  /* A missing certificate file fails the start, naming the file. */
  EXPECT_STATUS(rtio_config_set_tls(cfg, "/nonexistent/cert.pem", "/nonexistent/key.pem"),
                RTIO_STATUS_OK);
  rtio_server *s = NULL;
  EXPECT_STATUS(rtio_server_start(cfg, &s), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "/nonexistent/cert.pem") != NULL);
  EXPECT(s == NULL);
  /* Without TLS there is nothing to reload. */
  EXPECT_STATUS(rtio_config_set_tls(cfg, NULL, NULL), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_server_start(cfg, &s), RTIO_STATUS_OK);
  if (s) {
    EXPECT_STATUS(rtio_reload_tls(s), RTIO_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(rtio_server_stop(s), RTIO_STATUS_OK);
    rtio_server_free(s);
  }
  EXPECT_STATUS(rtio_reload_tls(NULL), RTIO_STATUS_NULL_POINTER);
  rtio_config_free(cfg);
}

static void test_intake(void) {
  rtio_config *cfg = rtio_config_new();
  EXPECT_STATUS(rtio_config_set_listen(NULL, false), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_listen(cfg, false), RTIO_STATUS_OK);
  rtio_server *s = NULL;
  EXPECT_STATUS(rtio_server_start(cfg, &s), RTIO_STATUS_OK);
  rtio_config_free(cfg);
  if (!s) return;
  uint16_t own_port = 1;
  EXPECT_STATUS(rtio_server_port(s, &own_port), RTIO_STATUS_OK);
  EXPECT(own_port == 0); /* no listener of rtio's own: every request comes from the host */
  uint64_t token = 0;
  rtio_http_header headers[] = {{"Host", "example.test"}, {"Accept", "*/*"}};
  rtio_http_request req = {.method = "GET",
                           .url = "/socket.io/?EIO=4&transport=polling",
                           .headers = headers,
                           .headers_len = 2,
                           .remote_addr = "127.0.0.1:40000",
                           .secure = true};

  /* Misuse: every bad argument is an error code with a message. */
  EXPECT_STATUS(rtio_handle_request(NULL, &req, &token), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_handle_request(s, NULL, &token), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_handle_request(s, &req, NULL), RTIO_STATUS_NULL_POINTER);
  rtio_http_request bad = req;
  bad.method = NULL;
  EXPECT_STATUS(rtio_handle_request(s, &bad, &token), RTIO_STATUS_NULL_POINTER);
  EXPECT(strstr(rtio_last_error(), "req.method") != NULL);
  bad = req;
  bad.url = "/socket.io/\xff";
  EXPECT_STATUS(rtio_handle_request(s, &bad, &token), RTIO_STATUS_INVALID_UTF8);
  rtio_http_header bad_headers[] = {{"X-A", "\xfe"}};
  bad = req;
  bad.headers = bad_headers;
  bad.headers_len = 1;
  EXPECT_STATUS(rtio_handle_request(s, &bad, &token), RTIO_STATUS_INVALID_UTF8);
  EXPECT(strstr(rtio_last_error(), "req.headers[0].value") != NULL);
  bad = req;
  bad.headers = NULL;
  EXPECT_STATUS(rtio_handle_request(s, &bad, &token), RTIO_STATUS_NULL_POINTER);
  bad = req;
  bad.body_len = 3;
  EXPECT_STATUS(rtio_handle_request(s, &bad, &token), RTIO_STATUS_NULL_POINTER);
  bad = req;
  bad.remote_addr = "not an address";
  EXPECT_STATUS(rtio_handle_request(s, &bad, &token), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "remote_addr") != NULL);

  /* A polling handshake answered as an event carrying the token. */
  EXPECT_STATUS(rtio_handle_request(s, &req, &token), RTIO_STATUS_OK);
  rtio_event *ev = next_event(s);
  char sid[64] = "";
  if (ev) {
    EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_HTTP_RESPONSE);
    EXPECT(rtio_event_token(ev) == token);
    EXPECT(rtio_event_status(ev) == 200);
    size_t len = 0;
    const uint8_t *body = rtio_event_body(ev, &len);
    EXPECT(len > 10 && memcmp(body, "0{\"sid\":\"", 9) == 0);
    /* The body is not NUL-terminated: copy the id out by length. */
    size_t n = 0;
    while (len > 10 && 9 + n < len && body[9 + n] != '"' && n < sizeof sid - 1) {
      sid[n] = (char)body[9 + n];
      n++;
    }
    sid[n] = '\0';
    EXPECT(n > 0);
    bool content_type = false;
    for (size_t i = 0; i < rtio_event_header_count(ev); i++) {
      if (strcmp(rtio_event_header_name(ev, i), "content-type") == 0) {
        content_type = strstr(rtio_event_header_value(ev, i), "text/plain") != NULL;
      }
    }
    EXPECT(content_type);
    EXPECT(rtio_event_header_name(ev, rtio_event_header_count(ev)) == NULL);
    EXPECT(rtio_event_header_value(ev, 999) == NULL);
    rtio_event_free(ev);
  }
  /* A POST with a body (the namespace connect) on that session: answered "ok", and the
   * socket's handshake carries the remote address the host gave and that it came over TLS. */
  char url[128];
  snprintf(url, sizeof url, "/socket.io/?EIO=4&transport=polling&sid=%s", sid);
  rtio_http_request post = req;
  post.method = "POST";
  post.url = url;
  post.body = (const uint8_t *)"40";
  post.body_len = 2;
  uint64_t post_token = 0;
  EXPECT_STATUS(rtio_handle_request(s, &post, &post_token), RTIO_STATUS_OK);
  bool answered = false, connected = false;
  for (int i = 0; i < 2; i++) {
    rtio_event *e = next_event(s);
    if (!e) break;
    if (rtio_event_get_type(e) == RTIO_EVENT_TYPE_HTTP_RESPONSE) {
      size_t len = 0;
      const uint8_t *body = rtio_event_body(e, &len);
      answered = rtio_event_token(e) == post_token && rtio_event_status(e) == 200 && len == 2 &&
                 memcmp(body, "ok", 2) == 0;
    } else if (rtio_event_get_type(e) == RTIO_EVENT_TYPE_CONNECT) {
      char address[64];
      request_field(e, "/address", address, sizeof address);
      size_t hl = 0;
      const char *h = rtio_event_handshake(e, &hl);
      double port = 0;
      rtio_json_get_number(h, hl, "/port", &port);
      connected = strcmp(address, "127.0.0.1") == 0 && port == 40000 &&
                  strstr(h, "\"secure\":true") != NULL;
    }
    rtio_event_free(e);
  }
  EXPECT(answered);
  EXPECT(connected);
  EXPECT(rtio_event_status(NULL) == 0);
  EXPECT(rtio_event_header_count(NULL) == 0);
  size_t none = 99;
  EXPECT(rtio_event_body(NULL, &none) == NULL && none == 0);

  /* A WebSocket handshake is not for handle_request: 400. */
  rtio_http_header ws_headers[] = {{"Connection", "Upgrade"},
                                   {"Upgrade", "websocket"},
                                   {"Sec-WebSocket-Version", "13"},
                                   {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  rtio_http_request ws = {.method = "GET",
                          .url = "/socket.io/?EIO=4&transport=websocket",
                          .headers = ws_headers,
                          .headers_len = 4,
                          .remote_addr = "[::1]:40001"};
  EXPECT_STATUS(rtio_handle_request(s, &ws, &token), RTIO_STATUS_OK);
  ev = next_event(s);
  if (ev) {
    EXPECT(rtio_event_token(ev) == token && rtio_event_status(ev) == 400);
    rtio_event_free(ev);
  }

  /* adopt_websocket misuse: the caller keeps its descriptor on every error. */
  int pipes[2];
  EXPECT(pipe(pipes) == 0);
  EXPECT_STATUS(rtio_adopt_websocket(NULL, pipes[0], &ws, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_adopt_websocket(s, -1, &ws, NULL, 0), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_adopt_websocket(s, pipes[0], &ws, NULL, 0), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "not a socket") != NULL);
  EXPECT(fd_open(pipes[0]));
  close(pipes[0]);
  close(pipes[1]);
  int client = -1, conn = -1;
  EXPECT(tcp_pair(&client, &conn));
  EXPECT_STATUS(rtio_adopt_websocket(s, conn, NULL, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_adopt_websocket(s, conn, &ws, NULL, 5), RTIO_STATUS_NULL_POINTER);
  bad = ws;
  bad.method = "G E T";
  EXPECT_STATUS(rtio_adopt_websocket(s, conn, &bad, NULL, 0), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(fd_open(conn));

  /* Adopted: rtio answers 101 on the connection and serves the Engine.IO open packet. */
  EXPECT_STATUS(rtio_adopt_websocket(s, conn, &ws, NULL, 0), RTIO_STATUS_OK);
  /* One read_until: the open packet often arrives in the same read as the 101. */
  EXPECT(read_until(client, "0{\"sid\":\""));
  close(client);

  /* After stop: STOPPED, and the descriptor stays the caller's. */
  EXPECT_STATUS(rtio_server_stop(s), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_handle_request(s, &req, &token), RTIO_STATUS_STOPPED);
  EXPECT(tcp_pair(&client, &conn));
  EXPECT_STATUS(rtio_adopt_websocket(s, conn, &ws, NULL, 0), RTIO_STATUS_STOPPED);
  EXPECT(fd_open(conn));
  close(conn);
  close(client);
  rtio_server_free(s);
}

/* ---- embedding: a WebSocket the host frames (rtio_open_websocket) ------------------------ */

/* The next event, answering (and skipping) any Engine.IO ping on WebSocket `id`. */
static rtio_event *ws_next(rtio_server *s, uint64_t id) {
  for (;;) {
    rtio_event *ev = next_event(s);
    if (!ev) return NULL;
    size_t len = 0;
    const uint8_t *body = rtio_event_body(ev, &len);
    if (rtio_event_get_type(ev) == RTIO_EVENT_TYPE_WEB_SOCKET_SEND && rtio_event_token(ev) == id &&
        len == 1 && body[0] == '2') {
      EXPECT_STATUS(rtio_websocket_receive(s, id, 0, (const uint8_t *)"3", 1), RTIO_STATUS_OK);
      rtio_event_free(ev);
      continue;
    }
    return ev;
  }
}

/* Whether `ev` is a text WEB_SOCKET_SEND on `id` whose message starts with `prefix`. */
static bool ws_text(const rtio_event *ev, uint64_t id, const char *prefix) {
  size_t len = 0;
  const uint8_t *body = rtio_event_body(ev, &len);
  return rtio_event_get_type(ev) == RTIO_EVENT_TYPE_WEB_SOCKET_SEND && rtio_event_token(ev) == id &&
         !rtio_event_is_binary(ev) && rtio_event_count(ev) == 1 && len >= strlen(prefix) &&
         memcmp(body, prefix, strlen(prefix)) == 0;
}

/* Opens WebSocket `*id` and connects "/" on it; the socket id into `sid` ("" on failure). */
static void ws_connect(rtio_server *s, const rtio_http_request *req, uint64_t *id, char *sid,
                       size_t cap) {
  sid[0] = '\0';
  EXPECT_STATUS(rtio_open_websocket(s, req, id), RTIO_STATUS_OK);
  /* A message given before the answer waits for it. */
  EXPECT_STATUS(rtio_websocket_receive(s, *id, 0, (const uint8_t *)"40", 2), RTIO_STATUS_OK);
  rtio_event *ev = ws_next(s, *id);
  if (!ev) return;
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_WEB_SOCKET_ANSWER);
  EXPECT(rtio_event_token(ev) == *id);
  EXPECT(rtio_event_status(ev) == 101);
  EXPECT(!rtio_event_is_binary(ev));
  rtio_event_free(ev);
  bool open = false, connect_answer = false, connected = false;
  char answered_sid[64] = "";
  for (int i = 0; i < 3 && !(open && connect_answer && connected); i++) {
    ev = ws_next(s, *id);
    if (!ev) break;
    size_t len = 0;
    const uint8_t *body = rtio_event_body(ev, &len);
    if (ws_text(ev, *id, "0{\"sid\":\"")) {
      open = !connect_answer; /* the open packet comes first */
    } else if (ws_text(ev, *id, "40{\"sid\":\"")) {
      connect_answer = open;
      size_t n = 0;
      while (10 + n < len && body[10 + n] != '"' && n < sizeof answered_sid - 1) {
        answered_sid[n] = (char)body[10 + n];
        n++;
      }
      answered_sid[n] = '\0';
    } else if (rtio_event_get_type(ev) == RTIO_EVENT_TYPE_CONNECT) {
      connected = true;
      snprintf(sid, cap, "%s", rtio_event_sid(ev));
    } else {
      fprintf(stderr, "unexpected event of type %d\n", (int)rtio_event_get_type(ev));
    }
    rtio_event_free(ev);
  }
  EXPECT(open);
  EXPECT(connect_answer);
  EXPECT(connected);
  EXPECT(sid[0] != '\0' && strcmp(sid, answered_sid) == 0);
}

static void test_open_websocket(void) {
  rtio_config *cfg = rtio_config_new();
  EXPECT_STATUS(rtio_config_set_port(cfg, 0), RTIO_STATUS_OK);
  rtio_server *s = NULL;
  EXPECT_STATUS(rtio_server_start(cfg, &s), RTIO_STATUS_OK);
  rtio_config_free(cfg);
  if (!s) return;
  /* The host's server consumed the WebSocket headers: rtio does not need them. */
  rtio_http_header headers[] = {{"Host", "example.test"}};
  rtio_http_request req = {.method = "GET",
                           .url = "/socket.io/?EIO=4&transport=websocket",
                           .headers = headers,
                           .headers_len = 1,
                           .remote_addr = "127.0.0.1:40002"};
  uint64_t id = 0;

  /* Misuse: every bad argument is an error code with a message. */
  EXPECT_STATUS(rtio_open_websocket(NULL, &req, &id), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_open_websocket(s, NULL, &id), RTIO_STATUS_NULL_POINTER);
  EXPECT(strstr(rtio_last_error(), "handshake") != NULL);
  EXPECT_STATUS(rtio_open_websocket(s, &req, NULL), RTIO_STATUS_NULL_POINTER);
  rtio_http_request bad = req;
  bad.url = "/socket.io/\xff";
  EXPECT_STATUS(rtio_open_websocket(s, &bad, &id), RTIO_STATUS_INVALID_UTF8);
  bad = req;
  bad.method = "G E T";
  EXPECT_STATUS(rtio_open_websocket(s, &bad, &id), RTIO_STATUS_INVALID_ARGUMENT);
  bad = req;
  bad.remote_addr = "nowhere";
  EXPECT_STATUS(rtio_open_websocket(s, &bad, &id), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_websocket_receive(NULL, 1, 0, (const uint8_t *)"40", 2),
                RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_websocket_receive(s, 987654321, 0, (const uint8_t *)"40", 2),
                RTIO_STATUS_UNKNOWN_REQUEST);
  EXPECT(strstr(rtio_last_error(), "no open WebSocket 987654321") != NULL);
  EXPECT_STATUS(rtio_websocket_close(NULL, 1), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_websocket_close(s, 987654321), RTIO_STATUS_UNKNOWN_REQUEST);

  /* End to end: the 101, the open packet, the namespace connect and its answer. */
  char sid[64];
  ws_connect(s, &req, &id, sid, sizeof sid);

  /* Misuse on an open WebSocket: refused, and the WebSocket stays usable. */
  EXPECT_STATUS(rtio_websocket_receive(s, id, 0, (const uint8_t *)"4\xff", 2),
                RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "UTF-8") != NULL);
  EXPECT_STATUS(rtio_websocket_receive(s, id, 0, NULL, 3), RTIO_STATUS_NULL_POINTER);

  /* An emit with an attachment: a text message, then a binary one. */
  uint8_t blob[3] = {1, 2, 3};
  rtio_buffer att = {blob, 3};
  const char *args = "[{\"_placeholder\":true,\"num\":0}]";
  EXPECT_STATUS(rtio_emit(s, sid, "hi", args, strlen(args), &att, 1), RTIO_STATUS_OK);
  rtio_event *ev = ws_next(s, id);
  if (ev) {
    const char *want = "451-[\"hi\",{\"_placeholder\":true,\"num\":0}]";
    size_t len = 0;
    rtio_event_body(ev, &len);
    EXPECT(ws_text(ev, id, want) && len == strlen(want));
    rtio_event_free(ev);
  }
  ev = ws_next(s, id);
  if (ev) {
    size_t len = 0;
    const uint8_t *body = rtio_event_body(ev, &len);
    EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_WEB_SOCKET_SEND);
    EXPECT(rtio_event_token(ev) == id);
    EXPECT(rtio_event_is_binary(ev) && rtio_event_count(ev) == 2);
    EXPECT(len == 3 && memcmp(body, blob, 3) == 0);
    rtio_event_free(ev);
  }

  /* The client's binary event: a text message, then a binary one. */
  const char *up = "451-[\"up\",{\"_placeholder\":true,\"num\":0}]";
  EXPECT_STATUS(rtio_websocket_receive(s, id, 0, (const uint8_t *)up, strlen(up)), RTIO_STATUS_OK);
  uint8_t mine[3] = {4, 5, 6};
  EXPECT_STATUS(rtio_websocket_receive(s, id, 1, mine, 3), RTIO_STATUS_OK);
  ev = ws_next(s, id);
  if (ev) {
    size_t name_len = 0, att_len = 0;
    EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_MESSAGE);
    EXPECT(strcmp(rtio_event_sid(ev), sid) == 0);
    EXPECT(strcmp(rtio_event_name(ev, &name_len), "up") == 0);
    const uint8_t *got = rtio_event_attachment(ev, 0, &att_len);
    EXPECT(rtio_event_attachment_count(ev) == 1 && att_len == 3 && memcmp(got, mine, 3) == 0);
    rtio_event_free(ev);
  }

  /* The host closes it: the socket disconnects, and the id is gone at once. */
  EXPECT_STATUS(rtio_websocket_close(s, id), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_websocket_receive(s, id, 0, (const uint8_t *)"2", 1),
                RTIO_STATUS_UNKNOWN_REQUEST);
  EXPECT_STATUS(rtio_websocket_close(s, id), RTIO_STATUS_UNKNOWN_REQUEST);
  ev = next_event(s);
  if (ev) {
    EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_DISCONNECT);
    EXPECT(strcmp(rtio_event_sid(ev), sid) == 0);
    rtio_event_free(ev);
  }

  /* rtio ends one (the client's Engine.IO close packet): WEB_SOCKET_CLOSE, then the id is
   * unknown. */
  uint64_t id2 = 0;
  ws_connect(s, &req, &id2, sid, sizeof sid);
  EXPECT(id2 != id);
  EXPECT_STATUS(rtio_websocket_receive(s, id2, 0, (const uint8_t *)"1", 1), RTIO_STATUS_OK);
  bool closed = false, disconnected = false;
  for (int i = 0; i < 4 && !(closed && disconnected); i++) {
    ev = ws_next(s, id2);
    if (!ev) break;
    if (rtio_event_get_type(ev) == RTIO_EVENT_TYPE_WEB_SOCKET_CLOSE) {
      closed = rtio_event_token(ev) == id2;
    } else if (rtio_event_get_type(ev) == RTIO_EVENT_TYPE_DISCONNECT) {
      disconnected = strcmp(rtio_event_sid(ev), sid) == 0;
    }
    rtio_event_free(ev);
  }
  EXPECT(closed);
  EXPECT(disconnected);
  EXPECT_STATUS(rtio_websocket_receive(s, id2, 0, (const uint8_t *)"2", 1),
                RTIO_STATUS_UNKNOWN_REQUEST);
  EXPECT_STATUS(rtio_websocket_close(s, id2), RTIO_STATUS_UNKNOWN_REQUEST);

  /* A refused handshake (unknown session): its status and body, nothing after. */
  rtio_http_request unknown = req;
  unknown.url = "/socket.io/?EIO=4&transport=websocket&sid=nobody";
  uint64_t id3 = 0;
  EXPECT_STATUS(rtio_open_websocket(s, &unknown, &id3), RTIO_STATUS_OK);
  ev = next_event(s);
  if (ev) {
    size_t len = 0;
    rtio_event_body(ev, &len);
    EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_WEB_SOCKET_ANSWER);
    EXPECT(rtio_event_token(ev) == id3);
    EXPECT(rtio_event_status(ev) == 400);
    EXPECT(len > 0);
    rtio_event_free(ev);
  }

  /* After stop: STOPPED. */
  EXPECT_STATUS(rtio_server_stop(s), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_open_websocket(s, &req, &id), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_websocket_receive(s, id2, 0, (const uint8_t *)"40", 2), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_websocket_close(s, id2), RTIO_STATUS_STOPPED);
  rtio_server_free(s);
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
  /* Volatile: a polling client with no GET waiting cannot take it now, so it is dropped. */
  opts.except_sid = NULL;
  opts.is_volatile = true;
  EXPECT_STATUS(rtio_broadcast(s, &opts, "news", "[\"lost\"]", 8, NULL, 0, &delivered), RTIO_STATUS_OK);
  EXPECT(delivered == 0);
  opts.is_volatile = false;
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

/* ---- the request gate ------------------------------------------------------------------- */

static rtio_server *start_server(rtio_config *cfg) {
  rtio_config_set_host(cfg, "127.0.0.1");
  rtio_server *s = NULL;
  EXPECT_STATUS(rtio_server_start(cfg, &s), RTIO_STATUS_OK);
  rtio_config_free(cfg);
  return s;
}

static uint16_t port_of(rtio_server *s) {
  uint16_t port = 0;
  EXPECT_STATUS(rtio_server_port(s, &port), RTIO_STATUS_OK);
  return port;
}

/* The next event of poll mode, which must be a gated request. */
static rtio_event *next_request(rtio_server *s) {
  rtio_event *ev = next_event(s);
  EXPECT(ev && rtio_event_get_type(ev) == RTIO_EVENT_TYPE_REQUEST);
  return ev;
}

static void test_request_gate_poll_mode(void) {
  rtio_config *cfg = rtio_config_new();
  EXPECT_STATUS(rtio_config_set_request_gate(cfg, true, 0), RTIO_STATUS_OK);
  rtio_server *s = start_server(cfg);
  uint16_t port = port_of(s);
  char field[256];

  /* Refused: the client waits for the answer, then gets 403 and the message. */
  int fd = http_send(port, "GET", "/socket.io/?EIO=4&transport=polling&deny=1",
                     "Origin: http://app.example\r\n");
  rtio_event *ev = next_request(s);
  EXPECT(strcmp(rtio_event_sid(ev), "") == 0 && strcmp(rtio_event_namespace(ev), "") == 0);
  uint64_t request = rtio_event_request(ev);
  EXPECT(request != 0);
  request_field(ev, "/method", field, sizeof field);
  EXPECT(strcmp(field, "GET") == 0);
  request_field(ev, "/url", field, sizeof field);
  EXPECT(strcmp(field, "/socket.io/?EIO=4&transport=polling&deny=1") == 0);
  request_field(ev, "/query", field, sizeof field);
  EXPECT(strcmp(field, "EIO=4&transport=polling&deny=1") == 0);
  request_field(ev, "/headers/origin", field, sizeof field);
  EXPECT(strcmp(field, "http://app.example") == 0);
  request_field(ev, "/address", field, sizeof field);
  EXPECT(strcmp(field, "127.0.0.1") == 0);
  request_field(ev, "/transport", field, sizeof field);
  EXPECT(strcmp(field, "polling") == 0);
  /* A status that is no HTTP error is refused, and the request is still pending. */
  EXPECT_STATUS(rtio_request_deny(s, request, 200, "no"), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "200") != NULL);
  EXPECT_STATUS(rtio_request_deny(s, request, 403, NULL), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_request_deny(NULL, request, 403, "no"), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_request_deny(s, request, 403, "denied by the request gate"), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_request_allow(s, request), RTIO_STATUS_UNKNOWN_REQUEST);
  EXPECT(strstr(rtio_last_error(), "request") != NULL);
  rtio_event_free(ev);
  char *response = http_receive(fd);
  EXPECT(strncmp(response, "HTTP/1.1 403", 12) == 0);
  EXPECT(strcmp(body_of(response), "{\"code\":4,\"message\":\"denied by the request gate\"}") == 0);
  free(response);

  /* Allowed: the handshake goes on. */
  fd = http_send(port, "GET", "/socket.io/?EIO=4&transport=polling", "");
  ev = next_request(s);
  EXPECT_STATUS(rtio_request_allow(s, rtio_event_request(ev)), RTIO_STATUS_OK);
  rtio_event_free(ev);
  response = http_receive(fd);
  EXPECT(strncmp(response, "HTTP/1.1 200", 12) == 0);
  EXPECT(strncmp(body_of(response), "0{\"sid\":\"", 9) == 0);
  free(response);

  /* A WebSocket upgrade asks too, and a refusal answers it without switching protocols. */
  fd = http_send(port, "GET", "/socket.io/?EIO=4&transport=websocket", WS_UPGRADE);
  ev = next_request(s);
  request_field(ev, "/transport", field, sizeof field);
  EXPECT(strcmp(field, "websocket") == 0);
  EXPECT_STATUS(rtio_request_deny(s, rtio_event_request(ev), 401, "no websocket for you"), RTIO_STATUS_OK);
  rtio_event_free(ev);
  response = http_receive(fd);
  EXPECT(strncmp(response, "HTTP/1.1 401", 12) == 0);
  EXPECT(strstr(body_of(response), "no websocket for you") != NULL);
  free(response);

  /* An allowed WebSocket opens a session. */
  fd = http_send(port, "GET", "/socket.io/?EIO=4&transport=websocket", WS_UPGRADE);
  ev = next_request(s);
  EXPECT_STATUS(rtio_request_allow(s, rtio_event_request(ev)), RTIO_STATUS_OK);
  rtio_event_free(ev);
  EXPECT(read_until(fd, "0{\"sid\":"));
  close(fd);

  EXPECT_STATUS(rtio_request_allow(s, 987654321), RTIO_STATUS_UNKNOWN_REQUEST);
  EXPECT_STATUS(rtio_request_allow_origin(s, 987654321), RTIO_STATUS_UNKNOWN_REQUEST);
  EXPECT_STATUS(rtio_request_allow(NULL, 1), RTIO_STATUS_NULL_POINTER);
  /* A request still pending at stop: answering it afterwards is an error, not a crash. */
  fd = http_send(port, "GET", "/socket.io/?EIO=4&transport=polling", "");
  ev = next_request(s);
  EXPECT_STATUS(rtio_server_stop(s), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_request_allow(s, rtio_event_request(ev)), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_request_deny(s, rtio_event_request(ev), 403, "late"), RTIO_STATUS_STOPPED);
  rtio_event_free(ev);
  close(fd);
  rtio_server_free(s);
}

/* Callback mode: the dispatcher answers the gate while the test's thread waits on HTTP. */
typedef struct {
  rtio_server *server;
  int requests;
  int connects;
} gate_state;

static void on_gated_event(const rtio_event *ev, void *user) {
  gate_state *g = user;
  switch (rtio_event_get_type(ev)) {
    case RTIO_EVENT_TYPE_REQUEST: {
      g->requests++;
      char query[256];
      request_field(ev, "/query", query, sizeof query);
      if (strstr(query, "deny=1")) {
        EXPECT_STATUS(rtio_request_deny(g->server, rtio_event_request(ev), 403, "denied by the request gate"),
                      RTIO_STATUS_OK);
      } else {
        EXPECT_STATUS(rtio_request_allow(g->server, rtio_event_request(ev)), RTIO_STATUS_OK);
      }
      break;
    }
    case RTIO_EVENT_TYPE_CONNECT:
      g->connects++;
      break;
    default:
      break;
  }
}

static void test_request_gate_callback_mode(void) {
  gate_state g = {NULL, 0, 0};
  rtio_config *cfg = rtio_config_new();
  rtio_config_set_host(cfg, "127.0.0.1");
  EXPECT_STATUS(rtio_config_set_request_gate(cfg, true, 5000), RTIO_STATUS_OK);
  rtio_config_set_callback(cfg, on_gated_event, &g);
  /* The callback reads g.server: set it before any request can arrive. */
  EXPECT_STATUS(rtio_server_start(cfg, &g.server), RTIO_STATUS_OK);
  rtio_config_free(cfg);
  uint16_t port = port_of(g.server);

  char *response = http_receive(http_send(port, "GET", "/socket.io/?EIO=4&transport=polling&deny=1", ""));
  EXPECT(strncmp(response, "HTTP/1.1 403", 12) == 0);
  EXPECT(strstr(body_of(response), "denied by the request gate") != NULL);
  free(response);

  response = http_receive(http_send(port, "GET", "/socket.io/?EIO=4&transport=websocket&deny=1", WS_UPGRADE));
  EXPECT(strncmp(response, "HTTP/1.1 403", 12) == 0);
  EXPECT(strstr(body_of(response), "denied by the request gate") != NULL);
  free(response);

  client c;
  EXPECT(client_open(&c, port) == 0);
  client_post(&c, "40");
  free(client_get(&c));
  rtio_server_free(g.server);
  EXPECT(g.requests == 3);
  EXPECT(g.connects == 1);
}

static void test_request_gate_timeout(void) {
  rtio_config *cfg = rtio_config_new();
  EXPECT_STATUS(rtio_config_set_request_gate(cfg, true, 200), RTIO_STATUS_OK);
  rtio_server *s = start_server(cfg);
  int fd = http_send(port_of(s), "GET", "/socket.io/?EIO=4&transport=polling", "");
  rtio_event *ev = next_request(s);
  /* Not answered: refused with 403 once the timeout passed; a late answer is an error. */
  char *response = http_receive(fd);
  EXPECT(strncmp(response, "HTTP/1.1 403", 12) == 0);
  free(response);
  EXPECT_STATUS(rtio_request_allow(s, rtio_event_request(ev)), RTIO_STATUS_UNKNOWN_REQUEST);
  rtio_event_free(ev);
  rtio_server_free(s);
}

/* ---- CORS ------------------------------------------------------------------------------- */

/* The response to a polling handshake sent with `Origin: http://app.example`. */
static char *handshake_from_app(uint16_t port) {
  return http_receive(http_send(port, "GET", "/socket.io/?EIO=4&transport=polling",
                                "Origin: http://app.example\r\n"));
}

static void test_cors_options(void) {
  char value[128];
  /* The default: no cross-origin access, served without CORS headers. */
  rtio_server *s = start_server(rtio_config_new());
  char *response = handshake_from_app(port_of(s));
  EXPECT(strncmp(response, "HTTP/1.1 200", 12) == 0);
  header_value(response, "access-control-allow-origin", value, sizeof value);
  EXPECT(strcmp(value, "") == 0);
  free(response);
  rtio_server_free(s);

  /* Any origin, with credentials. */
  rtio_config *cfg = rtio_config_new();
  EXPECT_STATUS(rtio_config_set_cors(cfg, "*"), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_cors_credentials(cfg, true), RTIO_STATUS_OK);
  s = start_server(cfg);
  response = handshake_from_app(port_of(s));
  header_value(response, "access-control-allow-origin", value, sizeof value);
  EXPECT(strcmp(value, "http://app.example") == 0);
  header_value(response, "access-control-allow-credentials", value, sizeof value);
  EXPECT(strcmp(value, "true") == 0);
  free(response);
  rtio_server_free(s);

  /* A list without credentials; other origins refused with reject_other_origins. */
  cfg = rtio_config_new();
  EXPECT_STATUS(rtio_config_set_cors(cfg, "https://other.example, http://app.example"), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_reject_other_origins(cfg, true), RTIO_STATUS_OK);
  s = start_server(cfg);
  uint16_t port = port_of(s);
  response = handshake_from_app(port);
  header_value(response, "access-control-allow-origin", value, sizeof value);
  EXPECT(strcmp(value, "http://app.example") == 0);
  header_value(response, "access-control-allow-credentials", value, sizeof value);
  EXPECT(strcmp(value, "") == 0);
  free(response);
  response = http_receive(http_send(port, "GET", "/socket.io/?EIO=4&transport=websocket",
                                    "Origin: http://evil.example\r\nConnection: Upgrade\r\n"
                                    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
  EXPECT(strncmp(response, "HTTP/1.1 400", 12) == 0);
  EXPECT(strstr(body_of(response), "Not an accepted origin.") != NULL);
  free(response);
  rtio_server_free(s);

  /* The gate decides: allow_origin grants cross-origin access, allow does not. */
  cfg = rtio_config_new();
  EXPECT_STATUS(rtio_config_set_cors_gate(cfg), RTIO_STATUS_OK);
  s = start_server(cfg);
  port = port_of(s);
  for (int grant = 0; grant < 2; grant++) {
    int fd = http_send(port, "GET", "/socket.io/?EIO=4&transport=polling", "Origin: http://app.example\r\n");
    rtio_event *ev = next_request(s);
    EXPECT_STATUS(grant ? rtio_request_allow_origin(s, rtio_event_request(ev))
                        : rtio_request_allow(s, rtio_event_request(ev)),
                  RTIO_STATUS_OK);
    rtio_event_free(ev);
    response = http_receive(fd);
    EXPECT(strncmp(response, "HTTP/1.1 200", 12) == 0);
    header_value(response, "access-control-allow-origin", value, sizeof value);
    EXPECT(strcmp(value, grant ? "http://app.example" : "") == 0);
    free(response);
  }
  rtio_server_free(s);

  cfg = rtio_config_new();
  EXPECT_STATUS(rtio_config_set_cors(cfg, "https://a.example,,https://b.example"), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "cors") != NULL);
  EXPECT_STATUS(rtio_config_set_cors_credentials(NULL, true), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_reject_other_origins(NULL, true), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_cors_gate(NULL), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_request_gate(NULL, true, 0), RTIO_STATUS_NULL_POINTER);
  rtio_config_free(cfg);
}

/* ---- rooms, members, transports, client count ------------------------------------------ */

static void test_rooms_and_connections(void) {
  rtio_server *s = start_server(rtio_config_new());
  uint16_t port = port_of(s);

  /* One socket over polling, one over WebSocket. */
  client c;
  EXPECT(client_open(&c, port) == 0);
  client_post(&c, "40");
  rtio_event *ev = next_event(s);
  char polling_sid[64];
  snprintf(polling_sid, sizeof polling_sid, "%s", rtio_event_sid(ev));
  rtio_event_free(ev);
  int ws = http_send(port, "GET", "/socket.io/?EIO=4&transport=websocket", WS_UPGRADE);
  EXPECT(read_until(ws, "0{\"sid\":"));
  ws_send_text(ws, "40");
  ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_CONNECT);
  char ws_sid[64];
  snprintf(ws_sid, sizeof ws_sid, "%s", rtio_event_sid(ev));
  rtio_event_free(ev);

  size_t clients = 0;
  EXPECT_STATUS(rtio_client_count(s, &clients), RTIO_STATUS_OK);
  EXPECT(clients == 2);
  rtio_transport transport = RTIO_TRANSPORT_WEBSOCKET;
  EXPECT_STATUS(rtio_socket_transport(s, polling_sid, &transport), RTIO_STATUS_OK);
  EXPECT(transport == RTIO_TRANSPORT_POLLING);
  EXPECT_STATUS(rtio_socket_transport(s, ws_sid, &transport), RTIO_STATUS_OK);
  EXPECT(transport == RTIO_TRANSPORT_WEBSOCKET);
  EXPECT(strcmp(rtio_transport_name(RTIO_TRANSPORT_POLLING), "polling") == 0);
  EXPECT(strcmp(rtio_transport_name(RTIO_TRANSPORT_WEBSOCKET), "websocket") == 0);
  EXPECT(strcmp(rtio_transport_name(7), "unknown") == 0);
  EXPECT_STATUS(rtio_socket_transport(s, "nobody", &transport), RTIO_STATUS_UNKNOWN_SOCKET);
  EXPECT_STATUS(rtio_socket_transport(s, ws_sid, NULL), RTIO_STATUS_NULL_POINTER);

  /* A socket's rooms, its own room first; a room's members; closing a room. */
  EXPECT_STATUS(rtio_join(s, polling_sid, "lobby"), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_join(s, ws_sid, "lobby"), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_join(s, ws_sid, "quiet"), RTIO_STATUS_OK);
  char expected[256];
  char *json = NULL;
  EXPECT_STATUS(rtio_socket_rooms(s, ws_sid, &json), RTIO_STATUS_OK);
  snprintf(expected, sizeof expected, "[\"%s\",\"lobby\",\"quiet\"]", ws_sid);
  EXPECT(json && strncmp(json, expected, strlen(ws_sid) + 4) == 0);
  EXPECT(json && strstr(json, "\"lobby\"") && strstr(json, "\"quiet\"") && strlen(json) == strlen(expected));
  rtio_string_free(json);
  EXPECT_STATUS(rtio_room_sockets(s, "/", "lobby", &json), RTIO_STATUS_OK);
  EXPECT(json && strstr(json, polling_sid) && strstr(json, ws_sid) &&
         strlen(json) == strlen(polling_sid) + strlen(ws_sid) + 7);
  rtio_string_free(json);
  EXPECT_STATUS(rtio_room_sockets(s, "/", NULL, &json), RTIO_STATUS_OK);
  EXPECT(json && strstr(json, polling_sid) && strstr(json, ws_sid));
  rtio_string_free(json);
  EXPECT_STATUS(rtio_room_sockets(s, "/", "nowhere", &json), RTIO_STATUS_OK);
  EXPECT(json && strcmp(json, "[]") == 0);
  rtio_string_free(json);

  EXPECT_STATUS(rtio_close_room(s, "/", "lobby"), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_room_sockets(s, "/", "lobby", &json), RTIO_STATUS_OK);
  EXPECT(json && strcmp(json, "[]") == 0);
  rtio_string_free(json);
  EXPECT_STATUS(rtio_socket_rooms(s, ws_sid, &json), RTIO_STATUS_OK);
  snprintf(expected, sizeof expected, "[\"%s\",\"quiet\"]", ws_sid);
  EXPECT(json && strcmp(json, expected) == 0);
  rtio_string_free(json);

  /* Misuse: an error code, a message, and a NULL result. */
  json = (char *)1;
  EXPECT_STATUS(rtio_socket_rooms(s, "nobody", &json), RTIO_STATUS_UNKNOWN_SOCKET);
  EXPECT(json == NULL);
  EXPECT_STATUS(rtio_socket_rooms(s, NULL, &json), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_socket_rooms(s, ws_sid, NULL), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_room_sockets(s, "/nowhere", NULL, &json), RTIO_STATUS_UNKNOWN_NAMESPACE);
  EXPECT(json == NULL);
  EXPECT_STATUS(rtio_room_sockets(s, NULL, "r", &json), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_close_room(s, "/nowhere", "r"), RTIO_STATUS_UNKNOWN_NAMESPACE);
  EXPECT_STATUS(rtio_close_room(s, "/", NULL), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_client_count(s, NULL), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_client_count(NULL, &clients), RTIO_STATUS_NULL_POINTER);

  /* The WebSocket client leaves: one connection is left. */
  close(ws);
  ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_DISCONNECT);
  EXPECT(strcmp(rtio_event_sid(ev), ws_sid) == 0);
  rtio_event_free(ev);
  EXPECT_STATUS(rtio_client_count(s, &clients), RTIO_STATUS_OK);
  EXPECT(clients == 1);

  EXPECT_STATUS(rtio_server_stop(s), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_socket_rooms(s, polling_sid, &json), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_room_sockets(s, "/", NULL, &json), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_close_room(s, "/", "quiet"), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_socket_transport(s, polling_sid, &transport), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_client_count(s, &clients), RTIO_STATUS_STOPPED);
  rtio_server_free(s);
}


/* ---- the cluster API: configuration, misuse, and a cluster of one ----------------------- */

static void test_cluster_config(void) {
  rtio_config *cfg = rtio_config_new();
  /* The other Redis options need the URL first. */
  EXPECT_STATUS(rtio_config_set_redis_key(cfg, "k"), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "rtio_config_set_redis first") != NULL);
  EXPECT_STATUS(rtio_config_set_redis_variant(cfg, RTIO_REDIS_VARIANT_SHARDED), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_config_set_redis_requests_timeout(cfg, 100), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_config_set_redis_specific_response_channel(cfg, true), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_config_set_redis_subscription_mode(cfg, RTIO_REDIS_SUBSCRIPTION_MODE_STATIC),
                RTIO_STATUS_INVALID_ARGUMENT);
  /* Bad URL, NULL, invalid UTF-8. */
  EXPECT_STATUS(rtio_config_set_redis(cfg, "not a url"), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "redis") != NULL);
  EXPECT_STATUS(rtio_config_set_redis(cfg, "\xff"), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_config_set_redis(NULL, "redis://127.0.0.1:1"), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_redis(cfg, "redis://127.0.0.1:1"), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_redis_key(cfg, NULL), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_redis_key(cfg, "\xfe"), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_config_set_redis_key(cfg, ""), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_config_set_redis_key(cfg, "my-app"), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_redis_variant(cfg, 2), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "variant") != NULL);
  EXPECT_STATUS(rtio_config_set_redis_variant(cfg, -1), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_config_set_redis_variant(cfg, RTIO_REDIS_VARIANT_SHARDED), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_redis_subscription_mode(cfg, 3), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_config_set_redis_subscription_mode(cfg, RTIO_REDIS_SUBSCRIPTION_MODE_DYNAMIC_PRIVATE),
                RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_redis_requests_timeout(cfg, 0), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_config_set_redis_requests_timeout(cfg, 300), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_redis_specific_response_channel(NULL, true), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_config_set_cluster_timeout(cfg, 0), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_config_set_cluster_timeout(cfg, 300), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_cluster_timeout(NULL, 300), RTIO_STATUS_NULL_POINTER);

  /* Redis not reachable (nothing listens on port 1): the server starts anyway and serves;
   * a request that needs the other nodes completes within the requests timeout. */
  rtio_config_set_host(cfg, "127.0.0.1");
  rtio_server *s = NULL;
  EXPECT_STATUS(rtio_server_start(cfg, &s), RTIO_STATUS_OK);
  uint64_t token = 0;
  EXPECT_STATUS(rtio_server_count(s, "/", &token), RTIO_STATUS_OK);
  rtio_event *ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_SERVER_COUNT_RESPONSE);
  EXPECT(rtio_event_token(ev) == token);
  /* Either counted alone or failed with the reason; never left waiting. */
  EXPECT(rtio_event_count(ev) == 1 || rtio_event_error(ev)[0] != '\0');
  rtio_event_free(ev);
  rtio_server_free(s);

  /* NULL turns the cluster off again. */
  EXPECT_STATUS(rtio_config_set_redis(cfg, NULL), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_redis_key(cfg, "k"), RTIO_STATUS_INVALID_ARGUMENT);
  rtio_config_free(cfg);

  /* Accessors of the cluster events on NULL or out of range. */
  EXPECT(rtio_event_token(NULL) == 0);
  EXPECT(rtio_event_error(NULL) == NULL);
  EXPECT(rtio_event_count(NULL) == 0);
  EXPECT(rtio_event_answer_count(NULL) == 0);
  EXPECT(rtio_event_answer(NULL, 0, NULL) == NULL);
  EXPECT(rtio_event_answer_sid(NULL, 0) == NULL);
  EXPECT(rtio_event_answer_attachment_count(NULL, 0) == 0);
  EXPECT(rtio_event_answer_attachment(NULL, 0, 0, NULL) == NULL);
  EXPECT(rtio_event_socket_count(NULL) == 0);
  EXPECT(rtio_event_socket_id(NULL, 0) == NULL);
  EXPECT(rtio_event_socket_namespace(NULL, 0) == NULL);
  EXPECT(rtio_event_socket_rooms(NULL, 0, NULL) == NULL);
  EXPECT(rtio_event_socket_handshake(NULL, 0, NULL) == NULL);
  EXPECT(rtio_event_socket_auth(NULL, 0, NULL) == NULL);
  EXPECT(rtio_event_socket_data(NULL, 0, NULL) == NULL);
  EXPECT(!rtio_event_socket_local(NULL, 0));
}

/* Every new server function: NULL, invalid UTF-8, bad values, unknown namespace, stopped. */
static void test_cluster_misuse(void) {
  rtio_server *s = NULL;
  EXPECT_STATUS(rtio_server_start(NULL, &s), RTIO_STATUS_OK);
  uint64_t token = 0;
  const char *bad_rooms[1] = {"\xff"};
  const char *null_rooms[1] = {NULL};
  rtio_broadcast_opts nowhere = {.nsp = "/nowhere"};
  rtio_broadcast_opts bad_nsp = {.nsp = "\xff"};
  rtio_broadcast_opts bad_room = {.rooms = bad_rooms, .rooms_len = 1};

  EXPECT_STATUS(rtio_fetch_sockets(NULL, NULL, &token), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_fetch_sockets(s, NULL, NULL), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_fetch_sockets(s, &nowhere, &token), RTIO_STATUS_UNKNOWN_NAMESPACE);
  EXPECT_STATUS(rtio_fetch_sockets(s, &bad_nsp, &token), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_fetch_sockets(s, &bad_room, &token), RTIO_STATUS_INVALID_UTF8);
  EXPECT(strstr(rtio_last_error(), "opts.rooms[0]") != NULL);

  EXPECT_STATUS(rtio_sockets_join(NULL, NULL, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_sockets_join(s, NULL, NULL, 1), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_sockets_join(s, NULL, null_rooms, 1), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_sockets_join(s, NULL, bad_rooms, 1), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_sockets_join(s, &nowhere, NULL, 0), RTIO_STATUS_UNKNOWN_NAMESPACE);
  EXPECT_STATUS(rtio_sockets_leave(NULL, NULL, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_sockets_leave(s, NULL, bad_rooms, 1), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_sockets_leave(s, &nowhere, NULL, 0), RTIO_STATUS_UNKNOWN_NAMESPACE);

  EXPECT_STATUS(rtio_disconnect_sockets(NULL, NULL, true), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_disconnect_sockets(s, &nowhere, true), RTIO_STATUS_UNKNOWN_NAMESPACE);
  EXPECT_STATUS(rtio_disconnect_sockets(s, &bad_room, true), RTIO_STATUS_INVALID_UTF8);

  EXPECT_STATUS(rtio_broadcast_with_ack(NULL, NULL, "e", NULL, 0, NULL, 0, 100, &token),
                RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_broadcast_with_ack(s, NULL, NULL, NULL, 0, NULL, 0, 100, &token),
                RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_broadcast_with_ack(s, NULL, "\xff", NULL, 0, NULL, 0, 100, &token),
                RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_broadcast_with_ack(s, NULL, "e", "{}", 2, NULL, 0, 100, &token),
                RTIO_STATUS_INVALID_JSON);
  EXPECT_STATUS(rtio_broadcast_with_ack(s, NULL, "e", NULL, 0, NULL, 0, 0, &token),
                RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_broadcast_with_ack(s, NULL, "e", NULL, 0, NULL, 0, 100, NULL),
                RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_broadcast_with_ack(s, &nowhere, "e", NULL, 0, NULL, 0, 100, &token),
                RTIO_STATUS_UNKNOWN_NAMESPACE);

  EXPECT_STATUS(rtio_server_side_emit(NULL, NULL, "e", NULL, 0, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_server_side_emit(s, NULL, NULL, NULL, 0, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_server_side_emit(s, "\xff", "e", NULL, 0, NULL, 0), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_server_side_emit(s, NULL, "e", "[\xff]", 3, NULL, 0), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_server_side_emit(s, "/nowhere", "e", NULL, 0, NULL, 0), RTIO_STATUS_UNKNOWN_NAMESPACE);
  EXPECT_STATUS(rtio_server_side_emit(s, NULL, "e", "[1]", 3, NULL, 0), RTIO_STATUS_OK);

  EXPECT_STATUS(rtio_server_side_emit_with_ack(NULL, NULL, "e", NULL, 0, NULL, 0, 100, &token),
                RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_server_side_emit_with_ack(s, NULL, "e", NULL, 0, NULL, 0, 0, &token),
                RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_server_side_emit_with_ack(s, NULL, "e", NULL, 0, NULL, 0, 100, NULL),
                RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_server_side_emit_with_ack(s, NULL, "\xff", NULL, 0, NULL, 0, 100, &token),
                RTIO_STATUS_INVALID_UTF8);

  EXPECT_STATUS(rtio_server_side_ack(NULL, 1, NULL, 0, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_server_side_ack(s, -1, NULL, 0, NULL, 0), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_server_side_ack(s, 424242, NULL, 0, NULL, 0), RTIO_STATUS_UNKNOWN_REQUEST);
  EXPECT_STATUS(rtio_server_side_ack(s, 1, "[1", 2, NULL, 0), RTIO_STATUS_INVALID_JSON);

  EXPECT_STATUS(rtio_server_count(NULL, NULL, &token), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_server_count(s, NULL, NULL), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_server_count(s, "\xff", &token), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_server_count(s, "/nowhere", &token), RTIO_STATUS_UNKNOWN_NAMESPACE);

  EXPECT_STATUS(rtio_socket_set_data(NULL, "x", "1", 1), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_socket_set_data(s, NULL, "1", 1), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_socket_set_data(s, "\xff", "1", 1), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_socket_set_data(s, "nobody", "{x", 2), RTIO_STATUS_INVALID_JSON);
  EXPECT_STATUS(rtio_socket_set_data(s, "nobody", "\"\xff\"", 3), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_socket_set_data(s, "nobody", NULL, 1), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_socket_set_data(s, "nobody", "1", 1), RTIO_STATUS_UNKNOWN_SOCKET);

  /* Nothing above started an operation: no answer event is queued. */
  rtio_event *ev = (rtio_event *)1;
  EXPECT_STATUS(rtio_server_poll(s, 50, &ev), RTIO_STATUS_OK);
  EXPECT(ev == NULL);

  EXPECT_STATUS(rtio_server_stop(s), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_fetch_sockets(s, NULL, &token), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_sockets_join(s, NULL, NULL, 0), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_sockets_leave(s, NULL, NULL, 0), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_disconnect_sockets(s, NULL, false), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_broadcast_with_ack(s, NULL, "e", NULL, 0, NULL, 0, 100, &token), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_server_side_emit(s, NULL, "e", NULL, 0, NULL, 0), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_server_side_emit_with_ack(s, NULL, "e", NULL, 0, NULL, 0, 100, &token),
                RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_server_side_ack(s, 1, NULL, 0, NULL, 0), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_server_count(s, NULL, &token), RTIO_STATUS_STOPPED);
  EXPECT_STATUS(rtio_socket_set_data(s, "x", "1", 1), RTIO_STATUS_STOPPED);
  rtio_server_free(s);
}

/* The cluster operations on one server (no Redis): the answers arrive as events. */
static void test_cluster_of_one(void) {
  rtio_server *s = start_server(rtio_config_new());
  uint16_t port = port_of(s);
  client c;
  EXPECT(client_open(&c, port) == 0);
  client_post(&c, "40{\"token\":\"t\"}");
  rtio_event *ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_CONNECT);
  char sid[64];
  snprintf(sid, sizeof sid, "%s", rtio_event_sid(ev));
  rtio_event_free(ev);
  free(client_get(&c)); /* the CONNECT answer */

  /* socket.data travels with fetchSockets. */
  EXPECT_STATUS(rtio_socket_set_data(s, sid, "{\"user\":\"ana\"}", 14), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_join(s, sid, "lobby"), RTIO_STATUS_OK);
  uint64_t token = 0;
  const char *lobby[1] = {"lobby"};
  rtio_broadcast_opts in_lobby = {.nsp = "/", .rooms = lobby, .rooms_len = 1};
  EXPECT_STATUS(rtio_fetch_sockets(s, &in_lobby, &token), RTIO_STATUS_OK);
  ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_FETCH_SOCKETS_RESPONSE);
  EXPECT(rtio_event_token(ev) == token);
  EXPECT(strcmp(rtio_event_error(ev), "") == 0);
  EXPECT(rtio_event_socket_count(ev) == 1);
  EXPECT(strcmp(rtio_event_socket_id(ev, 0), sid) == 0);
  EXPECT(strcmp(rtio_event_socket_namespace(ev, 0), "/") == 0);
  EXPECT(rtio_event_socket_local(ev, 0));
  size_t len = 0;
  const char *rooms = rtio_event_socket_rooms(ev, 0, &len);
  EXPECT(rooms && strstr(rooms, "\"lobby\"") && strstr(rooms, sid) && len == strlen(rooms));
  const char *data = rtio_event_socket_data(ev, 0, &len);
  EXPECT(data && strcmp(data, "{\"user\":\"ana\"}") == 0 && len == 14);
  const char *auth = rtio_event_socket_auth(ev, 0, &len);
  EXPECT(auth && strcmp(auth, "{\"token\":\"t\"}") == 0);
  const char *handshake = rtio_event_socket_handshake(ev, 0, &len);
  char *address = NULL;
  EXPECT_STATUS(rtio_json_get_string(handshake, len, "/address", &address), RTIO_STATUS_OK);
  EXPECT(address && strcmp(address, "127.0.0.1") == 0);
  rtio_string_free(address);
  EXPECT(rtio_event_socket_id(ev, 1) == NULL);
  EXPECT(rtio_event_socket_data(ev, 1, NULL) == NULL);
  rtio_event_free(ev);

  /* Cleared data: none in the answer. */
  EXPECT_STATUS(rtio_socket_set_data(s, sid, NULL, 0), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_fetch_sockets(s, NULL, &token), RTIO_STATUS_OK);
  ev = next_event(s);
  EXPECT(rtio_event_token(ev) == token && rtio_event_socket_count(ev) == 1);
  EXPECT(rtio_event_socket_data(ev, 0, NULL) == NULL);
  rtio_event_free(ev);

  /* A room nobody is in: an empty list. */
  const char *empty[1] = {"empty"};
  rtio_broadcast_opts in_empty = {.nsp = "/", .rooms = empty, .rooms_len = 1};
  EXPECT_STATUS(rtio_fetch_sockets(s, &in_empty, &token), RTIO_STATUS_OK);
  ev = next_event(s);
  EXPECT(rtio_event_token(ev) == token && rtio_event_socket_count(ev) == 0);
  rtio_event_free(ev);

  /* socketsJoin / socketsLeave move the selected sockets. */
  const char *vip[1] = {"vip"};
  EXPECT_STATUS(rtio_sockets_join(s, &in_lobby, vip, 1), RTIO_STATUS_OK);
  char *json = NULL;
  EXPECT_STATUS(rtio_room_sockets(s, "/", "vip", &json), RTIO_STATUS_OK);
  EXPECT(json && strstr(json, sid));
  rtio_string_free(json);
  EXPECT_STATUS(rtio_sockets_leave(s, NULL, vip, 1), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_room_sockets(s, "/", "vip", &json), RTIO_STATUS_OK);
  EXPECT(json && strcmp(json, "[]") == 0);
  rtio_string_free(json);

  /* serverCount: 1; serverSideEmit with ack: no other node, answered at once with none. */
  EXPECT_STATUS(rtio_server_count(s, NULL, &token), RTIO_STATUS_OK);
  ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_SERVER_COUNT_RESPONSE);
  EXPECT(rtio_event_token(ev) == token && rtio_event_count(ev) == 1);
  EXPECT(strcmp(rtio_event_error(ev), "") == 0);
  rtio_event_free(ev);
  EXPECT_STATUS(rtio_server_side_emit_with_ack(s, "/", "ping", NULL, 0, NULL, 0, 1000, &token), RTIO_STATUS_OK);
  ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_SERVER_SIDE_ACK_RESPONSE);
  EXPECT(rtio_event_token(ev) == token && rtio_event_answer_count(ev) == 0);
  EXPECT(strcmp(rtio_event_error(ev), "") == 0);
  rtio_event_free(ev);

  /* A broadcast with acks: the client answers (with binary), the event carries it. */
  EXPECT_STATUS(rtio_broadcast_with_ack(s, NULL, "q", "[1]", 3, NULL, 0, 5000, &token), RTIO_STATUS_OK);
  char *got = client_get(&c);
  /* 421["q",1]: ack id after the packet type. */
  EXPECT(got && strncmp(got, "42", 2) == 0 && strstr(got, "[\"q\",1]"));
  int ack_id = got ? atoi(got + 2) : -1;
  free(got);
  char answer[64];
  snprintf(answer, sizeof answer, "461-%d[{\"_placeholder\":true,\"num\":0}]\x1e" "bAQID", ack_id);
  client_post(&c, answer);
  ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_BROADCAST_ACK_RESPONSE);
  EXPECT(rtio_event_token(ev) == token);
  EXPECT(strcmp(rtio_event_error(ev), "") == 0);
  EXPECT(rtio_event_answer_count(ev) == 1);
  EXPECT(strcmp(rtio_event_answer_sid(ev, 0), sid) == 0);
  const char *args = rtio_event_answer(ev, 0, &len);
  EXPECT(args && strstr(args, "_placeholder") && len == strlen(args));
  EXPECT(rtio_event_answer_attachment_count(ev, 0) == 1);
  const uint8_t *bytes = rtio_event_answer_attachment(ev, 0, 0, &len);
  EXPECT(bytes && len == 3 && bytes[0] == 1 && bytes[2] == 3);
  EXPECT(rtio_event_answer(ev, 1, NULL) == NULL);
  EXPECT(rtio_event_answer_attachment(ev, 0, 1, NULL) == NULL);
  EXPECT(rtio_event_answer_attachment_count(ev, 1) == 0);
  rtio_event_free(ev);

  /* No answer in time: the event says so, with the answers that came (none). */
  EXPECT_STATUS(rtio_broadcast_with_ack(s, NULL, "q", NULL, 0, NULL, 0, 100, &token), RTIO_STATUS_OK);
  ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_BROADCAST_ACK_RESPONSE);
  EXPECT(rtio_event_token(ev) == token && rtio_event_answer_count(ev) == 0);
  EXPECT(strstr(rtio_event_error(ev), "timed out") != NULL);
  rtio_event_free(ev);
  free(client_get(&c));

  /* The local flag: a broadcast reaches this server's socket alike. */
  rtio_broadcast_opts here = {.nsp = "/", .local = true};
  size_t delivered = 0;
  EXPECT_STATUS(rtio_broadcast(s, &here, "hi", "[]", 2, NULL, 0, &delivered), RTIO_STATUS_OK);
  EXPECT(delivered == 1);
  got = client_get(&c);
  EXPECT(got && strstr(got, "42[\"hi\"]"));
  free(got);

  /* disconnectSockets: the client is told, the host gets the disconnect. */
  EXPECT_STATUS(rtio_disconnect_sockets(s, &in_lobby, false), RTIO_STATUS_OK);
  ev = next_event(s);
  EXPECT(rtio_event_get_type(ev) == RTIO_EVENT_TYPE_DISCONNECT);
  EXPECT(strcmp(rtio_event_reason(ev), "server namespace disconnect") == 0);
  rtio_event_free(ev);
  got = client_get(&c);
  EXPECT(got && strstr(got, "41"));
  free(got);
  rtio_server_free(s);
}

/* ---- two servers and the emitter through a real redis-server ---------------------------- */

static uint16_t free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&addr, sizeof addr);
  socklen_t n = sizeof addr;
  getsockname(fd, (struct sockaddr *)&addr, &n);
  close(fd);
  return ntohs(addr.sin_port);
}

static bool port_answers(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
  close(fd);
  return ok;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Starts redis-server on 127.0.0.1:port; 0 when it is not installed or did not come up. */
static pid_t start_redis(uint16_t port) {
  if (system("command -v redis-server >/dev/null 2>&1") != 0) return 0;
  char port_text[16];
  snprintf(port_text, sizeof port_text, "%u", port);
  pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    execlp("redis-server", "redis-server", "--port", port_text, "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", (char *)NULL);
    _exit(127);
  }
  for (double deadline = now_ms() + 10000; now_ms() < deadline;) {
    if (port_answers(port)) return pid;
    if (waitpid(pid, NULL, WNOHANG) == pid) return 0;
    struct timespec t = {0, 20 * 1000000L};
    nanosleep(&t, NULL);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return 0;
}

/* The next event of `type`, skipping others, within 5 s (NULL when none came). */
static rtio_event *next_of_type(rtio_server *s, rtio_event_type type) {
  for (double deadline = now_ms() + 5000; now_ms() < deadline;) {
    rtio_event *ev = NULL;
    if (rtio_server_poll(s, 100, &ev) != RTIO_STATUS_OK) return NULL;
    if (ev && rtio_event_get_type(ev) == type) return ev;
    rtio_event_free(ev);
  }
  return NULL;
}

static rtio_server *cluster_node(const char *url) {
  rtio_config *cfg = rtio_config_new();
  rtio_config_set_host(cfg, "127.0.0.1");
  EXPECT_STATUS(rtio_config_set_redis(cfg, url), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_redis_key(cfg, "c-test"), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_config_set_redis_requests_timeout(cfg, 2000), RTIO_STATUS_OK);
  rtio_server *s = NULL;
  EXPECT_STATUS(rtio_server_start(cfg, &s), RTIO_STATUS_OK);
  rtio_config_free(cfg);
  return s;
}

/* Asks `s` for the number of servers until it counts `n` (both subscribed), within 10 s. */
static bool wait_server_count(rtio_server *s, size_t n) {
  for (double deadline = now_ms() + 10000; now_ms() < deadline;) {
    uint64_t token = 0;
    if (rtio_server_count(s, "/", &token) != RTIO_STATUS_OK) return false;
    rtio_event *ev = next_of_type(s, RTIO_EVENT_TYPE_SERVER_COUNT_RESPONSE);
    size_t count = ev && rtio_event_token(ev) == token ? rtio_event_count(ev) : 0;
    rtio_event_free(ev);
    if (count == n) return true;
    struct timespec t = {0, 50 * 1000000L};
    nanosleep(&t, NULL);
  }
  return false;
}

static void test_emitter_misuse(void) {
  rtio_emitter *e = (rtio_emitter *)1;
  EXPECT_STATUS(rtio_emitter_new(NULL, NULL, 0, &e), RTIO_STATUS_NULL_POINTER);
  EXPECT(e == NULL);
  EXPECT_STATUS(rtio_emitter_new("redis://127.0.0.1:1", NULL, 0, NULL), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_emitter_new("\xff", NULL, 0, &e), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_emitter_new("redis://127.0.0.1:1", "\xff", 0, &e), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_emitter_new("not a url", NULL, 0, &e), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_emitter_new("redis://127.0.0.1:1", "", 0, &e), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_emitter_new("redis://127.0.0.1:1", NULL, 7, &e), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "variant") != NULL);
  /* Nothing listens on port 1: creating works (it connects on first use), pushing fails. */
  EXPECT_STATUS(rtio_emitter_new("redis://127.0.0.1:1", NULL, RTIO_REDIS_VARIANT_CLASSIC, &e), RTIO_STATUS_OK);
  EXPECT_STATUS(rtio_emitter_emit(e, NULL, "e", "[1]", 3, NULL, 0), RTIO_STATUS_IO);
  EXPECT(strstr(rtio_last_error(), "redis") != NULL);
  rtio_broadcast_opts volatile_opts = {.is_volatile = true};
  EXPECT_STATUS(rtio_emitter_emit(e, &volatile_opts, "e", "[1]", 3, NULL, 0), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT(strstr(rtio_last_error(), "volatile") != NULL);
  EXPECT_STATUS(rtio_emitter_emit(NULL, NULL, "e", NULL, 0, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_emitter_emit(e, NULL, NULL, NULL, 0, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_emitter_emit(e, NULL, "\xff", NULL, 0, NULL, 0), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_emitter_emit(e, NULL, "e", "{}", 2, NULL, 0), RTIO_STATUS_INVALID_JSON);
  EXPECT_STATUS(rtio_emitter_emit(e, NULL, "e", "[1]", 3, NULL, 1), RTIO_STATUS_NULL_POINTER);
  rtio_broadcast_opts local = {.local = true};
  EXPECT_STATUS(rtio_emitter_emit(e, &local, "e", NULL, 0, NULL, 0), RTIO_STATUS_INVALID_ARGUMENT);
  const char *bad[1] = {"\xff"};
  rtio_broadcast_opts bad_rooms = {.rooms = bad, .rooms_len = 1};
  EXPECT_STATUS(rtio_emitter_emit(e, &bad_rooms, "e", NULL, 0, NULL, 0), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_emitter_sockets_join(NULL, NULL, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_emitter_sockets_join(e, NULL, NULL, 1), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_emitter_sockets_join(e, NULL, bad, 1), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_emitter_sockets_leave(NULL, NULL, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_emitter_sockets_leave(e, &local, NULL, 0), RTIO_STATUS_INVALID_ARGUMENT);
  EXPECT_STATUS(rtio_emitter_disconnect_sockets(NULL, NULL, true), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_emitter_disconnect_sockets(e, &bad_rooms, true), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_emitter_server_side_emit(NULL, NULL, "e", NULL, 0, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_emitter_server_side_emit(e, "\xff", "e", NULL, 0, NULL, 0), RTIO_STATUS_INVALID_UTF8);
  EXPECT_STATUS(rtio_emitter_server_side_emit(e, NULL, NULL, NULL, 0, NULL, 0), RTIO_STATUS_NULL_POINTER);
  EXPECT_STATUS(rtio_emitter_server_side_emit(e, NULL, "e", NULL, 0, NULL, 0), RTIO_STATUS_IO);
  rtio_emitter_free(e);
  rtio_emitter_free(NULL);
}

static void test_cluster_through_redis(void) {
  uint16_t redis_port = free_port();
  pid_t redis = start_redis(redis_port);
  if (!redis) {
    fprintf(stderr, "test_cluster_through_redis: SKIPPED (no redis-server)\n");
    return;
  }
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%u", redis_port);
  rtio_server *a = cluster_node(url), *b = cluster_node(url);
  EXPECT(wait_server_count(a, 2));

  /* A client on b, with socket data. */
  client c;
  EXPECT(client_open(&c, port_of(b)) == 0);
  client_post(&c, "40");
  rtio_event *ev = next_of_type(b, RTIO_EVENT_TYPE_CONNECT);
  EXPECT(ev != NULL);
  char sid[64] = "";
  if (ev) snprintf(sid, sizeof sid, "%s", rtio_event_sid(ev));
  rtio_event_free(ev);
  free(client_get(&c));
  EXPECT_STATUS(rtio_socket_set_data(b, sid, "{\"n\":1}", 7), RTIO_STATUS_OK);

  /* a sees b's socket, not local, with its data. */
  uint64_t token = 0;
  EXPECT_STATUS(rtio_fetch_sockets(a, NULL, &token), RTIO_STATUS_OK);
  ev = next_of_type(a, RTIO_EVENT_TYPE_FETCH_SOCKETS_RESPONSE);
  EXPECT(ev && rtio_event_token(ev) == token && strcmp(rtio_event_error(ev), "") == 0);
  EXPECT(ev && rtio_event_socket_count(ev) == 1);
  EXPECT(ev && rtio_event_socket_id(ev, 0) && strcmp(rtio_event_socket_id(ev, 0), sid) == 0);
  EXPECT(ev && !rtio_event_socket_local(ev, 0));
  const char *data = ev ? rtio_event_socket_data(ev, 0, NULL) : NULL;
  EXPECT(data && strcmp(data, "{\"n\":1}") == 0);
  rtio_event_free(ev);

  /* A server-side emit with ack: b answers, a gets it. */
  EXPECT_STATUS(rtio_server_side_emit_with_ack(a, "/", "ping", "[\"hi\"]", 6, NULL, 0, 2000, &token),
                RTIO_STATUS_OK);
  ev = next_of_type(b, RTIO_EVENT_TYPE_SERVER_SIDE_EMIT);
  EXPECT(ev && strcmp(rtio_event_name(ev, NULL), "ping") == 0);
  EXPECT(ev && strcmp(rtio_event_data(ev, NULL), "[\"hi\"]") == 0);
  EXPECT(ev && strcmp(rtio_event_namespace(ev), "/") == 0);
  EXPECT(ev && rtio_event_ack_id(ev) >= 0);
  if (ev) EXPECT_STATUS(rtio_server_side_ack(b, rtio_event_ack_id(ev), "[7]", 3, NULL, 0), RTIO_STATUS_OK);
  if (ev) EXPECT_STATUS(rtio_server_side_ack(b, rtio_event_ack_id(ev), "[7]", 3, NULL, 0), RTIO_STATUS_UNKNOWN_REQUEST);
  rtio_event_free(ev);
  ev = next_of_type(a, RTIO_EVENT_TYPE_SERVER_SIDE_ACK_RESPONSE);
  EXPECT(ev && rtio_event_token(ev) == token && strcmp(rtio_event_error(ev), "") == 0);
  EXPECT(ev && rtio_event_answer_count(ev) == 1 && strcmp(rtio_event_answer(ev, 0, NULL), "[7]") == 0);
  rtio_event_free(ev);

  /* The emitter: an emit to every socket reaches b's client, binary included. */
  rtio_emitter *e = NULL;
  EXPECT_STATUS(rtio_emitter_new(url, "c-test", RTIO_REDIS_VARIANT_CLASSIC, &e), RTIO_STATUS_OK);
  uint8_t blob[3] = {1, 2, 3};
  rtio_buffer att = {blob, 3};
  const char *args = "[{\"_placeholder\":true,\"num\":0}]";
  EXPECT_STATUS(rtio_emitter_emit(e, NULL, "pushed", args, strlen(args), &att, 1), RTIO_STATUS_OK);
  char *got = client_get(&c);
  EXPECT(got && strstr(got, "451-[\"pushed\",{\"_placeholder\":true,\"num\":0}]") && strstr(got, "bAQID"));
  free(got);

  /* socketsJoin from the emitter, then an emit to that room only. */
  const char *vip[1] = {"vip"};
  EXPECT_STATUS(rtio_emitter_sockets_join(e, NULL, vip, 1), RTIO_STATUS_OK);
  char *members = NULL;
  for (double deadline = now_ms() + 5000; now_ms() < deadline;) {
    rtio_string_free(members);
    members = NULL;
    EXPECT_STATUS(rtio_room_sockets(b, "/", "vip", &members), RTIO_STATUS_OK);
    if (members && strstr(members, sid)) break;
    struct timespec t = {0, 20 * 1000000L};
    nanosleep(&t, NULL);
  }
  EXPECT(members && strstr(members, sid));
  rtio_string_free(members);
  rtio_broadcast_opts to_vip = {.rooms = vip, .rooms_len = 1};
  EXPECT_STATUS(rtio_emitter_emit(e, &to_vip, "vip-only", "[1]", 3, NULL, 0), RTIO_STATUS_OK);
  got = client_get(&c);
  EXPECT(got && strstr(got, "42[\"vip-only\",1]"));
  free(got);

  /* serverSideEmit from the emitter reaches both servers' hosts. */
  EXPECT_STATUS(rtio_emitter_server_side_emit(e, NULL, "relay", "[2]", 3, NULL, 0), RTIO_STATUS_OK);
  ev = next_of_type(a, RTIO_EVENT_TYPE_SERVER_SIDE_EMIT);
  EXPECT(ev && strcmp(rtio_event_name(ev, NULL), "relay") == 0 && rtio_event_ack_id(ev) == -1);
  rtio_event_free(ev);
  ev = next_of_type(b, RTIO_EVENT_TYPE_SERVER_SIDE_EMIT);
  EXPECT(ev && strcmp(rtio_event_data(ev, NULL), "[2]") == 0);
  rtio_event_free(ev);

  /* disconnectSockets from the emitter. */
  EXPECT_STATUS(rtio_emitter_disconnect_sockets(e, &to_vip, false), RTIO_STATUS_OK);
  ev = next_of_type(b, RTIO_EVENT_TYPE_DISCONNECT);
  EXPECT(ev && strcmp(rtio_event_sid(ev), sid) == 0);
  rtio_event_free(ev);
  rtio_emitter_free(e);

  rtio_server_free(a);
  rtio_server_free(b);
  kill(redis, SIGTERM);
  waitpid(redis, NULL, 0);
}

int main(void) {
  test_null_and_bad_arguments();
  test_bind_errors();
  test_calls_after_stop();
  test_json_helpers();
  test_poll_mode_end_to_end();
  test_callback_mode();
  test_request_gate_poll_mode();
  test_request_gate_callback_mode();
  test_request_gate_timeout();
  test_cors_options();
  test_rooms_and_connections();
  test_cluster_config();
  test_cluster_misuse();
  test_cluster_of_one();
  test_emitter_misuse();
  test_cluster_through_redis();
  test_intake();
  test_tls_and_cookie_settings();
  test_open_websocket();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("test_api: all checks passed\n");
  return 0;
}
