// rtio.hpp — header-only C++17 wrapper over the rtio C API (include/rtio.h).
//
// RAII owners for the config, the server and polled events; std::string_view in, exceptions
// out: every failing call throws rtio::Error carrying the rtio_status and rtio_last_error().
// Threads: a Server may be used from any thread. In callback mode (Config::on_event) the
// handler runs on rtio's dispatcher thread; an exception escaping it is caught there, reported
// on stderr, and the server keeps serving (it never crosses into rtio).
#ifndef RTIO_HPP
#define RTIO_HPP

#include <rtio.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rtio {

/// A failed rtio call: `status()` is the code, `what()` the message.
class Error : public std::runtime_error {
 public:
  Error(rtio_status status, const char *message) : std::runtime_error(message), status_(status) {}
  rtio_status status() const noexcept { return status_; }

 private:
  rtio_status status_;
};

/// Throws rtio::Error unless `status` is RTIO_STATUS_OK.
inline void check(rtio_status status) {
  if (status != RTIO_STATUS_OK) throw Error(status, rtio_last_error());
}

/// Bytes passed to rtio (borrowed for the call).
using Buffer = rtio_buffer;

/// A view of an event. Valid as long as the event: for the duration of the callback in
/// callback mode, or as long as the OwnedEvent that holds it in poll mode.
class Event {
 public:
  explicit Event(const rtio_event *ev) noexcept : ev_(ev) {}
  rtio_event_type type() const noexcept { return rtio_event_get_type(ev_); }
  std::string_view sid() const noexcept { return rtio_event_sid(ev_); }
  std::string_view nsp() const noexcept { return rtio_event_namespace(ev_); }
  std::string_view name() const noexcept { return view(rtio_event_name); }
  /// JSON text: the arguments array (message, ack response, server-side emit) or the auth
  /// object (connect).
  std::string_view data() const noexcept { return view(rtio_event_data); }
  /// JSON: the connection's handshake (connect, connect request) or the HTTP request
  /// (RTIO_EVENT_TYPE_REQUEST: method, url, query, headers, address, port, transport).
  std::string_view handshake() const noexcept { return view(rtio_event_handshake); }
  std::string_view reason() const noexcept { return rtio_event_reason(ev_); }
  /// The ack id when the client waits for an ack (answer with Server::ack), or when the node
  /// that sent a server-side emit waits for an answer (answer with Server::server_side_ack).
  std::optional<int64_t> ack_id() const noexcept {
    int64_t id = rtio_event_ack_id(ev_);
    return id >= 0 ? std::optional<int64_t>(id) : std::nullopt;
  }
  /// The id to answer a connect request (accept/reject) or a gated request
  /// (allow_request/allow_request_origin/deny_request) with.
  uint64_t request() const noexcept { return rtio_event_request(ev_); }
  uint64_t ack_token() const noexcept { return rtio_event_ack_token(ev_); }
  bool ack_timed_out() const noexcept { return rtio_event_ack_timed_out(ev_); }
  /// The binary attachments, borrowed from the event (ready to be sent back as they are).
  std::vector<Buffer> attachments() const {
    std::vector<Buffer> out(rtio_event_attachment_count(ev_));
    for (size_t i = 0; i < out.size(); i++) out[i].data = rtio_event_attachment(ev_, i, &out[i].len);
    return out;
  }

  /// The token the call returned, on every answer event (ack, broadcast ack, fetch sockets,
  /// server-side ack, server count).
  uint64_t token() const noexcept { return rtio_event_token(ev_); }
  /// Why a cluster answer is incomplete ("" when complete).
  std::string_view error() const noexcept { return rtio_event_error(ev_); }
  /// The number of nodes (server-count response).
  size_t count() const noexcept { return rtio_event_count(ev_); }

