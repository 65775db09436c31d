// Optimistic transactions on a connection of their own
// (include/rcache/transactions.hpp): a queue of jobs, run one at a time by
// callbacks on the client's strand.
#include <rcache/transactions.hpp>

#include <deque>
#include <mutex>

#include "client/completion.hpp"

namespace rcache {

struct transactions::impl : std::enable_shared_from_this<impl> {
  struct job {
    std::vector<std::string> watch;
    request reads;
    plan_fn plan;
    handler h;
    int attempt = 0;
  };

  impl(client::executor_type ex, client_config cfg, int attempts)
      : conn(std::move(ex), std::move(cfg)), max_attempts(attempts < 1 ? 1 : attempts) {}

  client conn;
  const int max_attempts;
  std::mutex mutex;
  std::deque<std::shared_ptr<job>> queue;  // the front one is running
  bool stopped = false;

  // Queues `j`; starts it when nothing else runs.
  void add(std::shared_ptr<job> j) {
    {
      std::lock_guard lock(mutex);
      queue.push_back(j);
      if (queue.size() > 1) return;
    }
    attempt(std::move(j));
  }

  // WATCH with the reads, then MULTI, the plan and EXEC: two requests, the
  // second sent once the first is answered, so the connection holds this
  // transaction's commands only (and a cluster client sends each request,
  // a unit, to the master of its keys).
  void attempt(std::shared_ptr<job> j) {
    ++j->attempt;
    request w;
    w.push_range("WATCH", j->watch);
    w.append(j->reads);  // kept for another attempt
    conn.async_exec(std::move(w),
                    [self = shared_from_this(), j](boost::system::error_code ec, response r) {
                      if (ec) return self->finish(j, command_error{ec, ec.message()});
                      if (r.at(0).is_error()) return self->finish(j, refusal_of(std::move(r[0])));
                      r.erase(r.begin());  // WATCH's OK: the rest are the reads' replies
                      self->planned(j, r);
                    });
  }

  void planned(const std::shared_ptr<job>& j, const response& got) {
    std::optional<request> plan;
    try {
      plan = j->plan(got);
    } catch (const std::exception& e) {
      unwatch();
      return finish(j, command_error{make_error_code(error::invalid_argument), e.what()});
    }
    if (!plan || plan->empty()) {
      unwatch();
      return finish(j, response{});
    }
    request tx;
    tx.push("MULTI").append(*plan).push("EXEC");
    conn.async_exec(
        std::move(tx), [self = shared_from_this(), j](boost::system::error_code ec, response r) {
          if (ec) return self->finish(j, command_error{ec, ec.message()});
          auto& v = r.back();  // EXEC's reply; MULTI's and the QUEUED ones say nothing more
          if (v.is_error()) return self->finish(j, refusal_of(std::move(v)));
          if (v.is_null()) {  // a watched key changed: again, from the reads
            if (j->attempt < self->max_attempts) return self->attempt(j);
            return self->finish(j, command_error{make_error_code(error::transaction_conflict),
                                                 "a watched key changed in each of " +
                                                     std::to_string(j->attempt) + " attempts"});
          }
          self->finish(j, std::move(v.elements));
        });
  }

  void unwatch() {
    request u;
    u.push("UNWATCH");
    conn.async_exec(std::move(u), [](boost::system::error_code, response) {});
  }

  // Completes `j` and starts the next job.
  void finish(const std::shared_ptr<job>& j, reply<response> r) {
    detail::complete_later(conn.get_executor(), std::move(j->h), std::move(r));
    std::shared_ptr<job> next;
    {
      std::lock_guard lock(mutex);
      queue.pop_front();
      if (!queue.empty()) next = queue.front();
    }
    if (next) attempt(std::move(next));
  }
};

transactions::transactions(client::executor_type ex, client_config cfg, int max_attempts)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(cfg), max_attempts)) {}

transactions::~transactions() {
  impl_->conn.stop();  // queued and running transactions fail with client_stopped
}

client& transactions::connection() noexcept {
  return impl_->conn;
}

void transactions::submit(const std::shared_ptr<impl>& i, std::vector<std::string> watch,
                          request reads, plan_fn plan, handler h) {
  // Constructed whole: Boost 1.81's any_completion_handler move assignment
  // recurses.
  i->add(std::make_shared<impl::job>(
      impl::job{std::move(watch), std::move(reads), std::move(plan), std::move(h), 0}));
}

}  // namespace rcache
