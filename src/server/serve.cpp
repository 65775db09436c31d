// `rcache serve` from start to exit; see serve.hpp.
//
// The embedded redis-server is owned by one supervisor thread: it starts the
// server, checks every 200 ms that it still runs, restarts it when it died,
// and stops it at the end. Keeping every start and the final stop on that
// one long-lived thread matters: the child is bound to the thread that
// spawned it (PR_SET_PDEATHSIG), so it dies with rcache, never before.
#include "server/serve.hpp"

#include <rcache/blocking_client.hpp>
#include <rcache/feed.hpp>
#include <rcache/version.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/system_error.hpp>
#include <condition_variable>
#include <csignal>
#include <future>
#include <mutex>
#include <sys/resource.h>
#include <thread>

#include "embedded/redis_process.hpp"
#include "feed/hub.hpp"
#include "feed/keyspace.hpp"
#include "server/feed_protocol.hpp"
#include "server/gateway.hpp"
#include "server/http_server.hpp"
#include "server/log.hpp"

namespace rcache::server {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// ---- the embedded redis-server ----------------------------------------------------

class embedded_redis {
 public:
  // Starts the server on the supervisor thread and returns once it answers;
  // throws embedded::start_error when it cannot.
  explicit embedded_redis(const gateway_config& cfg) {
    embedded::process_options o;
    o.executable = cfg.redis_executable;
    o.dir = cfg.data_dir;
    // SWAPDB sends clients no invalidation (Redis 7.0), so the near cache
    // could not see it; nothing of rcache's needs it.
    // Keyspace notifications: writes made straight into Redis reach the
    // change feed's subscribers too.
    o.config = {{"appendonly", "yes"},
                {"appendfsync", "everysec"},
                {"notify-keyspace-events", std::string(feed::keyspace_flags)},
                {"save", "3600 1 300 100"},
                {"rename-command", "SWAPDB \"\""}};
    if (!cfg.embedded_password.empty()) {
      o.config.push_back({"requirepass", embedded::config_quote(cfg.embedded_password)});
      o.admin_password = cfg.embedded_password;
    }
    std::promise<void> started;
    auto ready = started.get_future();
    thread_ = std::thread([this, o = std::move(o), &started]() mutable {
      try {
        process_.emplace(std::move(o));
        process_->start();
        socket_ = process_->unix_socket_path().string();
        started.set_value();
      } catch (...) {
        process_.reset();
        started.set_exception(std::current_exception());
        return;
      }
      supervise();
    });
    try {
      ready.get();
    } catch (...) {
      thread_.join();
      throw;
    }
  }

  ~embedded_redis() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  [[nodiscard]] const std::string& socket_path() const { return socket_; }

 private:
  void supervise() {
    std::unique_lock lock(mutex_);
    auto backoff = 200ms;
    while (!wake_.wait_for(lock, backoff, [this] { return stopping_; })) {
      lock.unlock();
      if (!process_->running()) {
        const auto status = process_->last_wait_status().value_or(-1);
        log::warn("the embedded redis-server exited; restarting it",
                  {{"wait_status", status}, {"log_tail", process_->log_tail(5)}});
        try {
          process_->start();
          log::info("the embedded redis-server runs again", {{"pid", process_->pid()}});
          backoff = 200ms;
        } catch (const std::exception& e) {
          log::error("restarting the embedded redis-server failed", {{"error", e.what()}});
          backoff = std::min<std::chrono::milliseconds>(backoff * 2, 5s);
        }
      }
      lock.lock();
    }
    lock.unlock();
    const bool clean = process_->stop();
    log::info("the embedded redis-server stopped", {{"clean", clean}});
  }