  /// One answer of a broadcast with acks or of a server-side emit with ack (borrowed).
  struct Answer {
    std::string_view sid;  ///< "" when the answering socket is on another node
    std::string_view data; ///< JSON arguments array
    std::vector<Buffer> attachments;
  };
  std::vector<Answer> answers() const {
    std::vector<Answer> out(rtio_event_answer_count(ev_));
    for (size_t i = 0; i < out.size(); i++) {
      size_t len = 0;
      const char *data = rtio_event_answer(ev_, i, &len);
      out[i].sid = rtio_event_answer_sid(ev_, i);
      out[i].data = std::string_view(data, len);
      out[i].attachments.resize(rtio_event_answer_attachment_count(ev_, i));
      for (size_t j = 0; j < out[i].attachments.size(); j++) {
        out[i].attachments[j].data = rtio_event_answer_attachment(ev_, i, j, &out[i].attachments[j].len);
      }
    }
    return out;
  }

  /// One socket of a fetch-sockets response (borrowed).
  struct Socket {
    std::string_view id, nsp;
    std::string_view rooms;      ///< JSON array of strings, its own room first
    std::string_view handshake;  ///< JSON object, as rtio_event_handshake
    std::string_view auth;       ///< JSON object
    std::optional<std::string_view> data;  ///< socket.data as JSON, when set
    bool local;                  ///< connected to this node
  };
  std::vector<Socket> sockets() const {
    std::vector<Socket> out;
    for (size_t i = 0, n = rtio_event_socket_count(ev_); i < n; i++) {
      size_t rooms = 0, handshake = 0, auth = 0, data_len = 0;
      const char *r = rtio_event_socket_rooms(ev_, i, &rooms);
      const char *h = rtio_event_socket_handshake(ev_, i, &handshake);
      const char *a = rtio_event_socket_auth(ev_, i, &auth);
      const char *d = rtio_event_socket_data(ev_, i, &data_len);
      out.push_back(Socket{rtio_event_socket_id(ev_, i), rtio_event_socket_namespace(ev_, i),
                           std::string_view(r, rooms), std::string_view(h, handshake), std::string_view(a, auth),
                           d ? std::optional<std::string_view>(std::string_view(d, data_len)) : std::nullopt,
                           rtio_event_socket_local(ev_, i)});
    }
    return out;
  }
  /// HTTP_RESPONSE events (the answer to Server::handle_request) and WEB_SOCKET_ANSWER events
  /// (Server::open_websocket; id in token()): status, headers, body. WEB_SOCKET_SEND events:
  /// body() is the message, is_binary() its kind.
  uint16_t status() const noexcept { return rtio_event_status(ev_); }
  bool is_binary() const noexcept { return rtio_event_is_binary(ev_); }
  std::vector<std::pair<std::string_view, std::string_view>> headers() const {
    std::vector<std::pair<std::string_view, std::string_view>> out(rtio_event_header_count(ev_));
    for (size_t i = 0; i < out.size(); i++) {
      out[i] = {rtio_event_header_name(ev_, i), rtio_event_header_value(ev_, i)};
    }
    return out;
  }
  std::string_view body() const noexcept {
    size_t len = 0;
    const uint8_t *p = rtio_event_body(ev_, &len);
    return len ? std::string_view(reinterpret_cast<const char *>(p), len) : std::string_view();
  }
  const rtio_event *raw() const noexcept { return ev_; }

 private:
  std::string_view view(const char *(*get)(const rtio_event *, size_t *)) const noexcept {
    size_t len = 0;
    const char *p = get(ev_, &len);
    return p ? std::string_view(p, len) : std::string_view();
  }
  const rtio_event *ev_;
};

/// An event taken with Server::poll; frees it when destroyed.
class OwnedEvent : public Event {
 public:
  explicit OwnedEvent(rtio_event *ev) noexcept : Event(ev), owner_(ev) {}

 private:
  struct Free {
    void operator()(rtio_event *ev) const noexcept { rtio_event_free(ev); }
  };
  std::unique_ptr<rtio_event, Free> owner_;
};

