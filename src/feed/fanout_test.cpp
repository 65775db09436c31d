// Unit tests of fanout.hpp on real io_contexts, with sinks that record
// what they take: once per sink per message, merged; one post per
// executor; gone sinks skipped; lanes reused.
#include "feed/fanout.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <vector>

namespace rcache::feed {
namespace {

namespace asio = boost::asio;

class recording_sink final : public sink {
 public:
  explicit recording_sink(asio::any_io_executor ex) : ex_(std::move(ex)) {}
  const asio::any_io_executor& executor() const override { return ex_; }
  void subscribed(const std::string&, std::vector<position>, bool) override {}
  void refused(const std::string&, std::string, std::string) override {}
  void unsubscribed(const std::string&) override {}
  void reset(const std::string&, std::string) override {}
  void notice(bool, std::string) override {}
  void take(const frame& f, std::string_view key, slow_policy p) override {
    taken.push_back({*f, std::string(key), p});
  }
  void replay(std::vector<frame>, std::function<void()>) override {}

  struct message {
    std::string body;
    std::string key;
    slow_policy policy;
  };
  std::vector<message> taken;

 private:
  asio::any_io_executor ex_;
};

// Renders "with" or "without", counting the calls.
struct counting_render {
  int with = 0;
  int without = 0;
  std::function<frame(bool)> fn() {
    return [this](bool values) {
      ++(values ? with : without);
      return std::make_shared<const std::string>(values ? "with" : "without");
    };
  }
};

TEST(Fanout, ASinkReachedTwiceTakesOnceWithItsValueUnderTheStrictestPolicy) {
  asio::io_context io;
  fanout out;
  auto a = std::make_shared<recording_sink>(io.get_executor());
  auto seat = out.sit(*a);
  counting_render r;
  out.begin();
  EXPECT_TRUE(out.reach(seat, a, false, slow_policy::coalesce));
  EXPECT_TRUE(out.reach(seat, a, true, slow_policy::close));
  EXPECT_TRUE(out.reach(seat, a, false, slow_policy::drop_oldest));
  out.hand_over(r.fn(), "users\0k");
  EXPECT_TRUE(a->taken.empty()) << "handed over on the sink's executor, not inline";
  EXPECT_EQ(io.run(), 1u);
  ASSERT_EQ(a->taken.size(), 1u);
  EXPECT_EQ(a->taken[0].body, "with");
  EXPECT_EQ(a->taken[0].policy, slow_policy::close);
  EXPECT_EQ(r.with, 1);
  EXPECT_EQ(r.without, 0);

  // The next message starts afresh.
  out.begin();
  EXPECT_TRUE(out.reach(seat, a, false, slow_policy::coalesce));
  out.hand_over(r.fn(), "users\0k");
  io.restart();
  EXPECT_EQ(io.run(), 1u);
  ASSERT_EQ(a->taken.size(), 2u);
  EXPECT_EQ(a->taken[1].body, "without");
  EXPECT_EQ(a->taken[1].policy, slow_policy::coalesce);
}

TEST(Fanout, TheSinksOfOneExecutorShareOnePostAndEachFrameIsRenderedOnce) {
  asio::io_context io1;
  asio::io_context io2;
  fanout out;
  auto a = std::make_shared<recording_sink>(io1.get_executor());
  auto b = std::make_shared<recording_sink>(io1.get_executor());
  auto c = std::make_shared<recording_sink>(io2.get_executor());
  auto sa = out.sit(*a);
  auto sb = out.sit(*b);
  auto sc = out.sit(*c);
  EXPECT_EQ(sa.lane, sb.lane);
  EXPECT_NE(sa.lane, sc.lane);
  EXPECT_EQ(out.lanes(), 2u);
  counting_render r;
  out.begin();
  out.reach(sa, a, true, slow_policy::coalesce);
  out.reach(sb, b, false, slow_policy::coalesce);
  out.reach(sc, c, true, slow_policy::coalesce);
  out.hand_over(r.fn(), "k");
  EXPECT_EQ(io1.run(), 1u) << "one post for both sinks of io1";
  EXPECT_EQ(io2.run(), 1u);
  ASSERT_EQ(a->taken.size(), 1u);
  ASSERT_EQ(b->taken.size(), 1u);
  ASSERT_EQ(c->taken.size(), 1u);
  EXPECT_EQ(a->taken[0].body, "with");
  EXPECT_EQ(b->taken[0].body, "without");
  EXPECT_EQ(c->taken[0].key, "k");
  EXPECT_EQ(r.with, 2) << "once per lane that needs it";
  EXPECT_EQ(r.without, 1);
}

TEST(Fanout, AGoneSinkIsSkippedAndAnEmptiedLaneIsReused) {
  asio::io_context io1;
  asio::io_context io2;
  fanout out;
  auto a = std::make_shared<recording_sink>(io1.get_executor());
  auto sa = out.sit(*a);
  std::weak_ptr<sink> gone = a;
  a.reset();
  counting_render r;
  out.begin();
  EXPECT_FALSE(out.reach(sa, gone, true, slow_policy::coalesce));
  out.hand_over(r.fn(), "k");
  EXPECT_EQ(io1.run(), 0u) << "nothing to post";
  EXPECT_EQ(r.with + r.without, 0);
  out.leave(sa);
  EXPECT_EQ(out.lanes(), 0u);
  auto c = std::make_shared<recording_sink>(io2.get_executor());
  EXPECT_EQ(out.sit(*c).lane, sa.lane) << "the free lane, for another executor";
  EXPECT_EQ(out.lanes(), 1u);
}

}  // namespace
}  // namespace rcache::feed
