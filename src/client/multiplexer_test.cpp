// Unit tests of the connection's multiplexer, without a socket: requests
// queued and written, replies and pushes parsed from byte streams split at
// every offset, pub/sub confirmations, tombstones, queue limits, deadlines
// and what a lost connection does to each request.
#include "client/multiplexer.hpp"

#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <vector>

#include "client/reply_reader.hpp"

namespace rcache::detail {
namespace {

using namespace std::chrono_literals;
const auto t0 = mux_clock::time_point{} + 1h;

pending_ptr make(request r, std::chrono::milliseconds timeout = 1000ms, int retries = 0) {
  return make_pending(std::move(r), {.command_timeout = timeout, .max_retries = retries}, t0);
}

template <class... Args>
pending_ptr command(std::string_view name, const Args&... args) {
  request r;
  r.push(name, args...);
  return make(std::move(r));
}

// Queues `ps` and writes them all in one batch.
void write_all(multiplexer& m, const std::vector<pending_ptr>& ps) {
  for (const auto& p : ps) ASSERT_TRUE(m.enqueue(p));
  std::string buf;
  (void)m.prepare_write(buf, 1 << 20);
}

// What a driver sees from one byte stream: requests in the order they were
// answered, and the pushes it would hand to the application.
struct outcome {
  std::vector<pending_ptr> answered;
  std::vector<value> pushes;
  std::size_t unexpected = 0;
};

// Feeds `bytes` as two reads split at `split`, every value to `m`.
outcome feed(multiplexer& m, std::string_view bytes, std::size_t split) {
  reply_reader reader({}, bytes.size() + 1);
  outcome out;
  for (auto part : {bytes.substr(0, split), bytes.substr(split)}) {
    auto space = reader.space();
    std::memcpy(space.data(), part.data(), part.size());
    reader.commit(part.size());
    boost::system::error_code ec;
    while (auto v = reader.next(ec)) {
      auto taken = m.consume(*v);
      if (taken.what == multiplexer::consumed::kind::push) out.pushes.push_back(std::move(*v));
      if (taken.what == multiplexer::consumed::kind::unexpected) ++out.unexpected;
      if (taken.answered) {
        EXPECT_TRUE(m.retire(*taken.answered));
        out.answered.push_back(taken.answered);
      }
    }
    EXPECT_FALSE(ec) << ec.message();
  }
  return out;
}

std::string push_of(std::string_view kind, std::string_view channel, std::string_view last) {
  return ">3\r\n$" + std::to_string(kind.size()) + "\r\n" + std::string(kind) + "\r\n$" +
         std::to_string(channel.size()) + "\r\n" + std::string(channel) + "\r\n" +
         std::string(last);
}

TEST(Multiplexer, RepliesAndPushesAreMatchedWhereverTheReadsSplit) {
  // A GET; MULTI/SET/EXEC; SUBSCRIBE of two channels then a PING in one
  // request; UNSUBSCRIBE of everything. Pushes come in between: an
  // invalidation, and a message that arrives between two confirmations.
  const std::string bytes =
      "$1\r\nx\r\n"                                   // GET
      ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n"  // push
      "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n" +             // MULTI / SET / EXEC
      push_of("subscribe", "ch1", ":1\r\n") +         // first confirmation
      push_of("message", "ch1", "$2\r\nhi\r\n") +     // push
      push_of("subscribe", "ch2", ":2\r\n") +         // SUBSCRIBE answered
      "+PONG\r\n" +                                   // PING
      push_of("unsubscribe", "ch1", ":1\r\n") +       //
      push_of("unsubscribe", "ch2", ":0\r\n");        // UNSUBSCRIBE answered
  for (std::size_t split = 0; split <= bytes.size(); ++split) {
    multiplexer m;
    request tx;
    tx.push("MULTI").push("SET", "a", "1").push("EXEC");
    request sub;
    sub.push("SUBSCRIBE", "ch1", "ch2").push("PING");
    const std::vector<pending_ptr> ps{command("GET", "a"), make(std::move(tx)),
                                      make(std::move(sub)), command("UNSUBSCRIBE")};
    write_all(m, ps);
    const auto out = feed(m, bytes, split);
    ASSERT_EQ(out.answered.size(), 4u) << "split at " << split;
    for (std::size_t i = 0; i < ps.size(); ++i) EXPECT_EQ(out.answered[i], ps[i]) << split;
    EXPECT_EQ(ps[0]->replies.at(0).str, "x");
    ASSERT_EQ(ps[1]->replies.size(), 3u);
    EXPECT_EQ(ps[1]->replies[1].str, "QUEUED");
    ASSERT_EQ(ps[2]->replies.size(), 2u);
    EXPECT_EQ(ps[2]->replies[0].elements.at(1).str, "ch2") << "the last confirmation";
    EXPECT_EQ(ps[2]->replies[1].str, "PONG");
    ASSERT_EQ(ps[3]->replies.size(), 1u);
    EXPECT_EQ(ps[3]->replies[0].elements.at(2).integer, 0);
    ASSERT_EQ(out.pushes.size(), 2u) << split;
    EXPECT_EQ(out.pushes[0].elements.at(0).str, "invalidate");
    EXPECT_EQ(out.pushes[1].elements.at(2).str, "hi");
    EXPECT_EQ(out.unexpected, 0u);
    EXPECT_TRUE(m.subscribed("subscribe").empty());
    EXPECT_EQ(m.waiting_count(), 0u);
  }
}

TEST(Multiplexer, ARetiredRequestsRepliesAreReadAndDropped) {
  multiplexer m;
  request two;
  two.push("GET", "a").push("GET", "b");
  auto late = make(std::move(two));
  auto next = command("GET", "c");
  write_all(m, {late, next});
  ASSERT_TRUE(m.retire(*late));  // its deadline passed while Redis was busy
  const auto out = feed(m, "$1\r\nA\r\n$1\r\nB\r\n$1\r\nC\r\n", 3);
  ASSERT_EQ(out.answered.size(), 1u);
  EXPECT_EQ(out.answered[0], next);
  EXPECT_EQ(next->replies.at(0).str, "C");
  EXPECT_TRUE(late->replies.empty());
  EXPECT_FALSE(m.retire(*late)) << "a request is retired once";
}

TEST(Multiplexer, AReplyWithNoRequestWaitingIsUnexpected) {
  multiplexer m;
  const auto out = feed(m, "+OK\r\n", 0);
  EXPECT_EQ(out.unexpected, 1u);
  EXPECT_TRUE(out.answered.empty());
}

TEST(Multiplexer, AnErrorReplyAnswersASubscribeAtOnce) {
  multiplexer m;
  auto sub = command("SUBSCRIBE", "a", "b");
  auto ping = command("PING");
  write_all(m, {sub, ping});
  const auto out = feed(m, "-ERR no\r\n+PONG\r\n", 4);
  ASSERT_EQ(out.answered.size(), 2u);
  EXPECT_TRUE(sub->replies.at(0).is_error());
  EXPECT_TRUE(m.subscribed("subscribe").empty());
}

TEST(Multiplexer, UnsolicitedUnsubscribeIsAPushAndForgetsTheChannel) {
  multiplexer m;
  auto sub = command("SSUBSCRIBE", "s1");
  write_all(m, {sub});
  (void)feed(m, push_of("ssubscribe", "s1", ":1\r\n"), 0);
  EXPECT_EQ(m.subscribed("ssubscribe").count("s1"), 1u);
  // The server drops the channel (its slot moved): nothing asked for it.
  const auto out = feed(m, push_of("sunsubscribe", "s1", ":0\r\n"), 5);
  ASSERT_EQ(out.pushes.size(), 1u);
  EXPECT_TRUE(m.subscribed("ssubscribe").empty());
  EXPECT_TRUE(m.restore_subscriptions().empty());
}

TEST(Multiplexer, SubscriptionsAreRestoredInFrontOfTheQueue) {
  multiplexer m;
  request sub;
  sub.push("SUBSCRIBE", "c1", "c2").push("PSUBSCRIBE", "p*");
  auto p = make(std::move(sub));
  write_all(m, {p});
  (void)feed(m,
             push_of("subscribe", "c1", ":1\r\n") + push_of("subscribe", "c2", ":2\r\n") +
                 push_of("psubscribe", "p*", ":3\r\n"),
             7);
  auto queued = command("GET", "k");
  ASSERT_TRUE(m.enqueue(queued));
  auto again = m.restore_subscriptions();
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].command, "SUBSCRIBE");
  EXPECT_EQ(again[0].req.payload(), "*3\r\n$9\r\nSUBSCRIBE\r\n$2\r\nc1\r\n$2\r\nc2\r\n");
  EXPECT_EQ(again[1].command, "PSUBSCRIBE");
  std::vector<pending_ptr> resub;
  for (auto& r : again) resub.push_back(make(std::move(r.req)));
  m.enqueue_front(resub);
  std::string buf;
  const auto batch = m.prepare_write(buf, 1 << 20);
  EXPECT_EQ(batch.requests, 3u);
  EXPECT_EQ(buf.rfind("*3\r\n$9\r\nSUBSCRIBE", 0), 0u) << "restored first";
  const std::string get = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  EXPECT_EQ(buf.substr(buf.size() - get.size()), get) << "what was queued goes last";
}