/// The value at a JSON pointer (RFC 6901) as a string, or nullopt when absent / not a string.
inline std::optional<std::string> json_string(std::string_view json, const char *pointer) {
  char *out = nullptr;
  if (rtio_json_get_string(json.data(), json.size(), pointer, &out) != RTIO_STATUS_OK) return std::nullopt;
  std::string s(out);
  rtio_string_free(out);
  return s;
}

/// The raw JSON text at a JSON pointer (a view into `json`), or nullopt when absent.
inline std::optional<std::string_view> json_value(std::string_view json, const char *pointer) {
  const char *out = nullptr;
  size_t len = 0;
  if (rtio_json_get(json.data(), json.size(), pointer, &out, &len) != RTIO_STATUS_OK) return std::nullopt;
  return std::string_view(out, len);
}

/// The strings of a JSON array of strings that rtio allocated (rooms, socket ids); frees it.
inline std::vector<std::string> take_string_list(char *json) {
  std::vector<std::string> out;
  if (!json) return out;
  // Each item is a JSON string literal: find its end, then let rtio unescape it.
  for (const char *p = json; *p; p++) {
    if (*p != '"') continue;
    const char *start = p++;
    while (*p && *p != '"') p += (*p == '\\' && p[1]) ? 2 : 1;
    if (!*p) break;
    if (auto s = json_string(std::string_view(start, size_t(p - start + 1)), "")) out.push_back(*s);
  }
  rtio_string_free(json);
  return out;
}

/// Handler called on rtio's dispatcher thread for every event (callback mode).
using Handler = std::function<void(const Event &)>;

