// Client configuration: where Redis is, how to authenticate, and the limits
// and deadlines the connection keeps.
//
// parse_url() accepts the URL forms Redis tools use:
//   redis://[[user]:password@]host[:port][/db][?option=value&...]
//   rediss://...                      (TLS, certificate verification on)
//   unix://[[user]:password@]/path/to/redis.sock[?db=N&...]
//   redis-sentinel://[[user]:password@]host[:port][,host[:port]...][/db]
//       [?master=NAME&sentinel_password=...&prefer_replica=true][#NAME]
//       (sentinels, port 26379 by default; the credentials and db are the
//       master's; rediss-sentinel:// for TLS to the master)
//   redis-cluster://[[user]:password@]host[:port][,host[:port]...][?...]
//       (seed nodes, port 6379 by default; db must be 0; rediss-cluster://)
// Options: db, client_name, connect_timeout_ms, timeout_ms, ca_file,
// cert_file, key_file, server_name, verify (true|false; true by default).
//
// Threading: plain values.
#pragma once

#include <rcache/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace rcache {

/// One Redis server address.
struct endpoint {
  enum class transport : std::uint8_t { tcp, unix_socket };
  transport kind = transport::tcp;
  std::string host = "127.0.0.1";  // tcp
  std::uint16_t port = 6379;       // tcp
  std::string path{};              // unix_socket
  bool tls = false;

  /// "host:port" or the socket path, for messages.
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const endpoint&, const endpoint&) = default;
};

struct tls_options {
  /// Verify the server's certificate chain and name. Off only on request.
  bool verify_peer = true;
  /// CA bundle (PEM). Empty: the system's default trust store.
  std::string ca_file;
  /// Client certificate and key (PEM) for servers that require them.
  std::string cert_file;
  std::string key_file;
  /// Name to verify and send as SNI. Empty: the endpoint's host.
  std::string server_name;
};

/// A change in a client's connections, for an operator's log. Reported
/// once per transition, never per request: a connection that keeps failing
/// for the same reason is reported once, then again when the reason
/// changes or it connects.
struct connection_event {
  enum class kind : std::uint8_t {
    connected,         // the first connection
    lost,              // an established connection dropped (`ec` says why)
    connect_failed,    // attempts fail (not an authentication refusal)
    auth_failed,       // the server refused the credentials, or the handshake for good
    reconnected,       // connected again after `lost` or `connect_failed`
    topology_changed,  // another master (Sentinel), or the cluster's slot map changed
  };
  kind what = kind::connected;
  /// "host:port" or the unix socket path; a cluster's first seed for a
  /// slot-map change.
  std::string server{};
  boost::system::error_code ec{};
  /// One line for humans; never holds a password.
  std::string message{};
  /// Which connection of a client over several executors (0 otherwise).
  std::size_t connection = 0;
};

/// The name of a kind ("lost", ...).
[[nodiscard]] std::string_view to_string(connection_event::kind k) noexcept;

struct client_config {
  endpoint server;
  std::string username;  // empty: "default" when a password is set
  std::string password;  // never logged or printed
  int db = 0;
  std::string client_name = "rcache";
  tls_options tls;

  /// TCP connect + TLS + HELLO/AUTH/SELECT must finish within this.
  std::chrono::milliseconds connect_timeout{2000};
  /// Default deadline of a request (request::options::timeout overrides).
  std::chrono::milliseconds command_timeout{5000};
  /// A PING is sent when nothing was read for this long; a PING that gets no
  /// answer within the same interval closes the connection. Zero: off.
  std::chrono::milliseconds health_check_interval{2000};
  /// Reconnect backoff: exponential from `initial` to `max`, full jitter.
  std::chrono::milliseconds reconnect_backoff_initial{50};
  std::chrono::milliseconds reconnect_backoff_max{2000};

  /// RESP3 server-assisted client-side caching: every handshake (also after
  /// a reconnect) sends CLIENT TRACKING ON, so invalidation pushes
  /// (`invalidate [keys]`, or null after FLUSHDB / FLUSHALL) arrive on this
  /// connection's push handler. `tracking_noloop` adds NOLOOP: no
  /// invalidations for keys this connection modified itself.
  bool client_tracking = false;
  bool tracking_noloop = false;

  /// Backpressure: requests (and their bytes) waiting to be written. Past
  /// either limit a new request fails at once with error::queue_full.
  std::size_t max_queued_requests = 100'000;
  std::size_t max_queued_bytes = 64u * 1024 * 1024;
  /// While dispatching a buffer of replies, write out what the resumed
  /// callers submitted after every this many replies (at least 1), so Redis
  /// works on the next batch while the client finishes this one. Measured
  /// best at 8 by bench/client_vs_redis_benchmark.sh.
  std::size_t flush_after_replies = 8;
  /// How often a retryable request may be re-sent after connection losses.
  int max_retries = 2;
  /// Largest bulk string accepted in a reply.
  std::size_t max_reply_bulk_length = 512u * 1024 * 1024;

  /// Redis Sentinel: when `sentinels` is not empty, the client asks them
  /// for the address of `sentinel_master` before every connection attempt
  /// (instead of using `server`), and accepts the server only when ROLE
  /// says master. `server` then only supplies the transport options (tls).
  /// Credentials: `sentinel_username` / `sentinel_password` for the
  /// sentinels; username / password above for the master.
  std::vector<endpoint> sentinels{};
  std::string sentinel_master{};
  std::string sentinel_username{};
  std::string sentinel_password{};  // never logged or printed
  /// Reads from replicas: connect to a replica of `sentinel_master` (the
  /// master when none is healthy); see sentinel_options::prefer_replica.
  /// Writes on such a client get READONLY error replies.
  bool sentinel_prefer_replica = false;

  /// Redis Cluster: when `cluster_nodes` is not empty the client is a
  /// cluster client (`sentinels` are then ignored). The nodes are seeds: the slot map is
  /// read from any of them (CLUSTER SHARDS, or CLUSTER SLOTS before Redis
  /// 7) and kept fresh after MOVED, connection losses and every
  /// `cluster_refresh_interval`. `server` then only supplies the transport
  /// options (tls); every other setting applies to each node connection.
  std::vector<endpoint> cluster_nodes{};
  std::chrono::milliseconds cluster_refresh_interval{30'000};

  /// Told of every connection_event, on the strand of the connection it is
  /// about: a cluster's or a pool's connections may call it at the same
  /// time, so it must be thread-safe. Keep it short and never wait for this
  /// client; what it throws is caught and dropped.
  std::function<void(const connection_event&)> on_event{};
};

/// Parses a redis://, rediss://, unix://, redis-sentinel:// or
/// redis-cluster:// URL into a configuration. Errors: error::invalid_url;
/// describe_url_error says what is wrong and where.
[[nodiscard]] result<client_config> parse_url(std::string_view url);

/// Why parse_url refuses `url`, for a person ("unknown option 'timeout' in
/// the query (known: ...)", "port '99999' is not a number from 1 to
/// 65535"); empty when it parses. Never quotes a password.
[[nodiscard]] std::string describe_url_error(std::string_view url);

/// The configuration with the password replaced by "***", as a URL.
[[nodiscard]] std::string redacted_url(const client_config& cfg);

}  // namespace rcache
