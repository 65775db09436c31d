# ---- cache benchmarks (bench/cache_benchmarks.sh runs them) ----
add_executable(rcache_cache_bench ${CMAKE_CURRENT_LIST_DIR}/cache_bench.cpp)
target_link_libraries(rcache_cache_bench PRIVATE rcache CLI11::CLI11 rcache_options)