TEST(Multiplexer, QueueLimitsCountRequestsAndBytesUntilWritten) {
  multiplexer m({.max_queued_requests = 2, .max_queued_bytes = 60});
  auto a = command("GET", "a");  // 20 bytes
  auto b = command("GET", "b");
  auto c = command("GET", "c");
  ASSERT_TRUE(m.enqueue(a));
  ASSERT_TRUE(m.enqueue(b));
  EXPECT_FALSE(m.enqueue(c)) << "a third request";
  EXPECT_FALSE(c->queued);
  EXPECT_TRUE(m.enqueue(c, /*bypass_limits=*/true));
  EXPECT_EQ(m.queued_count(), 3u);
  EXPECT_EQ(m.queued_bytes(), 60u);
  ASSERT_TRUE(m.retire(*c));
  EXPECT_EQ(m.queued_count(), 2u) << "a retired request no longer counts";
  std::string buf;
  (void)m.prepare_write(buf, 1 << 20);
  EXPECT_EQ(m.queued_count(), 0u);
  EXPECT_EQ(m.queued_bytes(), 0u);
  auto big = command("SET", "k", std::string(100, 'x'));
  EXPECT_FALSE(m.enqueue(big)) << "over the byte limit alone";
}

TEST(Multiplexer, AWriteIsBoundedAndSkipsRetiredRequests) {
  multiplexer m;
  auto a = command("GET", "a");
  auto b = command("GET", "b");
  auto c = command("GET", "c");
  for (const auto& p : {a, b, c}) ASSERT_TRUE(m.enqueue(p));
  ASSERT_TRUE(m.retire(*a));
  std::string buf;
  const auto first = m.prepare_write(buf, 1);  // one request reaches the bound
  EXPECT_EQ(first.requests, 1u);
  EXPECT_EQ(buf, "*2\r\n$3\r\nGET\r\n$1\r\nb\r\n");
  EXPECT_TRUE(b->written);
  EXPECT_TRUE(m.has_queued());
  buf.clear();
  const auto second = m.prepare_write(buf, 1 << 20);
  EXPECT_EQ(second.commands, 1u);
  m.mark_unsent(second);
  EXPECT_FALSE(b->unsent);
  EXPECT_TRUE(c->unsent);
}

