// What callers see through a failover and a resharding, measured on real
// topologies started here (tests/support: 1 master + 2 replicas + 3
// sentinels with down-after 1000 ms; a 3 + 3 cluster with
// cluster-node-timeout 1000 ms), through rcache's blocking client:
//
//   sentinel / cluster: one writer thread SETs numbered keys (on the doomed
//     master's slots, for the cluster) back to back; the master is killed
//     with SIGKILL; `unavailable_s` is the time from the kill to the first
//     write acknowledged after it, `promoted_s` the time until the topology
//     itself names the new master (the fixture polls the sentinels / nodes),
//     `detect_s` the configured detection time (down-after / node-timeout).
//     After the writer stops, every acknowledged key is read back from the
//     new master: the ones missing are `acked_writes_lost` (Redis
//     replicates asynchronously: what the old master acknowledged in its
//     last moments may never have reached the replica).
//   reshard: a reader/writer thread on keys over every slot while
//     `redis-cli --cluster reshard` moves `--reshard-slots` slots (with their
//     keys) between two masters; `reshard_errors` counts the errors callers
//     saw.
//
// Prints a summary on stderr and one JSON object on stdout.
// Usage: rcache_failover_report [--runs N] [--reshard-slots N]
#include <rcache/blocking_client.hpp>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "redis_cluster.hpp"
#include "sentinel_topology.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using rcache::blocking_client;
using rcache::client_config;
using rcache::endpoint;

double seconds(clock_type::duration d) {
  return std::chrono::duration<double>(d).count();
}

client_config tuned(client_config cfg) {
  cfg.connect_timeout = 500ms;
  cfg.command_timeout = 500ms;
  cfg.health_check_interval = 500ms;
  cfg.reconnect_backoff_initial = 20ms;
  cfg.reconnect_backoff_max = 200ms;
  return cfg;
}

// A writer that SETs keys[i % n] = <seq> back to back and remembers every
// acknowledged write (key -> last acknowledged seq) and the time of each
// acknowledgement after `mark`.
class writer {
 public:
  writer(client_config cfg, std::vector<std::string> keys)
      : redis_(std::move(cfg)), keys_(std::move(keys)) {
    thread_ = std::thread([this] { run(); });
  }
  ~writer() { stop(); }

  void mark() {
    std::lock_guard lock(mu_);
    mark_ = clock_type::now();
    first_after_mark_.reset();
  }
  std::optional<clock_type::time_point> first_ack_after_mark() {
    std::lock_guard lock(mu_);
    return first_after_mark_;
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // key -> value of its last acknowledged write
  std::map<std::string, std::string> acked() {
    std::lock_guard lock(mu_);
    return acked_;
  }
  long errors() const { return errors_.load(); }
  long writes() const { return writes_.load(); }

 private:
  void run() {
    for (std::uint64_t seq = 1; !stop_.load(); ++seq) {
      const auto& key = keys_[seq % keys_.size()];
      const auto value = std::to_string(seq);
      const auto sent = clock_type::now();
      auto r = redis_.command("SET", key, value);
      ++writes_;
      if (!r || r->is_error()) {
        ++errors_;
        continue;
      }
      std::lock_guard lock(mu_);
      acked_[key] = value;
      if (mark_ && sent >= *mark_ && !first_after_mark_) first_after_mark_ = clock_type::now();
    }
  }
  blocking_client redis_;
  std::vector<std::string> keys_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<long> errors_{0}, writes_{0};
  std::mutex mu_;
  std::optional<clock_type::time_point> mark_;
  std::optional<clock_type::time_point> first_after_mark_;
  std::map<std::string, std::string> acked_;
};

struct outcome {
  double unavailable_s = 0;
  double promoted_s = 0;
  double detect_s = 0;  // configured: down-after / cluster-node-timeout
  long lost = 0;
  long errors = 0;
  long writes = 0;
};

// Kill, wait for the promotion, wait for the first acknowledged write,
// then let the writer run a little longer and count the lost writes.
template <class Kill, class Promote, class ReadBack>
outcome measure(writer& w, Kill kill, Promote promote, ReadBack read_back) {
  std::this_thread::sleep_for(500ms);  // steady traffic before the fault
  w.mark();
  const auto killed = clock_type::now();
  kill();
  promote();
  const auto promoted = clock_type::now();
  const auto limit = clock_type::now() + 30s;
  while (!w.first_ack_after_mark() && clock_type::now() < limit) std::this_thread::sleep_for(5ms);
  const auto first = w.first_ack_after_mark();
  std::this_thread::sleep_for(300ms);
  w.stop();
  outcome o;
  o.unavailable_s = first ? seconds(*first - killed) : -1;
  o.promoted_s = seconds(promoted - killed);
  for (const auto& [key, value] : w.acked()) {
    if (read_back(key) != value) ++o.lost;
  }
  o.errors = w.errors();
  o.writes = w.writes();
  return o;
}

outcome sentinel_run() {
  rcache::test::sentinel_topology t;
  client_config cfg;
  for (const auto& a : t.sentinel_addresses()) {
    cfg.sentinels.push_back(endpoint{.host = a.host, .port = a.port});
  }
  cfg.sentinel_master = t.master_name();
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("w:" + std::to_string(i));
  writer w(tuned(cfg), keys);
  const auto old_master = t.master_port();
  std::uint16_t new_master = 0;
  auto o = measure(
      w, [&] { t.kill_server(t.server_index(old_master)); },
      [&] { new_master = t.wait_for_failover(old_master); },
      [&](const std::string& key) {
        return t.server_command(t.server_index(new_master), {"GET", key}).text;
      });
  o.detect_s = seconds(t.options().down_after);
  return o;
}

client_config cluster_config(const rcache::test::redis_cluster& c) {
  client_config cfg;
  for (std::size_t i = 0; i < c.size(); ++i) {
    cfg.cluster_nodes.push_back(endpoint{.host = c.host(), .port = c.port(i)});
  }
  return tuned(cfg);
}

outcome cluster_run() {
  rcache::test::redis_cluster c;
  const auto doomed = c.master_ports().front();
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 500; ++i) {
    auto k = "w:" + std::to_string(i);
    if (c.key_owner(k) == doomed) keys.push_back(std::move(k));
  }
  writer w(cluster_config(c), keys);
  std::uint16_t promoted = 0;
  auto o = measure(
      w, [&] { c.kill(c.index_of(doomed)); }, [&] { promoted = c.wait_for_failover(doomed); },
      [&](const std::string& key) {
        return c.command(c.index_of(promoted), {"GET", key}).text;
      });
  o.detect_s = seconds(c.options().node_timeout);
  return o;
}

