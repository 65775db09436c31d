// rcache_feed_bench: the change feed's fan-out against Redis's own, with
// the same number of subscribers and the same payload (bench/
// feed_benchmark.sh runs it):
//   --mode feed     N WebSocket subscribers of `rcache serve`'s /v1/feed,
//                   fed by writers that PUT keys through the gateway;
//   --mode pubsub   N plain Redis connections in SUBSCRIBE, fed by PUBLISH.
// Scenarios: `shared` (every subscriber watches one prefix / one channel:
// each write reaches all of them) and `disjoint` (subscriber i watches key
// i / channel i: each write reaches one). Writes go out at a fixed rate
// (open loop); each carries its send time (µs since the epoch) as its
// value, and subscribers measure delivery latency from it.
// With --cpu-pid (repeatable) it measures the CPU time those processes
// (the fan-out: the gateway and its Redis, or Redis alone) spent from the
// first write to the end of the run, and that time per delivered message.
// With --mode feed it also measures the gateway's memory per idle
// connection (its RSS before and after the subscribers connect, from
// /proc/<pid>/status) and, with --resume, the changes a subscriber lost
// across a disconnect (it resumes with its positions).
// Prints one JSON object.
//
// Everything runs on one thread, like redis-benchmark.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

struct options {
  std::string mode = "feed";
  std::string scenario = "shared";
  int subscribers = 10'000;
  double rate = 20;  // writes per second
  double seconds = 10;
  std::uint16_t gateway_port = 0;
  int gateway_pid = 0;
  std::uint16_t redis_port = 0;
  int writers = 4;
  int connect_concurrency = 256;
  bool resume = false;
  std::vector<int> cpu_pids;
};

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

long rss_kb(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// CPU time (user + system) the processes have used, in ms.
double cpu_ms(const std::vector<int>& pids) {
  static const double tick_ms = 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (int pid : pids) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold spaces), from field 3:
    // utime and stime are fields 14 and 15.
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string skipped;
    for (int i = 3; i <= 13; ++i) rest >> skipped;
    double utime = 0;
    double stime = 0;
    rest >> utime >> stime;
    total += (utime + stime) * tick_ms;
  }
  return total;
}

// Delivery latencies in µs, and the count.
struct tally {
  std::vector<std::int64_t> latencies;
  std::uint64_t delivered = 0;
  std::int64_t first_us = 0;
  std::int64_t last_us = 0;
  void add(std::int64_t sent_us) {
    const auto t = now_us();
    if (delivered++ == 0) first_us = t;
    last_us = t;
    // A sample of every delivery is plenty for percentiles (and bounded).
    if (latencies.size() < 5'000'000) latencies.push_back(t - sent_us);
  }
  double percentile_ms(double p) {
    if (latencies.empty()) return -1;
    auto k = static_cast<std::size_t>(p * static_cast<double>(latencies.size() - 1));
    std::nth_element(latencies.begin(), latencies.begin() + static_cast<long>(k), latencies.end());
    return static_cast<double>(latencies[k]) / 1000.0;
  }
};

// The number after `"value":"` in a change message (the send time).
std::int64_t sent_of(std::string_view msg) {
  constexpr std::string_view tag = "\"value\":\"";
  const auto at = msg.find(tag);
  if (at == std::string_view::npos) return -1;
  return std::strtoll(msg.data() + at + tag.size(), nullptr, 10);
}

// ---- the feed's subscribers ------------------------------------------------------

using ws_t = websocket::stream<beast::tcp_stream>;

asio::awaitable<std::unique_ptr<ws_t>> open_ws(std::uint16_t port) {
  auto ex = co_await asio::this_coro::executor;
  auto ws = std::make_unique<ws_t>(ex);
  auto [ec] = co_await beast::get_lowest_layer(*ws).async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), use_tuple);
  if (ec) co_return nullptr;
  auto [hec] = co_await ws->async_handshake("127.0.0.1", "/v1/feed", use_tuple);
  if (hec) co_return nullptr;
  co_return ws;
}

