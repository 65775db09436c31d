// The Lua scripts behind every session operation (one script, one round
// trip each). Every script starts with the same prelude and the same first
// three arguments:
//   ARGV[1] the bucket's key base "<prefix>{bb}:"   ARGV[2] now (ms)
//   ARGV[3] events kept per stream (XADD MAXLEN ~)
// The rest of each script's arguments are listed in scripts.cpp beside it.
// Keys a script touches besides KEYS are built from ARGV[1]: they carry the
// same hash tag, so they are in the same slot (Redis Cluster) as KEYS.
//
// Threading: the scripts are immutable statics.
#pragma once

#include <rcache/client.hpp>

namespace rcache::session_detail {

const script& create_script();
const script& read_script();  // validate-and-touch, or read
const script& update_script();
const script& rotate_script();
const script& destroy_script();
const script& destroy_all_script();
const script& list_script();
const script& sweep_script();    // one bucket
const script& release_script();  // the sweeper's lease

}  // namespace rcache::session_detail
