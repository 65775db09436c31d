# ---- the change feed (bench/feed_benchmark.sh runs it) ----
if(TARGET rcache_server)
  add_executable(rcache_feed_bench ${CMAKE_CURRENT_LIST_DIR}/feed_bench.cpp)
  target_link_libraries(rcache_feed_bench PRIVATE rcache Boost::json CLI11::CLI11 rcache_options)
endif()
# Subscription matching at 1,000 to 100,000 subscriptions (Google Benchmark).
find_package(benchmark REQUIRED)
add_executable(rcache_matcher_bench ${CMAKE_CURRENT_LIST_DIR}/matcher_bench.cpp)
target_link_libraries(rcache_matcher_bench PRIVATE rcache_feed_core benchmark::benchmark rcache_options)
rcache_layer(rcache_matcher_bench feed)