/// The server configuration; see the rtio_config_* functions for each setting.
class Config {
 public:
  Config() : cfg_(rtio_config_new()) {
    if (!cfg_) throw Error(RTIO_STATUS_INTERNAL, rtio_last_error());
  }
  Config &host(const std::string &h) { return set(rtio_config_set_host(cfg_.get(), h.c_str())); }
  Config &port(uint16_t p) { return set(rtio_config_set_port(cfg_.get(), p)); }
  /// false: no listener of rtio's own (your server hands requests over; see rtio_config_set_listen).
  Config &listen(bool on) { return set(rtio_config_set_listen(cfg_.get(), on)); }
  Config &path(const std::string &p) { return set(rtio_config_set_path(cfg_.get(), p.c_str())); }
  /// HTTPS/WSS with these PEM files (see rtio_config_set_tls).
  Config &tls(const std::string &cert, const std::string &key) {
    return set(rtio_config_set_tls(cfg_.get(), cert.c_str(), key.c_str()));
  }
  /// engine.io's session cookie with this name (see rtio_config_set_cookie).
  Config &cookie(const std::string &name) { return set(rtio_config_set_cookie(cfg_.get(), name.c_str())); }
  /// The packet encoding (see rtio_config_set_parser).
  Config &parser(rtio_parser p) { return set(rtio_config_set_parser(cfg_.get(), static_cast<uint32_t>(p))); }
  /// WebSocket permessage-deflate for messages of at least `threshold` bytes (see
  /// rtio_config_set_per_message_deflate).
  Config &per_message_deflate(size_t threshold = 1024) {
    return set(rtio_config_set_per_message_deflate(cfg_.get(), true, threshold));
  }
  /// Accepts socket.io-client 2.x (Engine.IO v3) too (see rtio_config_set_allow_eio3).
  Config &allow_eio3(bool on) { return set(rtio_config_set_allow_eio3(cfg_.get(), on)); }
  Config &ping(uint32_t interval_ms, uint32_t timeout_ms) {
    return set(rtio_config_set_ping(cfg_.get(), interval_ms, timeout_ms));
  }
  Config &max_payload(size_t bytes) { return set(rtio_config_set_max_payload(cfg_.get(), bytes)); }
  Config &connect_timeout(uint32_t ms) { return set(rtio_config_set_connect_timeout(cfg_.get(), ms)); }
  /// "*" any origin, "" none (the default), or a comma-separated list.
  Config &cors(const std::string &origins) { return set(rtio_config_set_cors(cfg_.get(), origins.c_str())); }
  /// Origins decided per request through RTIO_EVENT_TYPE_REQUEST (Server::allow_request_origin).
  Config &cors_gate() { return set(rtio_config_set_cors_gate(cfg_.get())); }
  Config &cors_credentials(bool on) { return set(rtio_config_set_cors_credentials(cfg_.get(), on)); }
  Config &reject_other_origins(bool on) { return set(rtio_config_set_reject_other_origins(cfg_.get(), on)); }
  /// Every handshake first arrives as RTIO_EVENT_TYPE_REQUEST (0 ms: the default 10 s timeout).
  Config &request_gate(bool on, uint32_t timeout_ms = 0) {
    return set(rtio_config_set_request_gate(cfg_.get(), on, timeout_ms));
  }
  Config &static_dir(const std::string &d) { return set(rtio_config_set_static_dir(cfg_.get(), d.c_str())); }
  Config &client_bundle(const std::string &f) {
    return set(rtio_config_set_client_bundle(cfg_.get(), f.c_str()));
  }
  Config &worker_threads(uint32_t n) { return set(rtio_config_set_worker_threads(cfg_.get(), n)); }
  Config &send_queue(size_t max_frames, size_t max_bytes) {
    return set(rtio_config_set_send_queue(cfg_.get(), max_frames, max_bytes));
  }
  Config &event_queue(size_t capacity) { return set(rtio_config_set_event_queue(cfg_.get(), capacity)); }
  Config &add_namespace(const std::string &nsp, bool middleware = false) {
    return set(rtio_config_add_namespace(cfg_.get(), nsp.c_str(), middleware));
  }
  Config &dynamic_namespaces(bool on) { return set(rtio_config_set_dynamic_namespaces(cfg_.get(), on)); }
  /// Removes a dynamic namespace once its last socket left (see rtio_config_set_cleanup_empty_child_namespaces).
  Config &cleanup_empty_child_namespaces(bool on) {
    return set(rtio_config_set_cleanup_empty_child_namespaces(cfg_.get(), on));
  }
  /// Joins a Socket.IO cluster through Redis (see rtio_config_set_redis); the redis_*
  /// setters below need it first.
  Config &redis(const std::string &url) { return set(rtio_config_set_redis(cfg_.get(), url.c_str())); }
  Config &redis_key(const std::string &key) { return set(rtio_config_set_redis_key(cfg_.get(), key.c_str())); }
  Config &redis_variant(rtio_redis_variant v) { return set(rtio_config_set_redis_variant(cfg_.get(), v)); }
  Config &redis_requests_timeout(uint32_t ms) {
    return set(rtio_config_set_redis_requests_timeout(cfg_.get(), ms));
  }
  Config &redis_specific_response_channel(bool on) {
    return set(rtio_config_set_redis_specific_response_channel(cfg_.get(), on));
  }
  Config &redis_subscription_mode(rtio_redis_subscription_mode m) {
    return set(rtio_config_set_redis_subscription_mode(cfg_.get(), m));
  }
  Config &cluster_timeout(uint32_t ms) { return set(rtio_config_set_cluster_timeout(cfg_.get(), ms)); }
  /// Callback mode: `handler` runs on rtio's dispatcher thread for every event.
  Config &on_event(Handler handler) {
    handler_ = std::make_unique<Handler>(std::move(handler));
    return *this;
  }

 private:
  friend class Server;
  struct Free {
    void operator()(rtio_config *c) const noexcept { rtio_config_free(c); }
  };
  Config &set(rtio_status s) {
    check(s);
    return *this;
  }
  std::unique_ptr<rtio_config, Free> cfg_;
  std::unique_ptr<Handler> handler_;
};

/// Which sockets a broadcast reaches (all sockets of `nsp` by default).
struct Broadcast {
  std::string nsp = "/";
  std::vector<std::string> rooms;
  std::vector<std::string> except_rooms;
  std::string except_sid;
  /// This node's sockets only (socket.io's `local`): a cluster does not forward it.
  bool local = false;
  /// socket.io's `volatile` (emits): dropped for a socket whose transport is busy.
  bool is_volatile = false;
  /// socket.io's `compress(false)` (emits): never permessage-deflate-compressed.
  bool no_compress = false;
};

