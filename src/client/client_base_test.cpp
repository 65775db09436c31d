// Unit tests of what a client made of connections derives from its parts:
// the combined connection state, and the one policy for callbacks that throw.
#include "client/client_base.hpp"

#include <gtest/gtest.h>
#include <stdexcept>

namespace rcache::detail {
namespace {

using enum connection_state;

TEST(CombinedState, EveryPartAgreeingIsThatState) {
  EXPECT_EQ(combined_state(connecting, {connected, connected}), connected);
  EXPECT_EQ(combined_state(disconnected, {connected}), connected);
  EXPECT_EQ(combined_state(connected, {stopped, stopped}), stopped);
  EXPECT_EQ(combined_state(idle, {idle, idle}), idle);
}

TEST(CombinedState, ShortOfAllUpIsConnectingUntilItHasBeenUp) {
  EXPECT_EQ(combined_state(idle, {connected, connecting}), connecting);
  EXPECT_EQ(combined_state(connecting, {idle, connecting}), connecting);
  EXPECT_EQ(combined_state(connecting, {}), connecting) << "no parts is not up";
  EXPECT_EQ(combined_state(connecting, {connected, disconnected}), disconnected)
      << "a part that is down makes the whole down at once";
  EXPECT_EQ(combined_state(connected, {connected, connecting}), disconnected)
      << "once up, anything short of every part up is down";
  EXPECT_EQ(combined_state(disconnected, {connecting, connecting}), disconnected);
  EXPECT_EQ(combined_state(connected, {connected, stopped}), disconnected);
}

TEST(Report, ACallbackThatThrowsIsCaughtAndTheCallerGoesOn) {
  int calls = 0;
  const std::function<void(int)> throws = [&](int) {
    ++calls;
    throw std::runtime_error("application bug");
  };
  report(throws, 1);
  const std::function<void(int)> throws_other = [&](int) {
    ++calls;
    throw 42;  // not a std::exception either
  };
  report(throws_other, 2);
  report(std::function<void(int)>{}, 3);  // unset: nothing to call
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace rcache::detail