asio::awaitable<bool> send_text(ws_t& ws, std::string text) {
  ws.text(true);
  auto [ec, n] = co_await ws.async_write(asio::buffer(text), use_tuple);
  co_return !ec;
}

asio::awaitable<std::optional<std::string>> read_text(ws_t& ws, beast::flat_buffer& b) {
  b.consume(b.size());
  auto [ec, n] = co_await ws.async_read(b, use_tuple);
  if (ec) co_return std::nullopt;
  const auto d = b.cdata();
  co_return std::string(static_cast<const char*>(d.data()), d.size());
}

struct feed_run {
  const options& o;
  tally t;
  int subscribed = 0;
  int failed = 0;
  std::vector<std::unique_ptr<ws_t>> conns;
};

asio::awaitable<void> feed_subscriber(feed_run& run, int i) {
  auto ws = co_await open_ws(run.o.gateway_port);
  if (!ws) {
    ++run.failed;
    co_return;
  }
  json::object sub{{"op", "subscribe"}, {"id", "s"}, {"ns", "fb"}, {"values", true}};
  if (run.o.scenario == "shared") {
    sub["prefix"] = "k";
  } else {
    sub["key"] = "k" + std::to_string(i);
  }
  co_await send_text(*ws, json::serialize(sub));
  beast::flat_buffer b;
  auto ack = co_await read_text(*ws, b);
  if (!ack || ack->find("\"subscribed\"") == std::string::npos) {
    ++run.failed;
    co_return;
  }
  ++run.subscribed;
  auto* raw = ws.get();
  run.conns.push_back(std::move(ws));
  for (;;) {
    auto m = co_await read_text(*raw, b);
    if (!m) co_return;
    if (auto sent = sent_of(*m); sent > 0) run.t.add(sent);
  }
}

// One keep-alive HTTP connection PUTting keys at its share of the rate.
asio::awaitable<void> feed_writer(const options& o, int w, std::int64_t start_us,
                                  std::int64_t end_us, std::uint64_t* sent) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket s(ex);
  auto [ec] = co_await s.async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), o.gateway_port), use_tuple);
  if (ec) co_return;
  asio::steady_timer timer(ex);
  const double interval_us = 1e6 * o.writers / o.rate;
  asio::streambuf in;
  for (std::int64_t n = 0;; ++n) {
    const auto due = start_us + static_cast<std::int64_t>(interval_us * static_cast<double>(n) +
                                                          interval_us * w / o.writers);
    if (due >= end_us) break;
    const auto wait = due - now_us();
    if (wait > 0) {
      timer.expires_after(std::chrono::microseconds(wait));
      co_await timer.async_wait(use_tuple);
    }
    const auto key = o.scenario == "shared"
                         ? "k" + std::to_string(w)
                         : "k" + std::to_string((n * o.writers + w) % o.subscribers);
    const auto body = std::to_string(now_us());
    const std::string req = "PUT /v1/ns/fb/keys/" + key +
                            " HTTP/1.1\r\nHost: b\r\nContent-Type: text/plain\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer(req), use_tuple);
    if (wec) co_return;
    // The answer: its head, then its Content-Length bytes.
    auto [rec, rn] = co_await asio::async_read_until(s, in, "\r\n\r\n", use_tuple);
    if (rec) co_return;
    std::string head(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + rn);
    in.consume(rn);
    std::size_t length = 0;
    if (auto at = head.find("Content-Length: "); at != std::string::npos) {
      length = std::stoul(head.substr(at + 16));
    }
    if (in.size() < length) {
      auto [bec, bn] =
          co_await asio::async_read(s, in, asio::transfer_exactly(length - in.size()), use_tuple);
      if (bec) co_return;
    }
    in.consume(length);
    ++*sent;
  }
}

// ---- Redis pub/sub ---------------------------------------------------------------

