# ---- near cache (L1) benchmarks ----
# rcache_near_cache_bench: hit latency/throughput against a mutex-guarded
# std::unordered_map (Google Benchmark). rcache_hit_ratio: replays seeded zipf
# traces against the near cache and a plain LRU, prints JSON.
find_package(benchmark REQUIRED)

add_executable(rcache_near_cache_bench ${CMAKE_CURRENT_LIST_DIR}/near_cache_bench.cpp)
target_link_libraries(rcache_near_cache_bench PRIVATE rcache_near benchmark::benchmark rcache_options)
rcache_layer(rcache_near_cache_bench near)

add_executable(rcache_hit_ratio ${CMAKE_CURRENT_LIST_DIR}/hit_ratio.cpp)
target_link_libraries(rcache_hit_ratio PRIVATE rcache_near rcache_options)
rcache_layer(rcache_hit_ratio near)