namespace detail {
/// A Broadcast as the C struct, with the pointer arrays it borrows.
struct Opts {
  explicit Opts(const Broadcast &to) {
    for (auto &r : to.rooms) rooms.push_back(r.c_str());
    for (auto &r : to.except_rooms) except.push_back(r.c_str());
    c = rtio_broadcast_opts{to.nsp.c_str(), rooms.data(), rooms.size(), except.data(), except.size(),
                            to.except_sid.empty() ? nullptr : to.except_sid.c_str(), to.local,
                            to.is_volatile, to.no_compress};
  }
  std::vector<const char *> rooms, except;
  rtio_broadcast_opts c;
};

inline std::vector<const char *> c_strings(const std::vector<std::string> &v) {
  std::vector<const char *> out;
  for (auto &s : v) out.push_back(s.c_str());
  return out;
}
}  // namespace detail

/// A running server; stopped and freed when destroyed (never destroy it from its callback).
class Server {
 public:
  /// Starts listening (throws rtio::Error, e.g. RTIO_STATUS_BIND). Takes the config's handler.
  explicit Server(Config &config) : handler_(std::move(config.handler_)) {
    if (handler_) check(rtio_config_set_callback(config.cfg_.get(), &Server::trampoline, handler_.get()));
    rtio_server *raw = nullptr;
    check(rtio_server_start(config.cfg_.get(), &raw));
    srv_.reset(raw);
  }

  /// rtio_handle_request: the answer comes as an HTTP_RESPONSE event with the returned token.
  /// `req` is borrowed for the call (rtio copies it).
  uint64_t handle_request(const rtio_http_request &req) const {
    uint64_t token = 0;
    check(rtio_handle_request(srv_.get(), &req, &token));
    return token;
  }
  /// rtio_adopt_websocket: on success `fd` is rtio's; on a thrown Error the caller keeps it.
  void adopt_websocket(int fd, const rtio_http_request &handshake, std::string_view early = {}) const {
    check(rtio_adopt_websocket(srv_.get(), fd, &handshake,
                               reinterpret_cast<const uint8_t *>(early.data()), early.size()));
  }
  /// rtio_open_websocket: a WebSocket your server frames itself; returns its id. rtio's side
  /// comes as WEB_SOCKET_ANSWER, WEB_SOCKET_SEND and WEB_SOCKET_CLOSE events with that id.
  uint64_t open_websocket(const rtio_http_request &handshake) const {
    uint64_t id = 0;
    check(rtio_open_websocket(srv_.get(), &handshake, &id));
    return id;
  }
  /// rtio_websocket_receive: a message the client sent (text must be UTF-8, else throws
  /// rtio::Error with RTIO_STATUS_INVALID_ARGUMENT).
  void websocket_receive(uint64_t id, std::string_view data, bool binary = false) const {
    check(rtio_websocket_receive(srv_.get(), id, binary ? 1 : 0,
                                 reinterpret_cast<const uint8_t *>(data.data()), data.size()));
  }
  /// rtio_websocket_close: the client went, or you close it.
  void websocket_close(uint64_t id) const { check(rtio_websocket_close(srv_.get(), id)); }
  uint16_t port() const {
    uint16_t p = 0;
    check(rtio_server_port(srv_.get(), &p));
    return p;
  }
  /// Poll mode: the next event, or nullopt after `timeout_ms` (negative: wait forever).
  /// Throws rtio::Error with RTIO_STATUS_STOPPED once the server stopped and is drained.
  std::optional<OwnedEvent> poll(int timeout_ms) {
    rtio_event *ev = nullptr;
    check(rtio_server_poll(srv_.get(), timeout_ms, &ev));
    if (!ev) return std::nullopt;
    return std::optional<OwnedEvent>(std::in_place, ev);
  }
  /// Poll mode: readable while events are pending (owned by the server).
  int fd() const noexcept { return rtio_server_fd(srv_.get()); }