std::string resp(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

struct pubsub_run {
  const options& o;
  tally t;
  int subscribed = 0;
  int failed = 0;
};

// One RESP2 array of bulk strings and integers at `pos` in `in`: its
// elements, `pos` moved past it; nullopt (pos kept) when it is not whole yet.
std::optional<std::vector<std::string_view>> resp_frame(std::string_view in, std::size_t& pos) {
  auto line = [&](std::size_t& at) -> std::optional<std::string_view> {
    const auto end = in.find("\r\n", at);
    if (end == std::string_view::npos) return std::nullopt;
    auto l = in.substr(at, end - at);
    at = end + 2;
    return l;
  };
  std::size_t at = pos;
  auto head = line(at);
  if (!head || head->empty() || (*head)[0] != '*') return std::nullopt;
  const long n = std::strtol(head->data() + 1, nullptr, 10);
  std::vector<std::string_view> out;
  for (long i = 0; i < n; ++i) {
    auto l = line(at);
    if (!l || l->empty()) return std::nullopt;
    if ((*l)[0] == '$') {
      const auto len = static_cast<std::size_t>(std::strtol(l->data() + 1, nullptr, 10));
      if (in.size() < at + len + 2) return std::nullopt;
      out.push_back(in.substr(at, len));
      at += len + 2;
    } else {
      out.push_back(l->substr(1));
    }
  }
  pos = at;
  return out;
}

// A SUBSCRIBE connection, read in large pieces and parsed in place (as the
// WebSocket side is read by Beast): the client must not be what limits
// Redis's side of the comparison.
asio::awaitable<void> pubsub_subscriber(pubsub_run& run, int i) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket s(ex);
  auto [ec] = co_await s.async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), run.o.redis_port), use_tuple);
  if (ec) {
    ++run.failed;
    co_return;
  }
  const auto channel = run.o.scenario == "shared" ? std::string("k") : "k" + std::to_string(i);
  // Built outside the co_await (GCC 12 and braced lists in coroutines).
  const auto subscribe = resp(std::vector<std::string>{"SUBSCRIBE", channel});
  auto [wec, wn] = co_await asio::async_write(s, asio::buffer(subscribe), use_tuple);
  if (wec) co_return;
  std::string acc;
  std::vector<char> buf(64 * 1024);
  bool confirmed = false;
  for (;;) {
    auto [rec, n] = co_await s.async_read_some(asio::buffer(buf), use_tuple);
    if (rec) co_return;
    acc.append(buf.data(), n);
    std::size_t pos = 0;
    while (auto f = resp_frame(acc, pos)) {
      if (f->size() != 3) continue;
      if ((*f)[0] == "subscribe" && !confirmed) {
        confirmed = true;
        ++run.subscribed;
      } else if ((*f)[0] == "message") {
        run.t.add(std::strtoll(std::string((*f)[2]).c_str(), nullptr, 10));
      }
    }
    acc.erase(0, pos);
  }
}

asio::awaitable<void> publisher(const options& o, std::int64_t start_us, std::int64_t end_us,
                                std::uint64_t* sent) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket s(ex);
  auto [ec] = co_await s.async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), o.redis_port), use_tuple);
  if (ec) co_return;
  asio::steady_timer timer(ex);
  const double interval_us = 1e6 / o.rate;
  asio::streambuf in;
  for (std::int64_t n = 0;; ++n) {
    const auto due = start_us + static_cast<std::int64_t>(interval_us * static_cast<double>(n));
    if (due >= end_us) break;
    const auto wait = due - now_us();
    if (wait > 0) {
      timer.expires_after(std::chrono::microseconds(wait));
      co_await timer.async_wait(use_tuple);
    }
    const auto channel =
        o.scenario == "shared" ? std::string("k") : "k" + std::to_string(n % o.subscribers);
    const auto publish =
        resp(std::vector<std::string>{"PUBLISH", channel, std::to_string(now_us())});
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer(publish), use_tuple);
    if (wec) co_return;
    auto [rec, rn] = co_await asio::async_read_until(s, in, "\r\n", use_tuple);
    if (rec) co_return;
    in.consume(rn);
    ++*sent;
  }
}

// ---- resume ------------------------------------------------------------------------

