// Unit tests for reading the sentinels' +switch-master events.
#include "client/sentinel_event.hpp"

#include <gtest/gtest.h>

namespace rcache::detail {
namespace {

TEST(SentinelEvent, ASwitchAwayFromTheMasterInUseCounts) {
  const sentinel_address in_use{"127.0.0.1", 7001};
  EXPECT_TRUE(switch_leaves("mymaster 127.0.0.1 7001 127.0.0.1 7002", "mymaster", in_use));
  EXPECT_TRUE(switch_leaves("mymaster 127.0.0.1 7001 127.0.0.2 7001", "mymaster", in_use))
      << "same port, another host";
}

TEST(SentinelEvent, ASwitchToTheMasterInUseDoesNotCount) {
  // Learnt from GET-MASTER-ADDR-BY-NAME before the failover ended.
  EXPECT_FALSE(switch_leaves("mymaster 127.0.0.1 7001 127.0.0.1 7002", "mymaster",
                             sentinel_address{"127.0.0.1", 7002}));
}

TEST(SentinelEvent, OnAReplicaEverySwitchOfOurMasterCounts) {
  EXPECT_TRUE(switch_leaves("mymaster 127.0.0.1 7001 127.0.0.1 7002", "mymaster", std::nullopt));
}

TEST(SentinelEvent, ASwitchOfAnotherMasterDoesNotCount) {
  const sentinel_address in_use{"127.0.0.1", 7001};
  EXPECT_FALSE(switch_leaves("other 127.0.0.1 7001 127.0.0.1 7002", "mymaster", in_use));
  EXPECT_FALSE(switch_leaves("mymaster2 127.0.0.1 7001 127.0.0.1 7002", "mymaster", in_use))
      << "a name that merely starts with ours";
}

TEST(SentinelEvent, AnUnreadableSwitchOfOurMasterCounts) {
  const sentinel_address in_use{"127.0.0.1", 7002};
  for (const char* bad :
       {"mymaster", "mymaster ", "mymaster 127.0.0.1 7001 127.0.0.1",
        "mymaster 127.0.0.1 7001 127.0.0.1 port", "mymaster 127.0.0.1 7001 127.0.0.1 7002 extra",
        "mymaster 127.0.0.1 7001  7002"}) {
    EXPECT_TRUE(switch_leaves(bad, "mymaster", in_use)) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace rcache::detail