  void emit(std::string_view sid, std::string_view event, std::string_view json = "[]",
            const std::vector<Buffer> &attachments = {}) {
    check(rtio_emit(srv_.get(), std::string(sid).c_str(), std::string(event).c_str(), json.data(),
                    json.size(), attachments.data(), attachments.size()));
  }
  /// Asks for an ack; the answer arrives as an RTIO_EVENT_TYPE_ACK_RESPONSE with this token.
  uint64_t emit_with_ack(std::string_view sid, std::string_view event, std::string_view json,
                         uint32_t timeout_ms, const std::vector<Buffer> &attachments = {}) {
    uint64_t token = 0;
    check(rtio_emit_with_ack(srv_.get(), std::string(sid).c_str(), std::string(event).c_str(), json.data(),
                             json.size(), attachments.data(), attachments.size(), timeout_ms, &token));
    return token;
  }
  void ack(std::string_view sid, int64_t ack_id, std::string_view json = "[]",
           const std::vector<Buffer> &attachments = {}) {
    check(rtio_ack(srv_.get(), std::string(sid).c_str(), ack_id, json.data(), json.size(), attachments.data(),
                   attachments.size()));
  }
  /// Returns how many sockets the event was queued for.
  size_t broadcast(std::string_view event, std::string_view json, const Broadcast &to = {},
                   const std::vector<Buffer> &attachments = {}) {
    detail::Opts opts(to);
    size_t delivered = 0;
    check(rtio_broadcast(srv_.get(), &opts.c, std::string(event).c_str(), json.data(), json.size(),
                         attachments.data(), attachments.size(), &delivered));
    return delivered;
  }