std::string resume_message(const json::array& since) {
  return json::serialize(
      json::object{{"op", "subscribe"}, {"id", "r"}, {"ns", "fbr"}, {"since", since}});
}

// A subscriber leaves, `count` changes are written, it comes back with its
// positions: how many of them it did not get.
asio::awaitable<void> resume_check(const options& o, int count, long* lost) {
  *lost = -1;
  std::map<std::string, json::value> since;
  auto note = [&](const json::object& p) {
    const std::string offset(p.at("offset").as_string());
    since[offset.substr(0, offset.find(':'))] =
        json::object{{"epoch", p.at("epoch")}, {"offset", p.at("offset")}};
  };
  beast::flat_buffer b;
  {
    auto ws = co_await open_ws(o.gateway_port);
    if (!ws) co_return;
    co_await send_text(*ws, R"({"op":"subscribe","id":"r","ns":"fbr"})");
    auto ack = co_await read_text(*ws, b);
    if (!ack) co_return;
    const auto parsed = json::parse(*ack);  // alive through the loop below
    for (const auto& p : parsed.at("positions").as_array()) note(p.as_object());
    co_await ws->async_close(websocket::close_code::normal, use_tuple);
  }
  std::uint64_t sent = 0;
  {
    // Sequential PUTs of keys r0.. (one writer, as fast as the gateway answers).
    auto ex = co_await asio::this_coro::executor;
    tcp::socket s(ex);
    auto [ec] = co_await s.async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), o.gateway_port), use_tuple);
    if (ec) co_return;
    asio::streambuf in;
    for (int i = 0; i < count; ++i) {
      const std::string req = "PUT /v1/ns/fbr/keys/r" + std::to_string(i) +
                              " HTTP/1.1\r\nHost: b\r\nContent-Length: 1\r\n\r\nx";
      auto [wec, wn] = co_await asio::async_write(s, asio::buffer(req), use_tuple);
      auto [rec, rn] = co_await asio::async_read_until(s, in, "}", use_tuple);
      if (wec || rec) co_return;
      in.consume(in.size());
      ++sent;
    }
  }
  auto ws = co_await open_ws(o.gateway_port);
  if (!ws) co_return;
  json::array positions;
  for (auto& [shard, p] : since) positions.push_back(p);
  // Built outside the co_await (GCC 12 and braced lists in coroutines).
  auto resubscribe = resume_message(positions);
  co_await send_text(*ws, std::move(resubscribe));
  std::set<std::string> keys;
  while (keys.size() < sent) {
    beast::get_lowest_layer(*ws).expires_after(10s);  // what is not there by then is lost
    auto m = co_await read_text(*ws, b);
    if (!m) break;
    auto v = json::parse(*m).as_object();
    if (v.at("type").as_string() == "reset") break;
    if (v.at("type").as_string() == "change") keys.insert(std::string(v.at("key").as_string()));
  }
  *lost = static_cast<long>(sent) - static_cast<long>(keys.size());
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"rcache change-feed benchmark"};
  app.add_option("--mode", o.mode)->check(CLI::IsMember({"feed", "pubsub"}));
  app.add_option("--scenario", o.scenario)->check(CLI::IsMember({"shared", "disjoint"}));
  app.add_option("-n,--subscribers", o.subscribers)->check(CLI::Range(1, 100'000));
  app.add_option("--rate", o.rate)->check(CLI::Range(0.1, 1e6));
  app.add_option("--seconds", o.seconds)->check(CLI::Range(1.0, 3600.0));
  app.add_option("--gateway-port", o.gateway_port);
  app.add_option("--gateway-pid", o.gateway_pid);
  app.add_option("--redis-port", o.redis_port);
  app.add_option("--writers", o.writers)->check(CLI::Range(1, 64));
  app.add_flag("--resume", o.resume);
  app.add_option("--cpu-pid", o.cpu_pids, "a process whose CPU time is the fan-out's");
  CLI11_PARSE(app, argc, argv);

  asio::io_context io(1);
  const bool feed = o.mode == "feed";
  feed_run frun{o, {}, 0, 0, {}};
  pubsub_run prun{o, {}, 0, 0};
  const long rss_before = feed && o.gateway_pid ? rss_kb(o.gateway_pid) : -1;

  // Connect everyone, a bounded number at a time.
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        asio::steady_timer t(ex);
        for (int i = 0; i < o.subscribers; ++i) {
          while (i - (feed ? frun.subscribed + frun.failed : prun.subscribed + prun.failed) >=
                 o.connect_concurrency) {
            t.expires_after(1ms);
            co_await t.async_wait(use_tuple);
          }
          if (feed) {
            asio::co_spawn(ex, feed_subscriber(frun, i), asio::detached);
          } else {
            asio::co_spawn(ex, pubsub_subscriber(prun, i), asio::detached);
          }
        }
      },
      asio::detached);
  const auto ready = [&] {
    return feed ? frun.subscribed + frun.failed : prun.subscribed + prun.failed;
  };
  while (ready() < o.subscribers) io.run_one_for(100ms);
  const int failed = feed ? frun.failed : prun.failed;
  // Idle: nothing written yet.
  const long rss_after = feed && o.gateway_pid ? rss_kb(o.gateway_pid) : -1;

  std::uint64_t sent = 0;
  const double cpu_before = cpu_ms(o.cpu_pids);
  const auto start_us = now_us() + 100'000;
  const auto end_us = start_us + static_cast<std::int64_t>(o.seconds * 1e6);
  if (feed) {
    for (int w = 0; w < o.writers; ++w) {
      asio::co_spawn(io, feed_writer(o, w, start_us, end_us, &sent), asio::detached);
    }
  } else {
    asio::co_spawn(io, publisher(o, start_us, end_us, &sent), asio::detached);
  }
  // Until a second after the last write.
  io.run_until(std::chrono::steady_clock::now() +
               std::chrono::microseconds(end_us - now_us() + 1'000'000));
  const double cpu_used = cpu_ms(o.cpu_pids) - cpu_before;
  const double run_ms = static_cast<double>(now_us() - start_us) / 1000.0;
  auto& t = feed ? frun.t : prun.t;
  const double span_s = t.delivered > 1 ? static_cast<double>(t.last_us - t.first_us) / 1e6 : 0;
  long lost = -1;
  if (feed && o.resume) {
    bool done = false;
    asio::co_spawn(io, resume_check(o, 1000, &lost), [&](std::exception_ptr) { done = true; });
    io.restart();
    while (!done) io.run_one_for(100ms);
  }
  const std::uint64_t expected =
      o.scenario == "shared" ? sent * static_cast<std::uint64_t>(o.subscribers - failed) : sent;
  json::object out{{"mode", o.mode},
                   {"scenario", o.scenario},
                   {"subscribers", o.subscribers},
                   {"failed_subscribers", failed},
                   {"writes", sent},
                   {"delivered", t.delivered},
                   {"expected", expected},
                   {"msgs_per_sec", span_s > 0 ? static_cast<double>(t.delivered) / span_s : 0},
                   {"p50_ms", t.percentile_ms(0.5)},
                   {"p99_ms", t.percentile_ms(0.99)}};
  if (!o.cpu_pids.empty()) {
    out["cpu_ms"] = cpu_used;
    out["cpu_share"] = run_ms > 0 ? cpu_used / run_ms : 0;
    out["cpu_us_per_msg"] =
        t.delivered > 0 ? 1000.0 * cpu_used / static_cast<double>(t.delivered) : -1.0;
  }
  if (feed) {
    out["rss_kb_before"] = rss_before;
    out["rss_kb_idle"] = rss_after;
    out["rss_kb_per_idle_connection"] =
        rss_before > 0 ? static_cast<double>(rss_after - rss_before) / o.subscribers : -1.0;
    if (o.resume) out["resume_lost"] = lost;
  }
  std::cout << json::serialize(out) << std::endl;
  // Out at once: thousands of connections with reads pending need no
  // orderly teardown.
  std::_Exit(failed == 0 ? 0 : 1);
}