TEST(Multiplexer, ALostConnectionRequeuesWhatMayBeSentAgain) {
  multiplexer m;
  const auto one = [](std::string_view name, std::string_view key, int retries) {
    request r;
    r.push(name, key);
    return make(std::move(r), 1000ms, retries);
  };
  auto reader = one("GET", "r", 1);  // read-only: retryable
  auto writer = one("INCR", "n", 1);
  auto unsent = one("INCR", "u", 0);
  write_all(m, {reader, writer});
  ASSERT_TRUE(m.enqueue(unsent));
  std::string buf;
  m.mark_unsent(m.prepare_write(buf, 1 << 20));
  request::options no_wait;
  no_wait.wait_for_connection = false;
  request impatient_req(no_wait);
  impatient_req.push("GET", "i");
  auto impatient = make(std::move(impatient_req));
  auto patient = command("GET", "p");
  ASSERT_TRUE(m.enqueue(impatient));
  ASSERT_TRUE(m.enqueue(patient));

  auto lost = m.connection_lost(/*may_retry=*/true);
  EXPECT_EQ(lost.retried, 2u);
  ASSERT_EQ(lost.written, std::vector<pending_ptr>{writer}) << "not idempotent";
  ASSERT_EQ(lost.queued, std::vector<pending_ptr>{impatient});
  for (const auto& p : {writer, impatient}) EXPECT_TRUE(m.retire(*p));
  EXPECT_EQ(reader->retries_left, 0);
  EXPECT_EQ(unsent->retries_left, 0) << "never sent: its budget is untouched";
  EXPECT_EQ(m.waiting_count(), 0u);
  EXPECT_EQ(m.queued_count(), 3u);
  buf.clear();
  EXPECT_EQ(m.prepare_write(buf, 1 << 20).requests, 3u);
  EXPECT_EQ(buf.rfind("*2\r\n$3\r\nGET\r\n$1\r\nr\r\n", 0), 0u) << "the retried read first";

  // Budgets spent, the INCR now sent once: nothing may go again.
  auto again = m.connection_lost(/*may_retry=*/true);
  EXPECT_EQ(again.written, (std::vector<pending_ptr>{reader, unsent, patient}));
  EXPECT_EQ(again.retried, 0u);
  EXPECT_FALSE(m.has_queued());
}