  // ---- every node of a cluster (a cluster of one without Config::redis) ----
  /// Asks every selected socket for an ack; RTIO_EVENT_TYPE_BROADCAST_ACK_RESPONSE follows.
  uint64_t broadcast_with_ack(std::string_view event, std::string_view json, uint32_t timeout_ms,
                              const Broadcast &to = {}, const std::vector<Buffer> &attachments = {}) {
    detail::Opts opts(to);
    uint64_t token = 0;
    check(rtio_broadcast_with_ack(srv_.get(), &opts.c, std::string(event).c_str(), json.data(), json.size(),
                                  attachments.data(), attachments.size(), timeout_ms, &token));
    return token;
  }
  /// socket.io's fetchSockets; RTIO_EVENT_TYPE_FETCH_SOCKETS_RESPONSE follows.
  uint64_t fetch_sockets(const Broadcast &which = {}) {
    detail::Opts opts(which);
    uint64_t token = 0;
    check(rtio_fetch_sockets(srv_.get(), &opts.c, &token));
    return token;
  }
  void sockets_join(const std::vector<std::string> &rooms, const Broadcast &which = {}) {
    detail::Opts opts(which);
    auto r = detail::c_strings(rooms);
    check(rtio_sockets_join(srv_.get(), &opts.c, r.data(), r.size()));
  }
  void sockets_leave(const std::vector<std::string> &rooms, const Broadcast &which = {}) {
    detail::Opts opts(which);
    auto r = detail::c_strings(rooms);
    check(rtio_sockets_leave(srv_.get(), &opts.c, r.data(), r.size()));
  }
  void disconnect_sockets(bool close_connection = false, const Broadcast &which = {}) {
    detail::Opts opts(which);
    check(rtio_disconnect_sockets(srv_.get(), &opts.c, close_connection));
  }
  /// To the other nodes' hosts (RTIO_EVENT_TYPE_SERVER_SIDE_EMIT there).
  void server_side_emit(std::string_view event, std::string_view json = "[]", const std::string &nsp = "/",
                        const std::vector<Buffer> &attachments = {}) {
    check(rtio_server_side_emit(srv_.get(), nsp.c_str(), std::string(event).c_str(), json.data(), json.size(),
                                attachments.data(), attachments.size()));
  }
  /// RTIO_EVENT_TYPE_SERVER_SIDE_ACK_RESPONSE follows with each other node's answer.
  uint64_t server_side_emit_with_ack(std::string_view event, std::string_view json, uint32_t timeout_ms,
                                     const std::string &nsp = "/", const std::vector<Buffer> &attachments = {}) {
    uint64_t token = 0;
    check(rtio_server_side_emit_with_ack(srv_.get(), nsp.c_str(), std::string(event).c_str(), json.data(),
                                         json.size(), attachments.data(), attachments.size(), timeout_ms,
                                         &token));
    return token;
  }
  void server_side_ack(int64_t ack_id, std::string_view json = "[]", const std::vector<Buffer> &attachments = {}) {
    check(rtio_server_side_ack(srv_.get(), ack_id, json.data(), json.size(), attachments.data(),
                               attachments.size()));
  }
  /// RTIO_EVENT_TYPE_SERVER_COUNT_RESPONSE follows.
  uint64_t server_count(const std::string &nsp = "/") {
    uint64_t token = 0;
    check(rtio_server_count(srv_.get(), nsp.c_str(), &token));
    return token;
  }
  /// socket.io's socket.data as JSON (nullopt clears it); seen by every node's fetch_sockets.
  void set_socket_data(std::string_view sid, std::optional<std::string_view> json) {
    check(rtio_socket_set_data(srv_.get(), std::string(sid).c_str(), json ? json->data() : nullptr,
                               json ? json->size() : 0));
  }
  void join(std::string_view sid, std::string_view room) {
    check(rtio_join(srv_.get(), std::string(sid).c_str(), std::string(room).c_str()));
  }
  void leave(std::string_view sid, std::string_view room) {
    check(rtio_leave(srv_.get(), std::string(sid).c_str(), std::string(room).c_str()));
  }
  void disconnect(std::string_view sid, bool close_connection = false) {
    check(rtio_disconnect(srv_.get(), std::string(sid).c_str(), close_connection));
  }
  void accept(uint64_t request) { check(rtio_accept(srv_.get(), request)); }
  void reject(uint64_t request, const std::string &message, const char *data_json = nullptr) {
    check(rtio_reject(srv_.get(), request, message.c_str(), data_json));
  }
  /// Answers an RTIO_EVENT_TYPE_REQUEST: let it through...
  void allow_request(uint64_t request) { check(rtio_request_allow(srv_.get(), request)); }
  /// ...and, with Config::cors_gate, let its origin read the responses...
  void allow_request_origin(uint64_t request) { check(rtio_request_allow_origin(srv_.get(), request)); }
  /// ...or refuse it with an HTTP status (400-599) and {"code":4,"message":message}.
  void deny_request(uint64_t request, uint16_t status, const std::string &message) {
    check(rtio_request_deny(srv_.get(), request, status, message.c_str()));
  }
  /// The rooms a socket is in, its own room first.
  std::vector<std::string> rooms(std::string_view sid) const {
    char *json = nullptr;
    check(rtio_socket_rooms(srv_.get(), std::string(sid).c_str(), &json));
    return take_string_list(json);
  }
  /// The ids of the sockets in a room of `nsp`, or of every socket of `nsp` without `room`.
  std::vector<std::string> sockets(const std::string &nsp = "/",
                                   const std::optional<std::string> &room = std::nullopt) const {
    char *json = nullptr;
    check(rtio_room_sockets(srv_.get(), nsp.c_str(), room ? room->c_str() : nullptr, &json));
    return take_string_list(json);
  }
  /// Takes every socket of `nsp` out of `room`.
  void close_room(const std::string &nsp, const std::string &room) {
    check(rtio_close_room(srv_.get(), nsp.c_str(), room.c_str()));
  }
  rtio_transport transport(std::string_view sid) const {
    rtio_transport t = RTIO_TRANSPORT_POLLING;
    check(rtio_socket_transport(srv_.get(), std::string(sid).c_str(), &t));
    return t;
  }
  /// Engine.IO connections open now (socket.io's io.engine.clientsCount).
  size_t client_count() const {
    size_t n = 0;
    check(rtio_client_count(srv_.get(), &n));
    return n;
  }
  /// {sockets, rooms} of a namespace.
  std::pair<size_t, size_t> stats(const std::string &nsp = "/") const {
    size_t sockets = 0, rooms = 0;
    check(rtio_stats(srv_.get(), nsp.c_str(), &sockets, &rooms));
    return {sockets, rooms};
  }
  void add_namespace(const std::string &nsp, bool middleware = false) {
    check(rtio_add_namespace(srv_.get(), nsp.c_str(), middleware));
  }
  /// Re-reads the TLS files (see rtio_reload_tls).
  void reload_tls() { check(rtio_reload_tls(srv_.get())); }
  /// Stops serving (allowed from the handler); destroying the Server also does it.
  void stop() { check(rtio_server_stop(srv_.get())); }
  rtio_server *raw() const noexcept { return srv_.get(); }