  std::thread thread_;
  std::optional<embedded::redis_process> process_;
  std::string socket_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

// ---- shutdown ---------------------------------------------------------------------

// Waits (on the first I/O thread) until no connection is open or the
// deadline passed, then closes what is left and calls `then`.
void await_drained(http_server& srv, std::shared_ptr<asio::steady_timer> timer,
                   std::chrono::steady_clock::time_point deadline, std::function<void()> then) {
  if (srv.open_connections() == 0 || std::chrono::steady_clock::now() >= deadline) {
    if (srv.open_connections() != 0) {
      log::warn("shutdown deadline reached; closing the remaining connections",
                {{"open", srv.open_connections()}});
      srv.close_all();
    }
    return then();
  }
  timer->expires_after(10ms);
  timer->async_wait([&srv, timer, deadline, then = std::move(then)](boost::system::error_code) {
    await_drained(srv, timer, deadline, then);
  });
}

// ---- Redis connection events --------------------------------------------------------

// One log line per transition of a Redis connection (client_config::on_event):
// an outage, a refused password or a failover shows in the log once, not as
// a 503 per request. Messages carry addresses and Redis' reasons, never a
// password.
void log_connection_event(const connection_event& e) {
  boost::json::object fields{{"event", to_string(e.what)},
                             {"server", e.server},
                             {"connection", e.connection},
                             {"detail", e.message}};
  if (e.ec) fields["error"] = e.ec.message();
  switch (e.what) {
    case connection_event::kind::connected:
      return log::info("connected to Redis", std::move(fields));
    case connection_event::kind::lost:
      return log::warn("the Redis connection was lost", std::move(fields));
    case connection_event::kind::connect_failed:
      return log::warn("cannot connect to Redis; retrying", std::move(fields));
    case connection_event::kind::auth_failed:
      return log::error("Redis refused the connection's credentials or handshake; retrying",
                        std::move(fields));
    case connection_event::kind::reconnected:
      return log::warn("the Redis connection is back", std::move(fields));
    case connection_event::kind::topology_changed:
      return log::warn("the Redis topology changed", std::move(fields));
  }
}

// ---- the process -------------------------------------------------------------------

// Lifts the open-file limit to its hard limit, as Redis does: every client
// connection (feed subscribers above all) is a descriptor, and the default
// soft limit (often 1024) is far below server.max_connections.
void raise_open_file_limit() {
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur >= nofile.rlim_max) return;
  const auto before = nofile.rlim_cur;
  nofile.rlim_cur = nofile.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    log::info("raised the open-file limit", {{"from", static_cast<std::uint64_t>(before)},
                                             {"to", static_cast<std::uint64_t>(nofile.rlim_cur)}});
  }
}

// ---- the change feed ---------------------------------------------------------------

// The feed's hub on the first I/O thread, rendering the gateway's JSON; its
// readers connect as the cache does, without logging the connection's
// events a second time.
std::unique_ptr<feed::hub> make_feed_hub(asio::io_context& ctx, client& commands,
                                         client_config reader,
                                         const gateway_config::feed_settings& f) {
  reader.on_event = nullptr;
  feed::renderer render{.change = [](const feed::change& c, std::string_view epoch,
                                     bool with_value) { return change_json(c, epoch, with_value); },
                        .channel_message =
                            [](std::string_view channel, std::string_view payload) {
                              return channel_message_json(channel, payload);
                            }};
  feed::hub_options o{.max_subscriptions_per_connection = f.max_subscriptions};
  o.db = reader.db;
  auto hub = std::make_unique<feed::hub>(ctx.get_executor(), commands, std::move(reader),
                                         feed::shard_layout(f.log.prefix, f.log.shards),
                                         std::move(render), std::move(o));
  // Whether writes made straight into Redis will be seen, said once.
  hub->check_direct_writes([](std::string message, bool seen) {
    if (seen) {
      log::info("change feed: " + message);
    } else {
      log::warn("change feed: " + message);
    }
  });
  return hub;
}

// Runs an I/O thread's loop. An exception thrown by a completion handler
// leaves io_context::run(); on its own it would end the thread and with it
// the process (every connection, and the embedded Redis). Input cannot cause
// one (the request parser and the API never throw on bad bytes): what is
// left is a bug or an allocation failure, logged, and the loop carries on.
void run_io_thread(asio::io_context& ctx) {
  for (;;) {
    try {
      ctx.run();
      return;
    } catch (const std::exception& e) {
      log::error("an exception escaped an I/O handler; the thread carries on",
                 {{"what", e.what()}});
    } catch (...) {
      log::error("an exception escaped an I/O handler; the thread carries on");
    }
  }
}

}  // namespace

std::string describe_direct_writes(const gateway_config& cfg) {
  if (!cfg.feed.enabled) return "change feed: off (feed.enabled = false)";
  if (!cfg.redis) {
    return "change feed: the embedded Redis runs with notify-keyspace-events '" +
           std::string(feed::keyspace_flags) +
           "': writes made straight into it reach feed subscribers";
  }
  auto c = *cfg.redis;
  c.client_name = "rcache-config-check";
  blocking_client redis(c);
  auto reply = redis.command("CONFIG", "GET", "notify-keyspace-events");
  std::optional<std::string> flags;
  std::string error;
  if (!reply) {
    error = "Redis did not answer: " + reply.error().message();
  } else if (reply->is_error()) {
    error = reply->str;
  } else if (reply->is_aggregate() && reply->elements.size() >= 2) {
    flags = reply->elements[1].str;
  } else {
    error = "an unexpected reply";
  }
  return "change feed: " + feed::judge_keyspace_events(flags, error).message;
}