long reshard_run(int slots, long& ops) {
  rcache::test::redis_cluster c;
  blocking_client redis(cluster_config(c));
  std::atomic<bool> stop{false};
  std::atomic<long> errors{0}, done{0};
  std::thread traffic([&] {
    for (int i = 0; !stop.load(); i = (i + 1) % 2000) {
      const auto k = "r:" + std::to_string(i);
      auto w = redis.command("SET", k, i);
      auto r = redis.command("GET", k);
      done += 2;
      if (!w || w->is_error()) ++errors;
      if (!r || r->str != std::to_string(i)) ++errors;
    }
  });
  const auto masters = c.master_ports();
  c.reshard(masters[0], masters[1], slots);
  stop = true;
  traffic.join();
  ops = done.load();
  return errors.load();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rcache failover report: what callers see through failovers and a resharding"};
  int runs = 1;
  int reshard_slots = 1000;
  app.add_option("--runs", runs, "failovers of each kind (the figures are their medians)")
      ->check(CLI::Range(1, 20));
  app.add_option("--reshard-slots", reshard_slots, "slots moved in the resharding run")
      ->check(CLI::Range(1, 16384));
  CLI11_PARSE(app, argc, argv);
  try {
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    // The runs of one kind of failover.
    struct series {
      const char* name = "";
      std::vector<double> unavailable{}, promoted{};
      double detect = 0;
      long errors = 0, writes = 0;
      void add(const outcome& o, int run, long& lost) {
        std::fprintf(stderr, "%s run %d: unavailable %.3f s, promoted after %.3f s, %ld lost\n",
                     name, run, o.unavailable_s, o.promoted_s, o.lost);
        unavailable.push_back(o.unavailable_s);
        promoted.push_back(o.promoted_s);
        detect = o.detect_s;
        lost += o.lost;
        errors += o.errors;
        writes += o.writes;
      }
    };
    series sentinel{"sentinel"}, cluster{"cluster"};
    long lost = 0;
    for (int i = 0; i < runs; ++i) {
      sentinel.add(sentinel_run(), i + 1, lost);
      cluster.add(cluster_run(), i + 1, lost);
    }
    long reshard_ops = 0;
    const long reshard_errors = reshard_run(reshard_slots, reshard_ops);
    std::fprintf(stderr, "reshard: %d slots moved under %ld operations, %ld errors\n",
                 reshard_slots, reshard_ops, reshard_errors);

    // Seconds with millisecond precision (Boost.JSON would print 2.219E0).
    std::printf(
        "{\"sentinel_unavailable_s\":%.3f,\"sentinel_promoted_s\":%.3f,"
        "\"sentinel_detect_s\":%.3f,\"cluster_unavailable_s\":%.3f,"
        "\"cluster_promoted_s\":%.3f,\"cluster_detect_s\":%.3f,\"acked_writes_lost\":%ld,"
        "\"reshard_errors\":%ld,\"reshard_slots\":%d,\"reshard_ops\":%ld,"
        "\"sentinel_write_errors\":%ld,\"sentinel_writes\":%ld,"
        "\"cluster_write_errors\":%ld,\"cluster_writes\":%ld,\"runs\":%d}\n",
        median(sentinel.unavailable), median(sentinel.promoted), sentinel.detect,
        median(cluster.unavailable), median(cluster.promoted), cluster.detect, lost, reshard_errors,
        reshard_slots, reshard_ops, sentinel.errors, sentinel.writes, cluster.errors,
        cluster.writes, runs);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "failover report: %s\n", e.what());
    return 1;
  }
}