 private:
  static void trampoline(const rtio_event *ev, void *user) {
    try {
      (*static_cast<Handler *>(user))(Event(ev));
    } catch (const std::exception &e) {
      std::fprintf(stderr, "rtio: event handler threw: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "rtio: event handler threw a non-standard exception\n");
    }
  }
  struct Free {
    void operator()(rtio_server *s) const noexcept { rtio_server_free(s); }
  };
  // Declared first so it is destroyed last: the dispatcher may use it until the server is freed.
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<rtio_server, Free> srv_;
};

/// A write-only member of a Redis cluster (rtio_emitter_*): pushes from a program that serves
/// no clients. Every call blocks until Redis took the message; thread-safe.
class Emitter {
 public:
  explicit Emitter(const std::string &url, const std::optional<std::string> &key = std::nullopt,
                   rtio_redis_variant variant = RTIO_REDIS_VARIANT_CLASSIC) {
    rtio_emitter *raw = nullptr;
    check(rtio_emitter_new(url.c_str(), key ? key->c_str() : nullptr, variant, &raw));
    em_.reset(raw);
  }
  /// `to.local` must be false (an emitter has no sockets); `except_sid` is one more exclusion.
  void emit(std::string_view event, std::string_view json = "[]", const Broadcast &to = {},
            const std::vector<Buffer> &attachments = {}) {
    detail::Opts opts(to);
    check(rtio_emitter_emit(em_.get(), &opts.c, std::string(event).c_str(), json.data(), json.size(),
                            attachments.data(), attachments.size()));
  }
  void sockets_join(const std::vector<std::string> &rooms, const Broadcast &which = {}) {
    detail::Opts opts(which);
    auto r = detail::c_strings(rooms);
    check(rtio_emitter_sockets_join(em_.get(), &opts.c, r.data(), r.size()));
  }
  void sockets_leave(const std::vector<std::string> &rooms, const Broadcast &which = {}) {
    detail::Opts opts(which);
    auto r = detail::c_strings(rooms);
    check(rtio_emitter_sockets_leave(em_.get(), &opts.c, r.data(), r.size()));
  }
  void disconnect_sockets(bool close_connection = false, const Broadcast &which = {}) {
    detail::Opts opts(which);
    check(rtio_emitter_disconnect_sockets(em_.get(), &opts.c, close_connection));
  }
  void server_side_emit(std::string_view event, std::string_view json = "[]", const std::string &nsp = "/",
                        const std::vector<Buffer> &attachments = {}) {
    check(rtio_emitter_server_side_emit(em_.get(), nsp.c_str(), std::string(event).c_str(), json.data(),
                                        json.size(), attachments.data(), attachments.size()));
  }
  rtio_emitter *raw() const noexcept { return em_.get(); }

 private:
  struct Free {
    void operator()(rtio_emitter *e) const noexcept { rtio_emitter_free(e); }
  };
  std::unique_ptr<rtio_emitter, Free> em_;
};

}  // namespace rtio

#endif  // RTIO_HPP
