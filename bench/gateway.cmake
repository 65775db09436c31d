# ---- gateway benchmarks (bench/gateway_vs_redis_benchmark.sh runs them) ----
# The allocation counter replaces malloc in its own process: never with the
# sanitizers, which replace it themselves.
if(NOT RCACHE_SANITIZE AND TARGET rcache_server)
  add_executable(rcache_gateway_alloc_bench ${CMAKE_CURRENT_LIST_DIR}/gateway_alloc_bench.cpp)
  target_link_libraries(rcache_gateway_alloc_bench
    PRIVATE rcache rcache_server CLI11::CLI11 rcache_options)
  rcache_layer(rcache_gateway_alloc_bench server)
endif()
