# The failover report (bench/failover_report.sh): real Sentinel and Cluster
# topologies from tests/support, driven through rcache's client.
add_executable(rcache_failover_report ${CMAKE_CURRENT_SOURCE_DIR}/failover_report.cpp)
target_link_libraries(rcache_failover_report PRIVATE rcache rcache_test_support CLI11::CLI11
  rcache_options)