TEST(Multiplexer, AStoppedClientRetriesNothing) {
  multiplexer m;
  request r;
  r.push("GET", "k");
  auto p = make(std::move(r), 1000ms, /*retries=*/5);
  write_all(m, {p});
  auto lost = m.connection_lost(/*may_retry=*/false);
  EXPECT_EQ(lost.written, std::vector<pending_ptr>{p});
  EXPECT_EQ(lost.retried, 0u);
}

TEST(Multiplexer, DeadlinesExpireEarliestFirstAndSkipRetiredRequests) {
  multiplexer m;
  const auto timed = [](std::string_view key, std::chrono::milliseconds timeout) {
    request r(request::options{.timeout = timeout});
    r.push("GET", key);
    return make(std::move(r));
  };
  auto slow = timed("slow", 300ms);
  auto fast = timed("fast", 100ms);
  auto gone = timed("gone", 50ms);
  for (const auto& p : {slow, fast, gone}) ASSERT_TRUE(m.enqueue(p));
  EXPECT_EQ(m.next_deadline(), t0 + 50ms);
  ASSERT_TRUE(m.retire(*gone));
  EXPECT_EQ(m.next_deadline(), t0 + 100ms) << "a retired request's deadline is gone";
  EXPECT_TRUE(m.take_expired(t0 + 99ms).empty());
  EXPECT_EQ(m.take_expired(t0 + 400ms), (std::vector<pending_ptr>{fast, slow}));
  EXPECT_EQ(m.next_deadline(), mux_clock::time_point::max());
}

TEST(Multiplexer, TakeAllEmptiesEverything) {
  multiplexer m;
  auto written = command("GET", "w");
  write_all(m, {written});
  auto queued = command("GET", "q");
  ASSERT_TRUE(m.enqueue(queued));
  EXPECT_EQ(m.take_all(), (std::vector<pending_ptr>{written, queued})) << "waiting first";
  EXPECT_FALSE(m.has_queued());
  EXPECT_EQ(m.waiting_count(), 0u);
  EXPECT_EQ(m.next_deadline(), mux_clock::time_point::max());
}

}  // namespace
}  // namespace rcache::detail
