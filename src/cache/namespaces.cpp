// A cache's namespaces (namespaces.hpp).
#include "cache/namespaces.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <stdexcept>

#include "cache/glob.hpp"

namespace rcache::cache_detail {

using ms = std::chrono::milliseconds;

bool valid_namespace_name(std::string_view name) noexcept {
  if (name.size() > 128) return false;
  for (unsigned char ch : name) {
    if (!std::isalnum(ch) && ch != '_' && ch != '-' && ch != '.' && ch != ':') return false;
  }
  return true;
}

bool ns_state::not_cached(std::string_view key, const std::string& value) const {
  if (value.size() > max_value_size) {
    skipped_size->inc();
    return true;
  }
  if (opts.skip && opts.skip(key, value)) {
    skipped_rule->inc();
    return true;
  }
  return false;
}

ms ns_state::ttl_for(std::string_view key) const {
  for (const auto& r : opts.ttl_rules) {
    if (glob_match(r.pattern, key)) return std::chrono::duration_cast<ms>(r.ttl);
  }
  return default_ttl;
}

void namespace_table::add(std::string name, namespace_options o) {
  if (!valid_namespace_name(name)) {
    throw std::invalid_argument("cache: namespace name '" + name +
                                "' (letters, digits, _ - . : and at most 128 bytes)");
  }
  auto ns = make(name, std::move(o));
  std::unique_lock lock(mutex_);
  map_[std::move(name)] = std::move(ns);
}

std::shared_ptr<const ns_state> namespace_table::find(std::string_view name) {
  {
    std::shared_lock lock(mutex_);
    if (auto it = map_.find(name); it != map_.end()) return it->second;
  }
  auto fresh = make(std::string(name), {});
  std::unique_lock lock(mutex_);
  // The first one made stays.
  return map_.try_emplace(std::string(name), std::move(fresh)).first->second;
}

std::shared_ptr<const ns_state> namespace_table::make(std::string name, namespace_options o) {
  auto ns = std::make_shared<ns_state>();
  ns->prefix = o.prefix ? *o.prefix : (name.empty() ? std::string() : name + ":");
  ns->max_value_size =
      o.max_value_size ? std::min(o.max_value_size, max_value_size_) : max_value_size_;
  ns->default_ttl = std::chrono::duration_cast<ms>(o.ttl.value_or(default_ttl_));
  const std::string label = name.empty() ? "default" : name;
  auto counter = [&](std::string_view metric, std::string_view help, metrics::label_set labels) {
    labels.insert(labels.begin(), {"namespace", label});
    return reg_.counter(metric, help, labels).value();
  };
  constexpr std::string_view hits_help = "Cache hits by namespace and tier";
  constexpr std::string_view skipped_help = "Values not cached, by reason";
  ns->hits_near = counter("rcache_cache_hits_total", hits_help, {{"tier", "near"}});
  ns->hits_redis = counter("rcache_cache_hits_total", hits_help, {{"tier", "redis"}});
  ns->misses = counter("rcache_cache_misses_total", "Cache misses by namespace", {});
  ns->stale_served = counter("rcache_cache_stale_served_total",
                             "Stale values served (stale-on-error, stale-while-revalidate)", {});
  ns->skipped_size = counter("rcache_cache_skipped_total", skipped_help, {{"reason", "too_large"}});
  ns->skipped_rule = counter("rcache_cache_skipped_total", skipped_help, {{"reason", "rule"}});
  ns->loads = counter("rcache_cache_loads_total", "get_or_load loader calls", {});
  ns->tags_invalidated =
      counter("rcache_cache_tag_invalidations_total", "Tags invalidated (their version moved)", {});
  ns->tag_stale = counter("rcache_cache_tag_stale_total",
                          "Entries read as misses because one of their tags was invalidated", {});
  ns->name = std::move(name);
  ns->opts = std::move(o);
  return ns;
}

}  // namespace rcache::cache_detail
