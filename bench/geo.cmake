# ---- geo: cached searches vs uncached, points moving (bench/geo_benchmark.sh) ----
add_executable(rcache_geo_bench ${CMAKE_CURRENT_LIST_DIR}/geo_bench.cpp)
target_link_libraries(rcache_geo_bench PRIVATE rcache CLI11::CLI11 rcache_options)
