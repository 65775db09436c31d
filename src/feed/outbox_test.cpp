// Unit tests of a feed connection's outbox: its bounds in messages and in
// bytes, each slow-consumer policy when it is full, gap counting, control
// and resume messages (never dropped), and room for resume batches.
#include "feed/outbox.hpp"

#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <vector>

namespace rcache::feed {
namespace {

using strings = std::vector<std::string>;
using enum slow_policy;

frame msg(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

// The coalesce key of `key` in `ns`, as the hub forms it.
std::string ck(std::string_view ns, std::string_view key) {
  std::string k(ns);
  k.push_back('\0');
  k.append(key);
  return k;
}

// Pops everything, in order.
strings drain(outbox& o) {
  strings out;
  while (!o.empty()) {
    out.push_back(*o.front());
    o.pop();
  }
  EXPECT_EQ(o.bytes(), 0u) << "bytes given back as they were popped";
  return out;
}

// A change under `p` whose coalesce key is its text's first letter.
outbox::outcome push(outbox& o, std::string text, slow_policy p) {
  const auto key = ck("ns", text.substr(0, 1));
  return o.push_change(msg(std::move(text)), key, p);
}

TEST(Outbox, QueuesInOrderWithinItsBounds) {
  outbox o({.max_messages = 3, .max_bytes = 100});
  EXPECT_TRUE(o.empty());
  EXPECT_EQ(push(o, "a1", coalesce), outbox::outcome::queued);
  EXPECT_EQ(push(o, "b22", drop_oldest), outbox::outcome::queued);
  EXPECT_EQ(o.push_control(msg("ctl")), outbox::outcome::queued);
  EXPECT_EQ(o.size(), 3u);
  EXPECT_EQ(o.bytes(), 8u);
  EXPECT_EQ(*o.front(), "a1");
  o.pop();
  EXPECT_EQ(o.bytes(), 6u);
  EXPECT_EQ(push(o, "c", close), outbox::outcome::queued);
  EXPECT_EQ(drain(o), (strings{"b22", "ctl", "c"}));
  EXPECT_EQ(o.pending_gap(), 0u);
  EXPECT_EQ(o.dropped_total(), 0u);
  EXPECT_EQ(o.coalesced_total(), 0u);
}

TEST(Outbox, ASameKeyChangeIsQueuedWhileThereIsRoom) {
  outbox o({.max_messages = 3, .max_bytes = 100});
  EXPECT_EQ(push(o, "k1", coalesce), outbox::outcome::queued);
  EXPECT_EQ(push(o, "k2", coalesce), outbox::outcome::queued) << "coalescing is for when full";
  EXPECT_EQ(o.coalesced_total(), 0u);
  EXPECT_EQ(drain(o), (strings{"k1", "k2"}));
}

// ---- drop_oldest ------------------------------------------------------------------

TEST(Outbox, DropOldestWhenFullOfMessages) {
  outbox o({.max_messages = 3, .max_bytes = 1000});
  for (auto s : {"a", "b", "c"}) ASSERT_EQ(push(o, s, drop_oldest), outbox::outcome::queued);
  EXPECT_EQ(push(o, "d", drop_oldest), outbox::outcome::dropped);
  EXPECT_EQ(o.size(), 3u);
  EXPECT_EQ(o.pending_gap(), 1u);
  EXPECT_EQ(push(o, "e", drop_oldest), outbox::outcome::dropped);
  EXPECT_EQ(o.pending_gap(), 2u);
  EXPECT_EQ(o.dropped_total(), 2u);
  EXPECT_EQ(drain(o), (strings{"c", "d", "e"}));

  EXPECT_EQ(o.take_gap(), 2u) << "the marker counts both";
  EXPECT_EQ(o.pending_gap(), 0u);
  EXPECT_EQ(o.take_gap(), 0u);
  EXPECT_EQ(o.dropped_total(), 2u) << "the total is kept";
}

TEST(Outbox, DropOldestWhenFullOfBytes) {
  outbox o({.max_messages = 100, .max_bytes = 10});
  ASSERT_EQ(push(o, "aaaa", drop_oldest), outbox::outcome::queued);
  ASSERT_EQ(push(o, "bbbb", drop_oldest), outbox::outcome::queued);
  EXPECT_EQ(push(o, "cc", drop_oldest), outbox::outcome::queued) << "exactly full";
  EXPECT_EQ(o.bytes(), 10u);
  EXPECT_EQ(push(o, "dddddd", drop_oldest), outbox::outcome::dropped) << "two must go";
  EXPECT_EQ(o.bytes(), 8u);
  EXPECT_EQ(o.pending_gap(), 2u);
  EXPECT_EQ(drain(o), (strings{"cc", "dddddd"}));
}

// ---- coalesce ---------------------------------------------------------------------

TEST(Outbox, CoalesceDropsTheWaitingChangeOfTheSameKeyForTheNewOneAtTheBack) {
  outbox o({.max_messages = 2, .max_bytes = 1000});
  ASSERT_EQ(push(o, "k:v1", coalesce), outbox::outcome::queued);
  ASSERT_EQ(push(o, "m:v1", coalesce), outbox::outcome::queued);
  EXPECT_EQ(push(o, "k:v2", coalesce), outbox::outcome::coalesced);
  EXPECT_EQ(push(o, "m:v2", coalesce), outbox::outcome::coalesced);
  EXPECT_EQ(push(o, "k:version3", coalesce), outbox::outcome::coalesced);
  EXPECT_EQ(o.size(), 2u);
  EXPECT_EQ(o.bytes(), 14u) << "the replaced frames' sizes are given back";
  EXPECT_EQ(o.pending_gap(), 0u) << "nothing the subscriber needs was lost";
  EXPECT_EQ(o.dropped_total(), 0u);
  EXPECT_EQ(o.coalesced_total(), 3u);
  EXPECT_EQ(drain(o), (strings{"m:v2", "k:version3"}))
      << "at the back: positions reach the client in order";
}

TEST(Outbox, CoalesceWhenFullOfBytes) {
  outbox o({.max_messages = 100, .max_bytes = 10});
  ASSERT_EQ(push(o, "kkkk", coalesce), outbox::outcome::queued);
  ASSERT_EQ(push(o, "mmmm", coalesce), outbox::outcome::queued);
  EXPECT_EQ(push(o, "kkkkkk", coalesce), outbox::outcome::coalesced) << "8 - 4 + 6 fits";
  EXPECT_EQ(o.bytes(), 10u);
  EXPECT_EQ(push(o, "k", coalesce), outbox::outcome::coalesced) << "smaller fits too";
  EXPECT_EQ(o.bytes(), 5u);
  EXPECT_EQ(drain(o), (strings{"mmmm", "k"}));
}

TEST(Outbox, CoalesceReplacesTheNewestWaitingChangeOfItsKey) {
  outbox o({.max_messages = 3, .max_bytes = 1000});
  ASSERT_EQ(push(o, "k1", coalesce), outbox::outcome::queued);
  ASSERT_EQ(push(o, "k2", coalesce), outbox::outcome::queued);
  ASSERT_EQ(push(o, "m1", coalesce), outbox::outcome::queued);
  EXPECT_EQ(push(o, "k3", coalesce), outbox::outcome::coalesced);
  // Popping the older change of k leaves the newer one coalescable.
  EXPECT_EQ(*o.front(), "k1");
  o.pop();
  ASSERT_EQ(push(o, "x1", drop_oldest), outbox::outcome::queued);
  EXPECT_EQ(push(o, "k4", coalesce), outbox::outcome::coalesced);
  EXPECT_EQ(drain(o), (strings{"m1", "x1", "k4"})) << "the newest change of k, last";
}

TEST(Outbox, CoalesceWithNothingToReplaceDropsTheOldest) {
  outbox o({.max_messages = 2, .max_bytes = 1000});
  ASSERT_EQ(push(o, "a1", coalesce), outbox::outcome::queued);
  ASSERT_EQ(push(o, "b1", coalesce), outbox::outcome::queued);
  EXPECT_EQ(push(o, "c1", coalesce), outbox::outcome::dropped);
  EXPECT_EQ(o.pending_gap(), 1u);
  // a1 was dropped: a change of a has nothing to replace any more.
  EXPECT_EQ(push(o, "a2", coalesce), outbox::outcome::dropped);
  EXPECT_EQ(o.pending_gap(), 2u);
  // c1, queued after a drop, is coalescable like any other.
  EXPECT_EQ(push(o, "c2", coalesce), outbox::outcome::coalesced);
  EXPECT_EQ(drain(o), (strings{"a2", "c2"}));
  EXPECT_EQ(o.coalesced_total(), 1u);
  EXPECT_EQ(o.dropped_total(), 2u);
}

TEST(Outbox, CoalesceOnlyReplacesCoalescableChanges) {
  outbox o({.max_messages = 2, .max_bytes = 1000});
  ASSERT_EQ(push(o, "k1", drop_oldest), outbox::outcome::queued);
  ASSERT_EQ(push(o, "k2", close), outbox::outcome::queued);
  EXPECT_EQ(push(o, "k3", coalesce), outbox::outcome::dropped)
      << "changes of other policies are not replaced";
  EXPECT_EQ(drain(o), (strings{"k2", "k3"}));

  // Nor a change of the same key in another namespace.
  ASSERT_EQ(o.push_change(msg("a"), ck("ns1", "k"), coalesce), outbox::outcome::queued);
  ASSERT_EQ(o.push_change(msg("b"), ck("ns1", "j"), coalesce), outbox::outcome::queued);
  EXPECT_EQ(o.push_change(msg("c"), ck("ns2", "k"), coalesce), outbox::outcome::dropped);
  EXPECT_EQ(drain(o), (strings{"b", "c"}));
}

TEST(Outbox, CoalesceThatWouldNotFitDropsTheOldestInstead) {
  outbox o({.max_messages = 100, .max_bytes = 10});
  ASSERT_EQ(push(o, "kk", coalesce), outbox::outcome::queued);
  ASSERT_EQ(push(o, "mmmmmmmm", coalesce), outbox::outcome::queued);
  // 10 - 2 + 4 > 10: dropping kk (superseded, not lost) is not enough;
  // the oldest other change makes the rest of the room.
  EXPECT_EQ(push(o, "kkkk", coalesce), outbox::outcome::dropped);
  EXPECT_EQ(o.pending_gap(), 1u) << "only mmmmmmmm is lost";
  EXPECT_EQ(o.coalesced_total(), 1u);
  EXPECT_EQ(o.bytes(), 4u);
  EXPECT_EQ(drain(o), (strings{"kkkk"}));
}

// ---- close ------------------------------------------------------------------------

TEST(Outbox, CloseWhenFull) {
  outbox by_messages({.max_messages = 2, .max_bytes = 1000});
  ASSERT_EQ(push(by_messages, "a", close), outbox::outcome::queued);
  ASSERT_EQ(push(by_messages, "b", close), outbox::outcome::queued);
  EXPECT_EQ(push(by_messages, "a2", close), outbox::outcome::close) << "even for the same key";
  EXPECT_EQ(push(by_messages, "c", close), outbox::outcome::close);
  EXPECT_EQ(by_messages.pending_gap(), 0u);
  EXPECT_EQ(drain(by_messages), (strings{"a", "b"})) << "nothing dropped or replaced";

  outbox by_bytes({.max_messages = 100, .max_bytes = 4});
  ASSERT_EQ(push(by_bytes, "aaa", close), outbox::outcome::queued);
  EXPECT_EQ(push(by_bytes, "b", close), outbox::outcome::queued);
  EXPECT_EQ(push(by_bytes, "c", close), outbox::outcome::close);
  EXPECT_EQ(drain(by_bytes), (strings{"aaa", "b"}));
}

// ---- oversized frames -------------------------------------------------------------------

TEST(Outbox, AFrameLargerThanTheByteBoundIsDroppedUnderEveryPolicy) {
  for (auto p : {coalesce, drop_oldest, close}) {
    outbox o({.max_messages = 10, .max_bytes = 8});
    ASSERT_EQ(push(o, "k1", p), outbox::outcome::queued);
    EXPECT_EQ(push(o, "k23456789", p), outbox::outcome::dropped) << static_cast<int>(p);
    EXPECT_EQ(o.pending_gap(), 1u);
    EXPECT_EQ(o.dropped_total(), 1u);
    EXPECT_EQ(o.coalesced_total(), 0u) << "not even in place of its key's change";
    EXPECT_EQ(drain(o), (strings{"k1"})) << "what waited is kept";
    EXPECT_EQ(push(o, "12345678", p), outbox::outcome::queued) << "exactly the bound";
  }
}

// ---- control messages ------------------------------------------------------------------

TEST(Outbox, ControlMessagesAreNeverDroppedOrReplaced) {
  outbox o({.max_messages = 3, .max_bytes = 1000});
  ASSERT_EQ(push(o, "a", drop_oldest), outbox::outcome::queued);
  ASSERT_EQ(o.push_control(msg("ctl")), outbox::outcome::queued);
  ASSERT_EQ(push(o, "b", drop_oldest), outbox::outcome::queued);
  EXPECT_EQ(push(o, "c", drop_oldest), outbox::outcome::dropped);
  EXPECT_EQ(drain(o), (strings{"ctl", "b", "c"})) << "a went, not the control message";
  EXPECT_EQ(o.take_gap(), 1u);

  // Only control messages waiting: the change goes.
  for (auto s : {"c1", "c2", "c3"}) ASSERT_EQ(o.push_control(msg(s)), outbox::outcome::queued);
  EXPECT_EQ(push(o, "x", drop_oldest), outbox::outcome::dropped);
  EXPECT_EQ(push(o, "c", coalesce), outbox::outcome::dropped) << "a control has no key";
  EXPECT_EQ(push(o, "y", close), outbox::outcome::close);
  EXPECT_EQ(o.pending_gap(), 2u);
  EXPECT_EQ(drain(o), (strings{"c1", "c2", "c3"}));
}

TEST(Outbox, AControlMessageThatDoesNotFitClosesTheConnection) {
  outbox by_messages({.max_messages = 2, .max_bytes = 1000});
  ASSERT_EQ(push(by_messages, "a", drop_oldest), outbox::outcome::queued);
  ASSERT_EQ(by_messages.push_control(msg("c1")), outbox::outcome::queued);
  EXPECT_EQ(by_messages.push_control(msg("c2")), outbox::outcome::close)
      << "no change is dropped to make room for it";
  EXPECT_EQ(by_messages.pending_gap(), 0u);
  EXPECT_EQ(drain(by_messages), (strings{"a", "c1"}));

  outbox by_bytes({.max_messages = 100, .max_bytes = 10});
  ASSERT_EQ(push(by_bytes, "aaaaaaaa", drop_oldest), outbox::outcome::queued);
  EXPECT_EQ(by_bytes.push_control(msg("ccc")), outbox::outcome::close);
  EXPECT_EQ(by_bytes.push_control(msg("cc")), outbox::outcome::queued) << "exactly full";
  EXPECT_EQ(by_bytes.push_control(msg(std::string(11, 'c'))), outbox::outcome::close);

  outbox empty({.max_messages = 100, .max_bytes = 10});
  EXPECT_EQ(empty.push_control(msg(std::string(11, 'c'))), outbox::outcome::close)
      << "larger than the bound itself";
  EXPECT_TRUE(empty.empty());
}

// drop_oldest drops "the oldest waiting message" that may be dropped: a
// control or resume message waiting at the front must not make the newest
// change be dropped in its place while older changes wait behind it.
TEST(Outbox, DroppingLooksPastControlAndResumeMessagesAtTheFront) {
  outbox o({.max_messages = 3, .max_bytes = 1000});
  ASSERT_EQ(o.push_control(msg("ctl")), outbox::outcome::queued);
  ASSERT_EQ(push(o, "a", drop_oldest), outbox::outcome::queued);
  ASSERT_EQ(push(o, "b", drop_oldest), outbox::outcome::queued);
  EXPECT_EQ(push(o, "c", drop_oldest), outbox::outcome::dropped);
  EXPECT_EQ(o.pending_gap(), 1u);
  EXPECT_EQ(drain(o), (strings{"ctl", "b", "c"})) << "the oldest change (a) goes, not the newest";
  (void)o.take_gap();

  o.push_replay(msg("r1"));
  ASSERT_EQ(push(o, "a", coalesce), outbox::outcome::queued);
  ASSERT_EQ(push(o, "b", coalesce), outbox::outcome::queued);
  EXPECT_EQ(push(o, "c", coalesce), outbox::outcome::dropped) << "nothing of c to replace";
  EXPECT_EQ(o.pending_gap(), 1u);
  EXPECT_EQ(drain(o), (strings{"r1", "b", "c"}));
}

// ---- resume batches -------------------------------------------------------------------------

TEST(Outbox, RoomForAResumeBatch) {
  outbox o({.max_messages = 4, .max_bytes = 100});
  EXPECT_TRUE(o.room_for(0, 0));
  EXPECT_TRUE(o.room_for(4, 100));
  EXPECT_FALSE(o.room_for(5, 0));
  EXPECT_FALSE(o.room_for(1, 101));
  ASSERT_EQ(push(o, std::string(10, 'a'), drop_oldest), outbox::outcome::queued);
  ASSERT_EQ(push(o, std::string(10, 'b'), drop_oldest), outbox::outcome::queued);
  EXPECT_TRUE(o.room_for(2, 80));
  EXPECT_FALSE(o.room_for(3, 0));
  EXPECT_FALSE(o.room_for(2, 81));

  o.push_replay(msg(std::string(30, 'r')));
  o.push_replay(msg(std::string(50, 's')));
  EXPECT_EQ(o.size(), 4u);
  EXPECT_EQ(o.bytes(), 100u);
  EXPECT_FALSE(o.room_for(1, 0));
  EXPECT_TRUE(o.room_for(0, 0));
  o.pop();
  EXPECT_TRUE(o.room_for(1, 10));
  EXPECT_FALSE(o.room_for(1, 11));
}

TEST(Outbox, ResumeMessagesAreNeverDropped) {
  outbox o({.max_messages = 3, .max_bytes = 1000});
  ASSERT_EQ(push(o, "a", drop_oldest), outbox::outcome::queued);
  o.push_replay(msg("r1"));
  o.push_replay(msg("r2"));
  EXPECT_EQ(push(o, "b", drop_oldest), outbox::outcome::dropped);
  EXPECT_EQ(drain(o), (strings{"r1", "r2", "b"})) << "a went, not the resume messages";

  // A full queue of them: live changes are dropped, or close the connection.
  for (auto s : {"r1", "r2", "r3"}) o.push_replay(msg(s));
  EXPECT_EQ(push(o, "x", drop_oldest), outbox::outcome::dropped);
  EXPECT_EQ(push(o, "r", coalesce), outbox::outcome::dropped) << "a resume message has no key";
  EXPECT_EQ(push(o, "y", close), outbox::outcome::close);
  EXPECT_EQ(drain(o), (strings{"r1", "r2", "r3"}));
}

}  // namespace
}  // namespace rcache::feed