int serve(const loaded_config& loaded) {
  const auto& cfg = loaded.config;
  // A closed stdout (a log pipe that went away) must not kill the server;
  // sockets already send with MSG_NOSIGNAL.
  std::signal(SIGPIPE, SIG_IGN);
  log::setup(cfg.log_level, cfg.access_log);
  log::info("rcache starting", {{"version", version_string},
                                {"listen", cfg.listen_host + ":" + std::to_string(cfg.listen_port)},
                                {"threads", cfg.threads},
                                {"redis", cfg.redis ? describe_target(*cfg.redis)
                                                    : "embedded (" + cfg.data_dir.string() + ")"}});
  for (const auto& w : loaded.warnings()) log::warn(w);
  raise_open_file_limit();

  std::optional<embedded_redis> embedded;
  cache_options copts = cfg.cache;
  if (cfg.redis) {
    copts.redis = *cfg.redis;
  } else {
    try {
      embedded.emplace(cfg);
    } catch (const std::exception& e) {
      log::error("cannot start the embedded redis-server", {{"error", e.what()}});
      return 1;
    }
    log::info("embedded redis-server ready", {{"socket", embedded->socket_path()}});
    copts.redis.server.kind = endpoint::transport::unix_socket;
    copts.redis.server.path = embedded->socket_path();
    copts.redis.password = cfg.embedded_password;
    copts.redis.command_timeout = cfg.command_timeout;
    copts.redis.connect_timeout = cfg.connect_timeout;
    copts.redis.health_check_interval = cfg.health_check_interval;
  }
  copts.redis.client_name = "rcache-serve";
  copts.redis.on_event = log_connection_event;
  // The change log sees every write of the cache (the feed's source).
  if (cfg.feed.enabled) {
    auto log_opts = cfg.feed.log;
    // Encrypted values must not reach the log in plaintext.
    if (!copts.encryption_keys.empty()) log_opts.value_max_bytes = 0;
    copts.observer = std::make_shared<change_log>(log_opts);
  }

  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::io_context*> raw;
  for (unsigned i = 0; i < cfg.threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    raw.push_back(contexts.back().get());
  }
  using guard_t = asio::executor_work_guard<asio::io_context::executor_type>;
  std::vector<guard_t> guards;
  for (auto* c : raw) guards.emplace_back(c->get_executor());

  std::unique_ptr<cache> cache;
  try {
    // per_thread: one Redis connection per I/O thread, so a request's Redis
    // round trip stays on the thread of its HTTP connection; shared: one
    // connection on the first thread, which every thread hands requests to.
    std::vector<asio::any_io_executor> executors{raw[0]->get_executor()};
    if (cfg.connection_per_thread) {
      for (std::size_t i = 1; i < raw.size(); ++i) executors.push_back(raw[i]->get_executor());
    }
    cache = cache::create(std::move(executors), copts);
  } catch (const std::exception& e) {
    log::error("invalid cache configuration", {{"error", e.what()}});
    return 1;
  }
  // Sessions share the cache's connection, unless each write waits for a
  // replica: WAIT holds back every later command of its connection, so the
  // cache's reads must not queue behind it.
  std::unique_ptr<client> session_client;
  if (cfg.sessions.durability == session_durability::replica) {
    session_client = std::make_unique<client>(raw[0]->get_executor(), copts.redis);
  }
  auto sessions = std::make_unique<session_store>(session_client ? *session_client : cache->redis(),
                                                  cfg.sessions);
  std::unique_ptr<feed::hub> feed_hub;
  if (cfg.feed.enabled) feed_hub = make_feed_hub(*raw[0], cache->redis(), copts.redis, cfg.feed);
  gateway gw(*cache, sessions.get(), raw[0]->get_executor(),
             {.max_namespaces = cfg.max_namespaces,
              .monitoring = cfg.monitoring,
              .max_response_bytes = cfg.max_response_bytes,
              .feed = feed_hub.get()});
  http_server srv(raw, gw, cfg);
  std::uint16_t port = 0;
  try {
    port = srv.start();
  } catch (const boost::system::system_error& e) {
    log::error(
        "cannot listen",
        {{"address", cfg.listen_host}, {"port", cfg.listen_port}, {"error", e.code().message()}});
    return 1;
  }
  log::info("listening", {{"address", cfg.listen_host}, {"port", port}});

  asio::signal_set signals(*raw[0], SIGINT, SIGTERM);
  bool stopping = false;
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int sig) {
    if (ec) return;
    if (stopping) {  // a second signal: do not wait any longer
      log::warn("second signal: closing every connection now");
      srv.close_all();
      return;
    }
    stopping = true;
    log::info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                                {"open_connections", srv.open_connections()}});
    signals.async_wait(on_signal);
    srv.drain();
    auto timer = std::make_shared<asio::steady_timer>(*raw[0]);
    await_drained(srv, timer, std::chrono::steady_clock::now() + cfg.shutdown_timeout, [&] {
      signals.cancel();
      srv.stop();                      // the deadline sweeps end with the connections
      if (feed_hub) feed_hub->stop();  // before the client it borrows (this is its thread)
      sessions.reset();                // its sweeper stops before the client it borrows
      session_client.reset();
      cache.reset();  // stops the client: its connection closes on this thread
      guards.clear();
    });
  };
  signals.async_wait(on_signal);

  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < raw.size(); ++i) {
    threads.emplace_back([c = raw[i]] { run_io_thread(*c); });
  }
  run_io_thread(*raw[0]);
  for (auto& t : threads) t.join();
  embedded.reset();
  log::info("rcache stopped");
  log::flush();
  return 0;
}

}  // namespace rcache::server
